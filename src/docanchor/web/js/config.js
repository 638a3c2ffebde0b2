// @ts-check
/**
 * The page's tunables; tests lower them (through window.DocAnchor.config)
 * to exercise the chunked and paged paths.
 */
export const config = {
  /** Files up to this size go to WebCrypto in one piece. */
  webCryptoMax: 32 * 1024 * 1024,
  /** Slice size for the incremental path. */
  chunkSize: 4 * 1024 * 1024,
  /** The API's maximum page of leaves. */
  leafPageSize: 10000,
  leavesShown: 100,
  batchesShown: 20
};

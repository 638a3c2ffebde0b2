// @ts-check
/**
 * Stamped PDFs ("docanchor stamp, version 1", docs/stamping.md): the
 * original is the file's first N bytes and the receipt lies, unfiltered, at
 * O..O+L. Reads the file through Blob slices; no DOM, no network.
 */

const STAMP_MARKER = "\n%docanchor-stamp/1\n";
const STAMP_RECORD = /\/DocAnchorOriginalLength (0|[1-9][0-9]{0,14}) \/DocAnchorOriginalSHA256 \(([0-9a-f]{64})\) \/DocAnchorReceiptOffset ([1-9][0-9]{0,14}) \/DocAnchorReceiptLength ([1-9][0-9]{0,14})/g;
/** The update is a few KB; the record is in the file's end. */
const STAMP_TAIL = 1024 * 1024;

/**
 * One character per byte, so that offsets in the string are offsets in the bytes.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
function latin1(bytes) {
  const parts = [];
  for (let i = 0; i < bytes.length; i += 0x8000) {
    parts.push(String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + 0x8000))));
  }
  return parts.join("");
}

/**
 * @typedef {{changed: true}} ChangedStamp the file carries a stamp record but was altered after stamping
 * @typedef {{changed?: undefined, originalLength: number, receipt: Uint8Array, recordedSha256: string}} Stamp
 */

/**
 * null (not stamped), {changed: true}, or the stamp: the original's length,
 * the receipt's bytes and the SHA-256 the stamp records.
 * @param {Blob} file
 * @returns {Promise<Stamp | ChangedStamp | null>}
 */
export async function readStamp(file) {
  const head = latin1(new Uint8Array(await file.slice(0, 1024).arrayBuffer()));
  if (head.indexOf("%PDF-") < 0) return null;
  const start = Math.max(0, file.size - STAMP_TAIL);
  const tail = new Uint8Array(await file.slice(start).arrayBuffer());
  const text = latin1(tail);
  const matches = [];
  STAMP_RECORD.lastIndex = 0;
  for (let m = STAMP_RECORD.exec(text); m !== null; m = STAMP_RECORD.exec(text)) matches.push(m);
  for (let i = matches.length - 1; i >= 0; i--) {
    const m = matches[i];
    const n = Number(m[1]), offset = Number(m[3]), length = Number(m[4]);
    if (n < start || text.substr(n - start, STAMP_MARKER.length) !== STAMP_MARKER) continue;
    if (offset < n + STAMP_MARKER.length || offset + length > file.size) continue;
    if (start + m.index < offset + length) continue;
    return {
      originalLength: n,
      receipt: tail.slice(offset - start, offset - start + length),
      recordedSha256: m[2]
    };
  }
  return matches.length ? { changed: true } : null;
}

// @ts-check
/**
 * A file's SHA-256, computed in this browser from a Blob: WebCrypto in one
 * piece when the file is small enough, otherwise slice by slice through
 * sha256.js, never holding more than one slice in memory.
 */

import { config } from "./config.js";
import { Sha256, toHex } from "./sha256.js";

/** @typedef {(done: number, total: number) => void} Progress */

function hasWebCrypto() {
  return typeof crypto !== "undefined" && !!crypto.subtle && typeof crypto.subtle.digest === "function";
}

/**
 * @param {Blob} blob
 * @param {number} [chunkSize]
 * @param {Progress} [onProgress]
 * @returns {Promise<string>} 64 lowercase hex characters
 */
export async function sha256Chunked(blob, chunkSize, onProgress) {
  const size = chunkSize || config.chunkSize;
  const h = new Sha256();
  for (let off = 0; off < blob.size; off += size) {
    const part = await blob.slice(off, Math.min(off + size, blob.size)).arrayBuffer();
    h.update(new Uint8Array(part));
    if (onProgress) onProgress(Math.min(off + size, blob.size), blob.size);
  }
  if (onProgress && blob.size === 0) onProgress(0, 0);
  return toHex(h.digest());
}

/**
 * @param {Blob} blob
 * @returns {Promise<string>}
 */
async function sha256WebCrypto(blob) {
  const buf = await blob.arrayBuffer();
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf)));
}

/**
 * The file's SHA-256 as 64 lowercase hex characters.
 * @param {Blob} blob
 * @param {Progress} [onProgress]
 * @returns {Promise<string>}
 */
export async function hashFile(blob, onProgress) {
  if (hasWebCrypto() && blob.size <= config.webCryptoMax) {
    const digest = await sha256WebCrypto(blob);
    if (onProgress) onProgress(blob.size, blob.size);
    return digest;
  }
  return sha256Chunked(blob, config.chunkSize, onProgress);
}

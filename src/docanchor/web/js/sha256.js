// @ts-check
/**
 * SHA-256 (FIPS 180-4), incremental, and the hex helpers the page shares.
 *
 * WebCrypto has no streaming digest, so large files are read in slices and
 * fed to this implementation; it is also the fallback where crypto.subtle is
 * missing (pages served over plain HTTP off localhost). Pure: no DOM, no
 * network.
 */

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]);
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/**
 * Compresses every whole 64-byte block of data[pos, end) into h; returns the new pos.
 * @param {Int32Array} h
 * @param {Int32Array} w
 * @param {Uint8Array} data
 * @param {number} pos
 * @param {number} end
 * @returns {number}
 */
function compress(h, w, data, pos, end) {
  while (end - pos >= 64) {
    for (let i = 0; i < 16; i++) {
      const j = pos + i * 4;
      w[i] = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let i = 0; i < 64; i++) {
      const t1 = (hh +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    pos += 64;
  }
  return pos;
}

/** An incremental SHA-256: update() any number of times, then digest() once. */
export class Sha256 {
  constructor() {
    this.h = new Int32Array(H0);
    this.w = new Int32Array(64);
    this.buf = new Uint8Array(64);
    this.bufLen = 0;
    /** Bytes hashed so far; exact up to 2^53. */
    this.length = 0;
    this.done = false;
  }

  /**
   * @param {Uint8Array | ArrayBuffer | ArrayLike<number>} input
   * @returns {this}
   */
  update(input) {
    if (this.done) throw new Error("sha256: update after digest");
    const data = input instanceof Uint8Array ? input : new Uint8Array(input);
    const n = data.length;
    let pos = 0;
    this.length += n;
    if (this.bufLen > 0) {
      const take = Math.min(64 - this.bufLen, n);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      pos = take;
      if (this.bufLen < 64) return this;
      compress(this.h, this.w, this.buf, 0, 64);
      this.bufLen = 0;
    }
    pos = compress(this.h, this.w, data, pos, n);
    if (pos < n) {
      this.buf.set(data.subarray(pos), 0);
      this.bufLen = n - pos;
    }
    return this;
  }

  /** @returns {Uint8Array} the 32-byte digest */
  digest() {
    if (this.done) throw new Error("sha256: digest called twice");
    this.done = true;
    const bitsHi = Math.floor(this.length / 0x20000000); // length * 8 / 2^32
    const bitsLo = (this.length % 0x20000000) * 8;
    const pad = new Uint8Array(this.bufLen < 56 ? 64 : 128);
    pad.set(this.buf.subarray(0, this.bufLen), 0);
    pad[this.bufLen] = 0x80;
    const end = pad.length;
    pad[end - 8] = bitsHi >>> 24; pad[end - 7] = bitsHi >>> 16;
    pad[end - 6] = bitsHi >>> 8; pad[end - 5] = bitsHi;
    pad[end - 4] = bitsLo >>> 24; pad[end - 3] = bitsLo >>> 16;
    pad[end - 2] = bitsLo >>> 8; pad[end - 1] = bitsLo;
    compress(this.h, this.w, pad, 0, end);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      out[i * 4] = this.h[i] >>> 24; out[i * 4 + 1] = this.h[i] >>> 16;
      out[i * 4 + 2] = this.h[i] >>> 8; out[i * 4 + 3] = this.h[i];
    }
    return out;
  }
}

/**
 * @param {Uint8Array | ArrayBuffer} bytes
 * @returns {Uint8Array}
 */
export function sha256(bytes) {
  return new Sha256().update(bytes).digest();
}

/** @type {string[]} */
const HEX = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? "0" : "") + i.toString(16));

/**
 * @param {Uint8Array} bytes
 * @returns {string} lowercase hex
 */
export function toHex(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** 64 lowercase hex characters: a SHA-256 digest as the API writes it. */
export const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Lowercase hex to bytes; throws on anything else.
 * @param {unknown} hex
 * @returns {Uint8Array}
 */
export function fromHex(hex) {
  if (typeof hex !== "string" || !/^[0-9a-f]*$/.test(hex) || hex.length % 2) {
    throw new Error("not lowercase hex: " + String(hex));
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

/**
 * Writes the 32 bytes of a hex64 value into target at offset (the caller checked HEX64).
 * @param {string} hex
 * @param {Uint8Array} target
 * @param {number} offset
 */
export function hexInto(hex, target, offset) {
  for (let i = 0; i < 32; i++) target[offset + i] = parseInt(hex.substr(i * 2, 2), 16);
}

/**
 * @param {Uint8Array[]} parts
 * @returns {Uint8Array}
 */
export function concatBytes(parts) {
  let n = 0, at = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

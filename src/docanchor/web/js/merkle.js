// @ts-check
/**
 * RFC 9162 Merkle trees over SHA-256: node hashing and the log's compact
 * ranges (log-v1 section 3). Pure: no DOM, no network.
 */

import { sha256 } from "./sha256.js";

/** Malformed proof input: the proof cannot be checked at all. */
export class ProofError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ProofError";
  }
}

const NODE_PREFIX = 0x01;

/**
 * The interior node hash of RFC 9162: SHA-256(0x01 || left || right).
 * @param {Uint8Array} left
 * @param {Uint8Array} right
 * @returns {Uint8Array}
 */
export function nodeHash(left, right) {
  const block = new Uint8Array(65);
  block[0] = NODE_PREFIX;
  block.set(left, 1);
  block.set(right, 33);
  return sha256(block);
}

/**
 * The number of set bits in a compact range's size: how many hashes stand
 * for the first `size` leaves of a log.
 * @param {number} size
 * @returns {number}
 */
export function compactRangeLength(size) {
  let n = 0;
  for (let x = size; x > 0; x = Math.floor(x / 2)) n += x % 2;
  return n;
}

// ---------------------------------------------------------------------------
// Extending and folding a compact range (log-v1 section 3): the range check.
// ---------------------------------------------------------------------------

/**
 * The compact range at `size + leaves.length`: the leaves appended to the
 * compact range at `size`, equal-sized neighbours merged.
 * @param {Uint8Array[]} compact the compact range at `size`, largest subtree first
 * @param {number} size
 * @param {Uint8Array[]} leaves leaf hashes `size`.. in order
 * @returns {Uint8Array[]}
 */
export function extendCompactRange(compact, size, leaves) {
  if (!Number.isSafeInteger(size) || size < 0) throw new ProofError(`size ${size}`);
  if (compact.length !== compactRangeLength(size)) {
    throw new ProofError(`a compact range at size ${size} has ${compactRangeLength(size)} hashes, not ${compact.length}`);
  }
  const stack = compact.slice();
  for (let i = 0; i < leaves.length; i++) {
    let node = leaves[i];
    // Leaf number s closes one perfect subtree per trailing 1 bit of s.
    for (let s = size + i; s % 2 === 1; s = (s - 1) / 2) {
      node = nodeHash(/** @type {Uint8Array} */ (stack.pop()), node);
    }
    stack.push(node);
  }
  return stack;
}

/**
 * The root of the log whose compact range this is: folded right to left.
 * @param {Uint8Array[]} compact @returns {Uint8Array}
 */
export function foldCompactRange(compact) {
  if (compact.length === 0) return sha256(new Uint8Array(0));
  let root = compact[compact.length - 1];
  for (let j = compact.length - 2; j >= 0; j--) root = nodeHash(compact[j], root);
  return root;
}

// @ts-check
/**
 * RFC 9162 Merkle trees over SHA-256: leaf and node hashing, the root of a
 * list of leaves, inclusion proofs, and the log's compact ranges (log-v1
 * section 3; the auditor view proves consecutive checkpoints consistent by
 * extending one's compact range to the next's root, so the page has no use
 * for consistency proofs). Pure: no DOM, no network.
 *
 * Verification takes raw values, checks every precondition before hashing
 * (sizes are safe integers, index < size, 32-byte digests, exact proof
 * length), computes a root and leaves the comparison to the caller, or
 * compares and throws a RootMismatchError holding both roots.
 */

import { HEX64, hexInto, sha256, toHex } from "./sha256.js";

/** Malformed proof input: the proof cannot be checked at all. */
export class ProofError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ProofError";
  }
}

/** A proof that is well formed but leads to another root. */
export class RootMismatchError extends Error {
  /**
   * @param {Uint8Array} expected
   * @param {Uint8Array} calculated
   */
  constructor(expected, calculated) {
    super("the proof leads to root " + toHex(calculated) + ", not " + toHex(expected));
    this.name = "RootMismatchError";
    this.expected = expected;
    this.calculated = calculated;
  }
}

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/**
 * The leaf hash of RFC 9162: SHA-256(0x00 || data).
 * @param {Uint8Array} data
 * @returns {Uint8Array}
 */
export function leafHash(data) {
  const block = new Uint8Array(data.length + 1);
  block[0] = LEAF_PREFIX;
  block.set(data, 1);
  return sha256(block);
}

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
 * RFC 9162 Merkle Tree Hash over leaf hashes packed 32 bytes apiece.
 * Pairing level by level and promoting an odd last node unchanged gives the
 * same tree as splitting at the largest power of two below n.
 * @param {Uint8Array} leaves
 * @param {number} count
 * @returns {Uint8Array}
 */
export function merkleRoot(leaves, count) {
  if (count === 0) return sha256(new Uint8Array(0));
  let level = leaves, n = count;
  const block = new Uint8Array(65);
  block[0] = NODE_PREFIX;
  while (n > 1) {
    const m = Math.ceil(n / 2);
    const next = new Uint8Array(m * 32);
    for (let i = 0; i + 1 < n; i += 2) {
      block.set(level.subarray(i * 32, i * 32 + 64), 1);
      next.set(sha256(block), (i / 2) * 32);
    }
    if (n % 2 === 1) next.set(level.subarray((n - 1) * 32, n * 32), (m - 1) * 32);
    level = next;
    n = m;
  }
  return level.slice(0, 32);
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

/**
 * The compact range at `size + leaves.length`: the leaf hashes appended to
 * the compact range at `size` (log-v1 section 3), equal-sized neighbours
 * merged. Folding the result gives the root of the log at that size, and
 * extending it again carries the range check on to a later size.
 * @param {Uint8Array[]} compact the compact range at `size`, largest subtree first
 * @param {number} size
 * @param {Uint8Array[]} leaves leaf hashes size, size + 1, ... in order
 * @returns {Uint8Array[]}
 */
export function extendCompactRange(compact, size, leaves) {
  if (!Number.isSafeInteger(size) || size < 0) throw new ProofError("size " + size);
  if (compact.length !== compactRangeLength(size)) {
    throw new ProofError("a compact range at size " + size + " has " + compactRangeLength(size) +
      " hashes, not " + compact.length);
  }
  const stack = compact.slice();
  for (let i = 0; i < leaves.length; i++) {
    let node = leaves[i];
    // Leaf number `s` closes one perfect subtree per trailing 1 bit of s.
    for (let s = size + i; s % 2 === 1; s = (s - 1) / 2) {
      node = nodeHash(/** @type {Uint8Array} */ (stack.pop()), node);
    }
    stack.push(node);
  }
  return stack;
}

/**
 * The root of the log whose compact range this is: folded right to left
 * with the node hash; SHA-256 of nothing for the empty log.
 * @param {Uint8Array[]} compact
 * @returns {Uint8Array}
 */
export function foldCompactRange(compact) {
  if (compact.length === 0) return sha256(new Uint8Array(0));
  let root = compact[compact.length - 1];
  for (let j = compact.length - 2; j >= 0; j--) root = nodeHash(compact[j], root);
  return root;
}

/**
 * log-v1 section 3, range check: the compact range of the log at size
 * `first` (hex, largest subtree first), then `count` leaf hashes packed 32
 * bytes apiece, appended and folded. The result is the root of the log at
 * size first + count.
 * @param {unknown} compact
 * @param {number} first
 * @param {Uint8Array} leaves
 * @param {number} count
 * @returns {Uint8Array}
 */
export function rangeRoot(compact, first, leaves, count) {
  if (!Number.isSafeInteger(first) || first < 0) throw new ProofError("first_index " + first);
  if (!Array.isArray(compact) || compact.length !== compactRangeLength(first)) {
    throw new ProofError("compact_range");
  }
  const stack = compact.map((hex) => {
    if (typeof hex !== "string" || !HEX64.test(hex)) throw new ProofError("compact_range");
    const v = new Uint8Array(32);
    hexInto(hex, v, 0);
    return v;
  });
  const hashes = [];
  for (let i = 0; i < count; i++) hashes.push(leaves.subarray(i * 32, i * 32 + 32));
  return foldCompactRange(extendCompactRange(stack, first, hashes));
}

// --- proofs --------------------------------------------------------------------------

/**
 * @param {unknown} value
 * @param {string} what
 * @returns {bigint}
 */
function checkSize(value, what) {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new ProofError(what + " must be an integer in 0..2^53-1, got " + String(value));
  }
  return BigInt(value);
}

/**
 * @param {unknown} value
 * @param {string} what
 * @returns {Uint8Array}
 */
function checkDigest(value, what) {
  if (!(value instanceof Uint8Array) || value.length !== 32) {
    throw new ProofError(what + " must be 32 bytes");
  }
  return value;
}

/**
 * @param {unknown} proof
 * @returns {Uint8Array[]}
 */
function checkProof(proof) {
  if (!Array.isArray(proof)) throw new ProofError("a proof must be an array of hashes");
  return proof.map((h, i) => checkDigest(h, "proof hash " + i));
}

/** @param {bigint} n */
function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

/** @param {bigint} n */
function bitCount(n) {
  let c = 0;
  for (const ch of n.toString(2)) if (ch === "1") c++;
  return c;
}

/**
 * The exact number of hashes in an inclusion proof of leaf `index` of `size`.
 * @param {bigint} index
 * @param {bigint} size
 * @returns {number}
 */
function inclusionProofSize(index, size) {
  const inner = bitLength(index ^ (size - 1n));
  return inner + bitCount(index >> BigInt(inner));
}

/**
 * RFC 9162 section 2.1.3.2: the root that `proof` leads to from leaf `index`
 * of a tree of `size` leaves. Throws ProofError for malformed input.
 * @param {Uint8Array} leaf the leaf hash
 * @param {number} index
 * @param {number} size
 * @param {Uint8Array[]} proof
 * @returns {Uint8Array}
 */
export function rootFromInclusionProof(leaf, index, size, proof) {
  const i = checkSize(index, "leaf index");
  const n = checkSize(size, "tree size");
  if (i >= n) throw new ProofError("leaf index " + index + " is not below tree size " + size);
  let node = checkDigest(leaf, "leaf hash");
  const path = checkProof(proof);
  const expected = inclusionProofSize(i, n);
  if (path.length !== expected) {
    throw new ProofError(
      "an inclusion proof for leaf " + index + " of " + size + " has " + expected + " hashes, not " + path.length
    );
  }
  // Below the point where the paths to `index` and to the last leaf part, the
  // index bits say on which side each sibling sits; above it, every sibling
  // is a left one (the leaf is on the tree's right border there).
  const inner = bitLength(i ^ (n - 1n));
  for (let level = 0; level < path.length; level++) {
    const sibling = path[level];
    const right = level < inner && ((i >> BigInt(level)) & 1n) === 0n;
    node = right ? nodeHash(node, sibling) : nodeHash(sibling, node);
  }
  return node;
}

/**
 * Returns when `proof` leads from leaf `index` to `root`; throws ProofError
 * or RootMismatchError otherwise.
 * @param {Uint8Array} leaf
 * @param {number} index
 * @param {number} size
 * @param {Uint8Array[]} proof
 * @param {Uint8Array} root
 */
export function verifyInclusion(leaf, index, size, proof, root) {
  const expected = checkDigest(root, "root");
  const calculated = rootFromInclusionProof(leaf, index, size, proof);
  if (toHex(calculated) !== toHex(expected)) throw new RootMismatchError(expected, calculated);
}

// The page's Merkle code against the peer vectors of transparency-dev/merkle
// (tests/data/vectors/) and against trees built here leaf by leaf.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  ProofError,
  RootMismatchError,
  leafHash,
  merkleRoot,
  nodeHash,
  rangeRoot,
  rootFromInclusionProof,
  verifyInclusion,
} from "../../src/docanchor/web/js/merkle.js";
import { sha256, toHex } from "../../src/docanchor/web/js/sha256.js";

const VECTORS = fileURLToPath(new URL("../data/vectors/transparency-dev/", import.meta.url));

/** Every case file under a folder of the peer vectors. */
function cases(kind) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".json")) out.push({ path, data: JSON.parse(readFileSync(path, "utf8")) });
    }
  };
  walk(join(VECTORS, kind));
  return out;
}

const b64 = (s) => new Uint8Array(Buffer.from(s, "base64"));

/** Whether the verifier accepts a case, and the error it threw otherwise. */
function outcome(fn) {
  try {
    fn();
    return null;
  } catch (e) {
    assert.ok(e instanceof ProofError || e instanceof RootMismatchError, String(e));
    return e;
  }
}

test("inclusion proofs: accepted exactly when the peer vectors say so", () => {
  const all = cases("inclusion");
  assert.ok(all.length >= 90, `${all.length} cases`);
  let accepted = 0;
  for (const { path, data: c } of all) {
    const err = outcome(() =>
      verifyInclusion(b64(c.leafHash), c.leafIdx, c.treeSize, (c.proof || []).map(b64), b64(c.root)),
    );
    assert.equal(err === null, !c.wantErr, `${path}: ${err}`);
    if (err === null) accepted++;
  }
  assert.ok(accepted >= 5, `${accepted} accepted`);
});

/** RFC 9162 section 2.1.1, written recursively from the definition. */
function mth(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** RFC 9162 section 2.1.3.1 PATH(m, D[n]). */
function path(m, leaves) {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

const pack = (leaves) => {
  const out = new Uint8Array(leaves.length * 32);
  leaves.forEach((l, i) => out.set(l, i * 32));
  return out;
};

test("merkleRoot, inclusion proofs and compact ranges agree with the definition", () => {
  const leaves = [];
  for (let n = 0; n <= 40; n++) {
    const packed = pack(leaves);
    const root = mth(leaves);
    assert.equal(toHex(merkleRoot(packed, n)), toHex(root), `root of ${n}`);
    for (let m = 0; m < n; m++) {
      assert.equal(toHex(rootFromInclusionProof(leaves[m], m, n, path(m, leaves))), toHex(root), `leaf ${m} of ${n}`);
    }
    // A log of n leaves seen as a compact range at `first` plus the rest.
    for (let first = 0; first <= n; first++) {
      const compact = [];
      let start = 0;
      for (let bit = 2 ** 20; bit >= 1; bit /= 2) {
        if (first & bit) {
          compact.push(toHex(mth(leaves.slice(start, start + bit))));
          start += bit;
        }
      }
      const rest = pack(leaves.slice(first));
      assert.equal(toHex(rangeRoot(compact, first, rest, n - first)), toHex(root), `range ${first}+${n - first}`);
    }
    leaves.push(leafHash(new TextEncoder().encode("leaf " + n)));
  }
});

test("a changed leaf, sibling or size leads elsewhere or is refused", () => {
  const leaves = Array.from({ length: 7 }, (_, i) => leafHash(new Uint8Array([i])));
  const root = mth(leaves);
  const proof = path(3, leaves);
  verifyInclusion(leaves[3], 3, 7, proof, root);
  assert.throws(() => verifyInclusion(leaves[4], 3, 7, proof, root), RootMismatchError);
  const bent = proof.map((h) => h.slice());
  bent[1][0] ^= 1;
  assert.throws(() => verifyInclusion(leaves[3], 3, 7, bent, root), RootMismatchError);
  assert.throws(() => rootFromInclusionProof(leaves[3], 7, 7, proof), ProofError);
  assert.throws(() => rootFromInclusionProof(leaves[3], 3, 7, proof.slice(1)), ProofError);
  assert.throws(() => rootFromInclusionProof(leaves[3], 3, 7, [...proof, root]), ProofError);
  assert.throws(() => rootFromInclusionProof(leaves[3], 3, 2 ** 53, proof), ProofError);
  assert.throws(() => rangeRoot(["00"], 1, new Uint8Array(0), 0), ProofError);
  assert.throws(() => rangeRoot([], 1, new Uint8Array(0), 0), ProofError);
});

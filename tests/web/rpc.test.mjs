// The page's JSON-RPC reading of the user's node, against a node simulated
// from the golden receipts' answers: what is asked, when, and how the
// answers become the facts that steps 5 to 7 check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { decodeUtf8, parseStrictJson } from "../../src/docanchor/web/js/jsonstrict.js";
import { GET_ANCHOR_SELECTOR, decodeAnchorRecord, evaluateReceipt } from "../../src/docanchor/web/js/receipt.js";
import { NodeUnreachableError, readNodeFacts, rpc } from "../../src/docanchor/web/js/rpc.js";

const GOLDEN = fileURLToPath(new URL("../data/receipts/", import.meta.url));
const load = (name) => JSON.parse(readFileSync(join(GOLDEN, "cases", name + ".json"), "utf8"));
const receiptOf = (c) => parseStrictJson(decodeUtf8(new Uint8Array(readFileSync(join(GOLDEN, c.receipt)))));
const URL_ = "http://node.invalid:8545";

const word = (n) => BigInt(n).toString(16).padStart(64, "0");

/** getAnchor's ABI answer for a record (five words; the anchorer right-aligned). */
function encodeRecord(r) {
  if (r === null) return "0x";
  return "0x" + word(r.seq) + word(r.tree_size) + word(r.timestamp) + word(r.block_number) + r.anchorer.slice(2).toLowerCase().padStart(64, "0");
}

/** Replaces fetch with a node answering as the case says; returns the calls made. */
function simulateNode(c) {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    assert.equal(url, URL_);
    const { method, params } = JSON.parse(init.body);
    calls.push({ method, params });
    const answers = {
      eth_chainId: "0x" + c.node.chain_id.toString(16),
      eth_call: encodeRecord(c.node.anchor_record),
      eth_getBlockByNumber: c.node.block_hash === null ? null : { hash: c.node.block_hash },
      eth_blockNumber: "0x" + c.node.head_number.toString(16),
    };
    return new Response(JSON.stringify({ jsonrpc: "2.0", id: 1, result: answers[method] }));
  };
  return calls;
}

const trusted = (c) => c.trust.deployments.map((d) => ({ chain_id: d.chain_id, address: d.contract }));

test("an anchored receipt: the node is asked for the chain, the record, the block and the head", async () => {
  const c = load("valid-confirmed");
  const receipt = receiptOf(c);
  const calls = simulateNode(c);
  const facts = await readNodeFacts(URL_, receipt, trusted(c));
  assert.deepEqual(calls.map((x) => x.method), ["eth_chainId", "eth_call", "eth_getBlockByNumber", "eth_blockNumber"]);
  assert.deepEqual(calls[1].params, [{ to: receipt.anchor.contract, data: "0x" + GET_ANCHOR_SELECTOR + receipt.batch.root }, "latest"]);
  assert.deepEqual(calls[2].params, ["0x" + receipt.anchor.block_number.toString(16), false]);
  assert.equal(facts.chainId, 31337);
  assert.deepEqual(facts.record, { ...c.node.anchor_record, anchorer: c.node.anchor_record.anchorer.toLowerCase() });
  const got = evaluateReceipt(receipt, { documentSha256: null, facts, required: 6, deployments: trusted(c) });
  assert.equal(got.valid, true);
  assert.equal(got.confirmations, c.expect.confirmations);
});

for (const name of ["broken-node-other-chain", "broken-untrusted-contract", "valid-pending"]) {
  test(`${name}: only the chain id is asked`, async () => {
    const c = load(name);
    const calls = simulateNode(c);
    const facts = await readNodeFacts(URL_, receiptOf(c), trusted(c));
    assert.deepEqual(calls.map((x) => x.method), ["eth_chainId"]);
    assert.deepEqual(facts, { chainId: c.node.chain_id, record: null, blockHash: null, head: 0 });
  });
}

for (const name of ["broken-missing-block", "broken-reorganised-block", "broken-unknown-root", "broken-no-record-read"]) {
  test(`${name}: the node's answers give the case's verdict`, async () => {
    const c = load(name);
    const receipt = receiptOf(c);
    simulateNode(c);
    const facts = await readNodeFacts(URL_, receipt, trusted(c));
    const got = evaluateReceipt(receipt, { documentSha256: null, facts, required: c.trust.required_confirmations, deployments: trusted(c) });
    for (const check of got.checks) {
      const outcome = check.skipped ? "skipped" : check.ok ? "ok" : "failed";
      if (check.step !== 1) assert.equal(outcome, c.expect.steps[String(check.step)].outcome, `step ${check.step}`);
    }
    assert.equal(got.confirmations, c.expect.confirmations);
  });
}

test("a record too short to decode is no record; a node that cannot be reached is named", async () => {
  assert.equal(decodeAnchorRecord("0x"), null);
  assert.equal(decodeAnchorRecord("0x" + "00".repeat(100)), null);
  globalThis.fetch = async () => {
    throw new TypeError("fetch failed");
  };
  await assert.rejects(rpc(URL_, "eth_chainId", []), (e) => e instanceof NodeUnreachableError && e.url === URL_);
  globalThis.fetch = async () => new Response(JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: -32000, message: "boom" } }));
  await assert.rejects(rpc(URL_, "eth_chainId", []), /eth_chainId: boom/);
});

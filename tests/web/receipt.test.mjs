// The page's strict reading and step-by-step checking of receipts against
// the golden receipts in tests/data/receipts/ (their README describes the
// format): every malformed text the strict JSON reader must refuse is
// refused, every other one is read, and every valid and broken case gets
// the expected outcome of every step and the expected confirmations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { StrictJsonError, canonicalJson, decodeUtf8, parseStrictJson } from "../../src/docanchor/web/js/jsonstrict.js";
import {
  DeploymentInputError,
  ReceiptFormatError,
  checkSignature,
  evaluateReceipt,
  parseGivenDeployment,
  parseReceipt,
  trustSource,
  trustedDeployment,
} from "../../src/docanchor/web/js/receipt.js";

const GOLDEN = fileURLToPath(new URL("../data/receipts/", import.meta.url));
const CASES = readdirSync(join(GOLDEN, "cases"))
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((name) => ({ name: name.replace(/\.json$/, ""), ...JSON.parse(readFileSync(join(GOLDEN, "cases", name), "utf8")) }));

// Refused by the strict JSON reader itself, before any member is looked at;
// the other malformed cases are well-formed JSON with members the service's
// receipt parser refuses.
const NOT_STRICT_JSON = {
  "malformed-depth-65": "depth",
  "malformed-duplicate-member": "duplicate",
  "malformed-exponent": "float",
  "malformed-float-metadata": "float",
  "malformed-float": "float",
  "malformed-nan": "constant",
  "malformed-not-utf8": "utf8",
};

const receiptBytes = (c) => new Uint8Array(readFileSync(join(GOLDEN, c.receipt)));
const read = (c) => parseStrictJson(decodeUtf8(receiptBytes(c)));

test("the golden cases are all here", () => {
  assert.ok(CASES.length >= 50, `${CASES.length} cases`);
  for (const name of Object.keys(NOT_STRICT_JSON)) assert.ok(CASES.some((c) => c.name === name), name);
});

test("strict JSON: the malformed texts are refused with the right reason, every other is read", () => {
  for (const c of CASES) {
    const code = NOT_STRICT_JSON[c.name];
    if (code) {
      assert.ok("parse_error" in c.expect, c.name);
      assert.throws(() => read(c), (e) => e instanceof StrictJsonError && e.code === code, c.name);
    } else {
      assert.doesNotThrow(() => read(c), c.name);
    }
  }
});

test("receipt members: every other malformed case is refused in docanchor's words, the rest are read", () => {
  let refused = 0;
  for (const c of CASES) {
    if (NOT_STRICT_JSON[c.name]) continue;
    const receipt = read(c);
    if ("parse_error" in c.expect) {
      assert.throws(() => parseReceipt(receipt), (e) => {
        assert.ok(e instanceof ReceiptFormatError, `${c.name}: ${e}`);
        for (const phrase of c.expect.parse_error) assert.ok(e.message.includes(phrase), `${c.name}: ${e.message} lacks ${phrase}`);
        return true;
      }, c.name);
      refused++;
    } else {
      assert.equal(parseReceipt(receipt), receipt, c.name);
    }
  }
  assert.ok(refused >= 15, `${refused} refused`);
});

test("strict JSON: what JSON.parse lets through", () => {
  const code = (text) => {
    try {
      parseStrictJson(text);
      return null;
    } catch (e) {
      assert.ok(e instanceof StrictJsonError, String(e));
      return e.code;
    }
  };
  assert.equal(code('{"a": 1, "a": 2}'), "duplicate");
  assert.equal(code('{"a": {"b": 1, "b": 1}}'), "duplicate");
  assert.equal(code("[1.0]"), "float");
  assert.equal(code("[1e3]"), "float");
  assert.equal(code("[-Infinity]"), "constant");
  assert.equal(code("[" .repeat(65) + "]".repeat(65)), "depth");
  assert.equal(code("[".repeat(64) + "]".repeat(64)), null);
  assert.equal(code('{"a": 1} x'), "syntax");
  assert.equal(code('{"a": 01}'), "syntax");
  assert.equal(code("[\"\u0001\"]"), "syntax");
  assert.throws(() => decodeUtf8(new Uint8Array([0x7b, 0xff, 0x7d])), (e) => e.code === "utf8");
  const proto = parseStrictJson('{"__proto__": {"polluted": 1}}');
  assert.equal(Object.getPrototypeOf(proto), null);
  assert.equal({}.polluted, undefined);
  assert.equal(canonicalJson(parseStrictJson('{"b": [true, null], "a": "é", "é": 2, "B": -3}')), '{"B":-3,"a":"é","b":[true,null],"é":2}');
});

/** The document's SHA-256 a case gives, as hex (or null: no document). */
function documentSha256(c) {
  if (c.document === null) return null;
  if (c.document.sha256) return c.document.sha256;
  return createHash("sha256").update(readFileSync(join(GOLDEN, c.document.file))).digest("hex");
}

const OUTCOME = (check) => (check.skipped ? "skipped" : check.ok ? "ok" : "failed");
const SIGNATURE_OUTCOME = { none: "skipped", noKeys: "skipped", unchecked: "skipped", ok: "ok", bad: "failed", unknownKey: "failed" };

for (const c of CASES.filter((c) => !("parse_error" in c.expect))) {
  test(`golden case ${c.name}: every step's outcome and the confirmations`, async () => {
    const receipt = parseReceipt(read(c));
    const deployments = c.trust.deployments.map((d) => ({ chain_id: d.chain_id, address: d.contract }));
    const facts = {
      chainId: c.node.chain_id,
      record: c.node.anchor_record,
      blockHash: c.node.block_hash,
      head: c.node.head_number,
    };
    const got = evaluateReceipt(receipt, {
      documentSha256: documentSha256(c),
      facts,
      required: c.trust.required_confirmations,
      deployments,
    });
    const outcomes = Object.fromEntries(got.checks.map((check) => [String(check.step), OUTCOME(check)]));
    const keys = c.trust.signing_keys.map((hex) => {
      const raw = Buffer.from(hex, "hex");
      return { key_id: createHash("sha256").update(raw).digest("hex"), public_key: raw.toString("base64") };
    });
    const signature = await checkSignature(receipt, keys);
    outcomes["8"] = SIGNATURE_OUTCOME[signature.outcome];
    const expected = Object.fromEntries(Object.entries(c.expect.steps).map(([step, v]) => [step, v.outcome]));
    assert.deepEqual(outcomes, expected, c.description);
    assert.equal(got.confirmations, c.expect.confirmations, "confirmations");
    assert.equal(got.valid && outcomes["8"] !== "failed", c.expect.valid, "valid");
    // The page writes docanchor's own words, so each detail holds the case's phrase.
    for (const check of got.checks) {
      const phrase = c.expect.steps[String(check.step)].detail;
      assert.ok(check.detail.includes(phrase), `step ${check.step}: ${check.detail} lacks ${phrase}`);
    }
  });
}

test("who named the trusted deployment: the service, a link, or the user", () => {
  assert.equal(trustSource(false, false), "published");
  assert.equal(trustSource(false, true), "published");
  assert.equal(trustSource(true, true), "linked");
  assert.equal(trustSource(true, false), "given");
});

test("the deployment the user gives: both parts or none, and it alone is trusted", () => {
  const contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  assert.equal(parseGivenDeployment("", " "), null);
  const given = parseGivenDeployment(` ${contract} `, " 31337 ");
  assert.deepEqual(given, { chain_id: 31337, address: contract });
  assert.ok(trustedDeployment({ chain_id: 31337, contract: contract.toLowerCase() }, [given]));
  assert.ok(!trustedDeployment({ chain_id: 1, contract }, [given]));
  assert.ok(!trustedDeployment({ chain_id: 31337, contract: "0x" + "ab".repeat(20) }, [given]));
  for (const [c, n, code] of [
    [contract, "", "trustBadChain"],
    ["", "31337", "trustBadContract"],
    [contract.slice(0, -1), "1", "trustBadContract"],
    [contract, "0", "trustBadChain"],
    [contract, "-1", "trustBadChain"],
    [contract, "1e3", "trustBadChain"],
    [contract, "0x7a69", "trustBadChain"],
    [contract, "99999999999999999", "trustBadChain"],
  ]) {
    assert.throws(() => parseGivenDeployment(c, n), (e) => e instanceof DeploymentInputError && e.code === code, `${c} ${n}`);
  }
});

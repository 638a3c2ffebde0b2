// The page's period audit (src/docanchor/web/js/audit.js), run by `node --test tests/web/`.
//
// The Merkle code is checked against the RFC 6962 reference roots and against an
// independent recursive Merkle Tree Hash written here with node:crypto; the
// audit against a fake node and a fake service built from a log of known
// leaves, honest and then lying in each way the audit must catch.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";

import {
  ANCHORED_TOPIC,
  AnswerError,
  NodeAnswerError,
  PeriodInputError,
  RangeRefusedError,
  auditPeriod,
  decodeAnchoredLog,
  firstBlockWithCode,
  hash32,
  isoTime,
  parsePeriod,
  parseTime,
  scanLogs,
} from "../../src/docanchor/web/js/audit.js";
import {
  ProofError,
  compactRangeLength,
  extendCompactRange,
  foldCompactRange,
} from "../../src/docanchor/web/js/merkle.js";
import { toHex } from "../../src/docanchor/web/js/sha256.js";

const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const ANCHORER = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266";

/** @param {...(Uint8Array|number[])} parts */
function hash(...parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(Uint8Array.from(p));
  return new Uint8Array(h.digest());
}

const leafHash = (/** @type {Uint8Array} */ data) => hash([0], data);

/** RFC 9162 section 2.1.1, as written: split at the largest power of two below n. */
function mth(/** @type {Uint8Array[]} */ leaves) {
  if (leaves.length === 0) return hash([]);
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return hash([1], mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** The compact range at `size`, from its definition: perfect subtrees by the bits of size. */
function compactOf(/** @type {Uint8Array[]} */ leaves, /** @type {number} */ size) {
  const out = [];
  let at = 0;
  for (let bit = 2 ** 40; bit >= 1; bit /= 2) {
    if (Math.floor(size / bit) % 2 === 1) {
      out.push(mth(leaves.slice(at, at + bit)));
      at += bit;
    }
  }
  return out;
}

const fromHex = (/** @type {string} */ h) => Uint8Array.from(Buffer.from(h, "hex"));
const word = (/** @type {number|bigint} */ n) => BigInt(n).toString(16).padStart(64, "0");

describe("compact ranges and the range check (log-v1 section 3)", () => {
  // RFC 6962's reference leaves and the roots of their trees of 1..8 leaves
  // (certificate-transparency's merkle_tree_test, the values every CT log tests against).
  const RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f"].map((h) => leafHash(fromHex(h)));
  const RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  ];

  it("folds to the RFC 6962 reference roots, from every start", () => {
    for (let a = 0; a <= 8; a++) {
      for (let b = Math.max(a, 1); b <= 8; b++) {
        const compact = extendCompactRange(compactOf(RFC_LEAVES, a), a, RFC_LEAVES.slice(a, b));
        assert.equal(toHex(foldCompactRange(compact)), RFC_ROOTS[b - 1], `${a}..${b}`);
      }
    }
  });

  it("the empty log folds to SHA-256 of nothing", () => {
    assert.equal(toHex(foldCompactRange([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("agrees with the recursive Merkle Tree Hash, and carries the compact range on", () => {
    const leaves = Array.from({ length: 300 }, (_, i) => leafHash(Uint8Array.of(i >> 8, i & 255)));
    for (const [a, b] of [[0, 1], [1, 2], [3, 7], [7, 10], [0, 256], [255, 257], [100, 300], [129, 131]]) {
      const compact = extendCompactRange(compactOf(leaves, a), a, leaves.slice(a, b));
      assert.equal(compact.length, compactRangeLength(b));
      assert.deepEqual(compact.map(toHex), compactOf(leaves, b).map(toHex), `${a}..${b}`);
      assert.equal(toHex(foldCompactRange(compact)), toHex(mth(leaves.slice(0, b))), `${a}..${b}`);
    }
  });

  it("a compact range of the wrong length is refused, not folded", () => {
    assert.throws(() => extendCompactRange([], 3, []), ProofError);
  });
});

describe("periods", () => {
  it("takes UTC dates and ISO times, `to` exclusive", () => {
    assert.equal(parseTime("2026-03-01", "from"), Date.UTC(2026, 2, 1) / 1000);
    assert.equal(parseTime("2026-03-01T12:00:00Z", "from"), Date.UTC(2026, 2, 1, 12) / 1000);
    assert.equal(parseTime("2026-03-01T12:00", "from"), Date.UTC(2026, 2, 1, 12) / 1000);
    assert.equal(parseTime("2026-03-01T07:00:00-05:00", "from"), Date.UTC(2026, 2, 1, 12) / 1000);
    assert.deepEqual(parsePeriod("2026-03-01", "2026-04-01"), {
      start: Date.UTC(2026, 2, 1) / 1000, end: Date.UTC(2026, 3, 1) / 1000,
    });
    assert.equal(isoTime(Date.UTC(2026, 10, 30, 10, 48, 3) / 1000), "2026-11-30T10:48:03Z");
  });

  it("refuses what is not a time, and an empty period, with a code to show", () => {
    for (const bad of ["", "2026-02-30", "03/01/2026", "2026-03-01T25:00Z", "2026-3-1", "yesterday"]) {
      assert.throws(() => parseTime(bad, "from"), (e) => e instanceof PeriodInputError && e.code === "periodBadTime", bad);
    }
    assert.throws(() => parsePeriod("2026-04-01", "2026-03-01"), (e) => e instanceof PeriodInputError && e.code === "periodEmpty");
    assert.throws(() => parsePeriod("2026-04-01", "2026-04-01"), (e) => e instanceof PeriodInputError && e.code === "periodEmpty");
  });
});

describe("hashes as the service writes them", () => {
  it("64 lowercase hex characters are 32 bytes; anything else is the service's fault", () => {
    const hex = "00ff10ab" + "9".repeat(56);
    assert.equal(toHex(hash32(hex, "a leaf hash")), hex);
    for (const bad of [hex.toUpperCase(), hex.slice(1), hex + "0", "g" + hex.slice(1), 7, null, "é" + hex.slice(1), "\u0130" + hex.slice(1)]) {
      assert.throws(() => hash32(bad, "a leaf hash"), (e) => e instanceof AnswerError && /^a leaf hash is not/.test(e.message), String(bad));
    }
  });
});

describe("what the node answers", () => {
  it("decodes an Anchored log of the contract, and ignores any other", () => {
    const root = "ab".repeat(32);
    const log = {
      address: CONTRACT.toLowerCase(), topics: [ANCHORED_TOPIC, "0x" + word(3), "0x" + root, "0x" + word("0x" + ANCHORER)],
      data: "0x" + word(12), blockNumber: "0x1f", transactionHash: "0x" + "cd".repeat(32),
    };
    assert.deepEqual(decodeAnchoredLog(log, CONTRACT), { seq: 3, root, treeSize: 12, blockNumber: 31, txHash: "0x" + "cd".repeat(32) });
    assert.equal(decodeAnchoredLog({ ...log, address: "0x" + "11".repeat(20) }, CONTRACT), null);
    assert.equal(decodeAnchoredLog({ ...log, removed: true }, CONTRACT), null);
    assert.equal(decodeAnchoredLog({ ...log, topics: ["0x" + "00".repeat(32), ...log.topics.slice(1)] }, CONTRACT), null);
  });
});

// --- the audit against a fake node and a fake service ------------------------------

const T0 = Date.UTC(2026, 2, 31, 12) / 1000; // checkpoint 0: 31 March
// Sizes and times of the checkpoints: seq 0 before April, 1 and 2 in it, 3 in May.
const PLAN = [
  { size: 3, time: T0 },
  { size: 7, time: T0 + 86400 * 2 },
  { size: 10, time: T0 + 86400 * 20 },
  { size: 12, time: T0 + 86400 * 40 },
];
const APRIL = parsePeriod("2026-04-01", "2026-05-01");

function world() {
  const leaves = Array.from({ length: 12 }, (_, i) => leafHash(Uint8Array.of(i)));
  const checkpoints = PLAN.map((p, seq) => ({
    seq, treeSize: p.size, root: toHex(mth(leaves.slice(0, p.size))), blockNumber: 10 + seq, timestamp: p.time,
  }));
  const records = new Map(checkpoints.map((c) => [c.root,
    "0x" + word(c.seq) + word(c.treeSize) + word(c.timestamp) + word(c.blockNumber) + word("0x" + ANCHORER)]));
  const logs = checkpoints.map((c) => ({
    address: CONTRACT.toLowerCase(),
    topics: [ANCHORED_TOPIC, "0x" + word(c.seq), "0x" + c.root, "0x" + word("0x" + ANCHORER)],
    data: "0x" + word(c.treeSize), blockNumber: "0x" + c.blockNumber.toString(16),
    transactionHash: "0x" + word(1000 + c.seq), removed: false,
  }));
  const chain = {
    address: CONTRACT,
    anchoredLogs: async () => logs,
    call: async (/** @type {string} */ data) => records.get(data.slice(10)) ?? "0x" + word(0).repeat(5),
  };
  const listed = checkpoints.map((c) => ({ seq: c.seq, tree_size: c.treeSize, root: c.root, status: "confirmed" }));
  listed.push({ seq: null, tree_size: 13, root: "ee".repeat(32), status: "sealed" });
  /** @type {string[]} */
  const served = leaves.map(toHex);
  const requests = [];
  const service = {
    checkpoints: async (/** @type {number} */ start, /** @type {number} */ limit) => {
      requests.push(`checkpoints ${start}`);
      return { checkpoints: listed.filter((c) => c.seq === null || c.seq >= start).slice(0, limit) };
    },
    compactRange: async (/** @type {number} */ size) => {
      requests.push(`compact-range ${size}`);
      return { size, compact_range: compactOf(leaves, size).map(toHex) };
    },
    leaves: async (/** @type {number} */ start, /** @type {number} */ end) => {
      requests.push(`leaves ${start}..${end}`);
      return { start, end, leaves: served.slice(start, end) };
    },
  };
  return { leaves, checkpoints, records, logs, chain, listed, served, service, requests };
}

/** @param {ReturnType<typeof world>} w */
function audit(w) {
  return auditPeriod({ chain: w.chain, service: w.service, ...APRIL });
}

const kinds = (/** @type {any} */ report) => report.findings.map((/** @type {any} */ f) => `${f.kind} ${f.seq}`);
const statuses = (/** @type {any} */ report) => report.checkpoints.map((/** @type {any} */ c) => `${c.seq}:${c.range.status}`);

describe("the period audit", () => {
  it("an honest service: both ranges of April check against the chain", async () => {
    const w = world();
    const progress = [];
    const report = await auditPeriod({ chain: w.chain, service: w.service, ...APRIL, onProgress: (d, t) => progress.push([d, t]) });
    assert.equal(report.valid, true, JSON.stringify(report.findings));
    assert.deepEqual(report.findings, []);
    assert.equal(report.base?.seq, 0);
    assert.deepEqual(report.checkpoints.map((c) => [c.seq, c.treeSize, c.range.start, c.range.end, c.range.status]),
      [[1, 7, 3, 7, "valid"], [2, 10, 7, 10, "valid"]]);
    assert.equal(report.checkpoints[0].txHash, "0x" + word(1001));
    assert.equal(report.checkpoints[0].timestamp, PLAN[1].time);
    assert.deepEqual(report.leaves, { start: 3, end: 10, checked: 7, unproven: 0 });
    assert.deepEqual(progress.at(-1), [7, 7]);
    // The base's compact range once, each range's leaves once; nothing after the period.
    assert.deepEqual(w.requests, ["checkpoints 0", "compact-range 3", "leaves 3..7", "leaves 7..10"]);
  });

  it("a period with no checkpoint is valid and checks no leaf", async () => {
    const w = world();
    const report = await auditPeriod({ chain: w.chain, service: w.service, ...parsePeriod("2027-01-01", "2027-02-01") });
    assert.equal(report.valid, true);
    assert.deepEqual(report.checkpoints, []);
    assert.equal(report.base?.seq, 3);
    assert.deepEqual(report.leaves, { start: 12, end: 12, checked: 0, unproven: 0 });
  });

  it("the first period starts at the empty log", async () => {
    const w = world();
    const report = await auditPeriod({ chain: w.chain, service: w.service, ...parsePeriod("2026-03-01", "2026-04-01") });
    assert.equal(report.valid, true);
    assert.equal(report.base, null);
    assert.deepEqual(statuses(report), ["0:valid"]);
    assert.deepEqual(report.leaves, { start: 0, end: 3, checked: 3, unproven: 0 });
  });

  it("a leaf altered by the service fails its range, and only that one", async () => {
    const w = world();
    w.served[8] = "00".repeat(32);
    const report = await audit(w);
    assert.equal(report.valid, false);
    assert.deepEqual(kinds(report), ["range_mismatch 2"]);
    assert.deepEqual(statuses(report), ["1:valid", "2:invalid"]);
    const f = report.checkpoints[1].range.finding;
    assert.deepEqual([f?.vars.start, f?.vars.end, f?.vars.root], [7, 10, w.checkpoints[2].root]);
    assert.match(String(f?.vars.reason), /^they give root [0-9a-f]{64}$/);
    assert.deepEqual(report.leaves, { start: 3, end: 10, checked: 4, unproven: 3 });
  });

  it("a leaf hidden by the service fails its range", async () => {
    const w = world();
    w.service.leaves = async (start, end) => ({ start, end, leaves: w.served.slice(start, end).filter((_, i) => start + i !== 4) });
    const report = await audit(w);
    assert.deepEqual(kinds(report), ["range_mismatch 1"]);
    assert.deepEqual(statuses(report), ["1:invalid", "2:valid"]);
    assert.match(String(report.checkpoints[0].range.finding?.vars.reason), /asked for leaves 3\.\.7, got 3 hashes/);
    assert.equal(report.valid, false);
  });

  it("a leaf added and another dropped (the count kept) fails its range", async () => {
    const w = world();
    w.service.leaves = async (start, end) => {
      const hashes = w.served.slice(start, end);
      if (start === 3) hashes.splice(1, 1), hashes.push("11".repeat(32));
      return { start, end, leaves: hashes };
    };
    const report = await audit(w);
    assert.deepEqual(kinds(report), ["range_mismatch 1"]);
    assert.deepEqual(statuses(report), ["1:invalid", "2:valid"]);
  });

  it("leaves reordered by the service fail their range", async () => {
    const w = world();
    [w.served[7], w.served[8]] = [w.served[8], w.served[7]];
    const report = await audit(w);
    assert.deepEqual(kinds(report), ["range_mismatch 2"]);
  });

  it("a checkpoint the chain does not hold is caught, and one the service hides", async () => {
    const w = world();
    w.listed[1] = { ...w.listed[1], root: "99".repeat(32) };
    w.listed.splice(2, 1);
    const report = await audit(w);
    assert.deepEqual(kinds(report), ["checkpoint_not_on_chain 1", "checkpoint_hidden 2"]);
    assert.equal(report.findings[0].vars.chainRoot, w.checkpoints[1].root);
    assert.deepEqual(statuses(report), ["1:valid", "2:valid"]); // the leaves themselves are the log's
    assert.equal(report.valid, false);
  });

  it("a checkpoint invented by the service is not on the chain", async () => {
    const w = world();
    w.listed.splice(4, 0, { seq: 4, tree_size: 13, root: "77".repeat(32), status: "confirmed" });
    const report = await audit(w);
    assert.deepEqual(kinds(report), ["checkpoint_not_on_chain 4"]);
  });

  it("a compact range that does not fold to the base's root leaves the period unproven", async () => {
    const w = world();
    w.service.compactRange = async (size) => ({ size, compact_range: size === 3 ? ["12".repeat(32), "34".repeat(32)] : compactOf(w.leaves, size).map(toHex) });
    const report = await audit(w);
    assert.deepEqual(kinds(report), ["compact_range_mismatch 0"]);
    assert.deepEqual(statuses(report), ["1:unproven", "2:valid"]);
    assert.deepEqual(report.leaves, { start: 3, end: 10, checked: 3, unproven: 4 });
  });

  it("an event the contract's record does not confirm is not a checkpoint", async () => {
    const w = world();
    w.records.set(w.checkpoints[2].root, "0x" + word(2) + word(11) + word(PLAN[2].time) + word(12) + word("0x" + ANCHORER));
    const report = await audit(w);
    assert.equal(kinds(report)[0], "chain_record_mismatch 2");
    assert.equal(report.valid, false);
    assert.deepEqual(report.checkpoints.map((c) => c.seq), [1]);
  });

  it("a root the contract holds no record of (all zeros) is not a checkpoint", async () => {
    const w = world();
    w.records.delete(w.checkpoints[1].root);
    const report = await audit(w);
    assert.equal(kinds(report)[0], "chain_record_mismatch 1");
    assert.deepEqual(report.checkpoints.map((c) => c.seq), [2]);
    assert.equal(report.valid, false);
  });

  it("a refused or malformed answer is a finding, not a crash", async () => {
    const w = world();
    w.service.leaves = async () => { throw new AnswerError("GET /v1/log/leaves answered 500"); };
    w.service.checkpoints = async () => ({ checkpoints: [{ seq: "1" }] });
    const report = await audit(w);
    assert.deepEqual(kinds(report), ["listing_malformed null", "range_mismatch 1", "range_mismatch 2"]);
    assert.equal(report.checkpoints[0].range.finding?.vars.reason, "GET /v1/log/leaves answered 500");
  });

  it("a service that cannot be reached stops the audit", async () => {
    const w = world();
    w.service.leaves = async () => { throw new TypeError("Failed to fetch"); };
    await assert.rejects(audit(w), TypeError);
  });

  it("more leaves than one request holds are asked for in parts", async () => {
    const n = 100_000 + 5;
    const leaves = Array.from({ length: n }, (_, i) => hash([i & 255, (i >> 8) & 255, i >> 16]));
    // The root computed with the recursive definition above, independently of the module.
    const root = toHex(mth(leaves));
    const hexes = leaves.map(toHex);
    const asked = [];
    const chain = {
      address: CONTRACT,
      anchoredLogs: async () => [{
        address: CONTRACT, topics: [ANCHORED_TOPIC, "0x" + word(0), "0x" + root, "0x" + word("0x" + ANCHORER)],
        data: "0x" + word(n), blockNumber: "0x5", transactionHash: "0x" + word(7),
      }],
      call: async () => "0x" + word(0) + word(n) + word(T0 + 86400) + word(5) + word("0x" + ANCHORER),
    };
    const service = {
      checkpoints: async () => ({ checkpoints: [{ seq: 0, tree_size: n, root }] }),
      compactRange: async () => ({ compact_range: [] }),
      leaves: async (/** @type {number} */ a, /** @type {number} */ b) => (asked.push([a, b]), { leaves: hexes.slice(a, b) }),
    };
    const report = await auditPeriod({ chain, service, ...APRIL });
    assert.equal(report.valid, true, JSON.stringify(report.findings));
    assert.deepEqual(asked, [[0, 100_000], [100_000, n]]);
  });
});

describe("reading the node from the deployment on, in ranges it accepts", () => {
  it("finds the deployment block in about log2(head) questions", async () => {
    for (const [head, deployed] of [[20_000_000, 12_345_678], [1, 0], [1, 1], [100, 100], [0, 0], [7, 3]]) {
      let asked = 0;
      const first = await firstBlockWithCode(async (block) => {
        asked++;
        assert.ok(block >= 0 && block <= head, `block ${block}`);
        return block >= deployed;
      }, head);
      assert.equal(first, deployed, `head ${head}`);
      assert.ok(asked <= Math.ceil(Math.log2(head + 1)) + 1, `${asked} questions for head ${head}`);
    }
  });

  it("learns a provider's block-range cap once and reads every block exactly once", async () => {
    const cap = 10_000, from = 12_345_678, to = 20_000_000;
    const asked = [];
    const logs = await scanLogs(async (a, b) => {
      asked.push([a, b]);
      if (b - a + 1 > cap) throw new RangeRefusedError("eth_getLogs: block range too large");
      return [{ from: a, to: b }];
    }, from, to);
    const served = logs.map((l) => /** @type {any} */ (l));
    assert.equal(served[0].from, from);
    assert.equal(served[served.length - 1].to, to);
    for (let i = 1; i < served.length; i++) assert.equal(served[i].from, served[i - 1].to + 1);
    const refused = asked.filter(([a, b]) => b - a + 1 > cap).length;
    assert.ok(refused <= Math.ceil(Math.log2((to - from + 1) / cap)) + 1, `${refused} refusals`);
    assert.ok(asked.length <= Math.ceil((to - from + 1) / (cap / 2)) + refused, `${asked.length} requests`);
  });

  it("a node that answers something else than a list stops the scan, with no range halved", async () => {
    let asked = 0;
    await assert.rejects(
      scanLogs(async () => { asked++; return { logs: [] }; }, 0, 1_000_000),
      (e) => e instanceof NodeAnswerError && /did not answer a list/.test(e.message),
    );
    assert.equal(asked, 1);
  });

  it("other errors pass through; a single block refused is the node's error", async () => {
    const boom = new Error("unreachable");
    await assert.rejects(scanLogs(async () => { throw boom; }, 0, 100), (e) => e === boom);
    let asked = 0;
    await assert.rejects(
      scanLogs(async () => { asked++; throw new RangeRefusedError("no"); }, 5, 8),
      RangeRefusedError,
    );
    assert.equal(asked, 3); // 5..8, 5..6, 5..5
    assert.deepEqual(await scanLogs(async () => [], 9, 8), []);
  });
});

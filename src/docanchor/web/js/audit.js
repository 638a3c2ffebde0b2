// @ts-check
/**
 * The public part of a period audit (log-v1 sections 3 and 4), run in the page.
 *
 * It follows `docanchor.audit`, the command line's audit: the checkpoints of
 * the period, their sizes, roots and times come from the chain only (the
 * contract's `Anchored` events, each confirmed by `getAnchor`, read through
 * the user's own node); the service's list of checkpoints, its compact range
 * and its leaves are believed only as far as this module's own hashing
 * confirms them. The compact range at the period's start must fold to the
 * anchored root before it, the leaves of each checkpoint must extend the
 * compact range to that checkpoint's anchored root, and the compact range so
 * extended is carried on to the next checkpoint, which also proves that
 * consecutive checkpoints are consistent. Openings need an auditor key and
 * are not part of it.
 *
 * Pure: no DOM and no fetch. The chain and the service are handed in as
 * objects of async functions that return what the node and the service
 * answered, unparsed; everything they say is parsed and checked here.
 */

import { ProofError, compactRangeLength, extendCompactRange, foldCompactRange } from "./merkle.js";
import { anchorCallData, decodeAnchorRecord } from "./receipt.js";
import { HEX64, toHex } from "./sha256.js";

/** keccak256("Anchored(uint64,bytes32,uint64,address)"), computed with
 * eth_utils.keccak(text=...).hex() and written here (docanchor.chain.ANCHORED_TOPIC). */
export const ANCHORED_TOPIC = "0x89df1eaa818c1feb7376e45cebef0652cdb850a0425bfee61f4d2e2711d71941";
/** At most this many leaves a request (log-v1 section 5). */
export const LEAVES_PER_REQUEST = 100_000;
/** Checkpoints asked for a page of GET /v1/log/checkpoints (the API's maximum). */
export const CHECKPOINTS_PER_PAGE = 1_000;

/**
 * A period the user typed that cannot be audited; `code` names the text to show.
 */
export class PeriodInputError extends Error {
  /** @param {string} code @param {Record<string, string>} [vars] */
  constructor(code, vars = {}) {
    super(code);
    this.name = "PeriodInputError";
    this.code = code;
    this.vars = vars;
  }
}

/**
 * The service answered, but not with what the log's API promises (a refused
 * request, no JSON): a finding of the audit, not a failure to run it.
 */
export class AnswerError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "AnswerError";
  }
}

// ---------------------------------------------------------------------------
// Times: UTC dates or ISO times, as `docanchor audit --from/--to` takes them.
// ---------------------------------------------------------------------------

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/i;

/**
 * Seconds since the epoch of a UTC date (`2026-03-01`, its midnight) or an ISO
 * time (`2026-03-01T12:00:00Z`; without a zone it is UTC).
 * @param {string} text
 * @param {string} which the field's name, for the error
 * @returns {number}
 */
export function parseTime(text, which) {
  const value = text.trim();
  const date = DATE.exec(value);
  const time = date ? null : TIME.exec(value);
  const parts = date || time;
  if (!parts) throw new PeriodInputError("periodBadTime", { which, value });
  const [y, mo, d] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const [h, mi, s] = time ? [Number(time[4]), Number(time[5]), Number(time[6] || 0)] : [0, 0, 0];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d ||
    h > 23 || mi > 59 || s > 59
  ) {
    throw new PeriodInputError("periodBadTime", { which, value });
  }
  let offset = 0;
  const zone = time ? time[8] : undefined;
  if (zone && zone.toUpperCase() !== "Z") {
    const zh = Number(zone.slice(1, 3)), zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) throw new PeriodInputError("periodBadTime", { which, value });
    offset = (zone[0] === "+" ? 1 : -1) * (zh * 3600 + zm * 60);
  }
  return Math.floor(ms / 1000) - offset;
}

/**
 * The period [from, to) in seconds; `to` is exclusive and must be later than `from`.
 * @param {string} fromText @param {string} toText
 * @returns {{start: number, end: number}}
 */
export function parsePeriod(fromText, toText) {
  const start = parseTime(fromText, "from");
  const end = parseTime(toText, "to");
  if (end <= start) throw new PeriodInputError("periodEmpty", { from: isoTime(start), to: isoTime(end) });
  return { start, end };
}

/** @param {number} seconds @returns {string} like 2026-11-30T10:48:03Z */
export function isoTime(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}

// ---------------------------------------------------------------------------
// Bytes and hex.
// ---------------------------------------------------------------------------

/** The value of each lowercase hex digit by its character code; -1 for any other. */
const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) NIBBLE["0123456789abcdef".charCodeAt(i)] = i;

/**
 * 32 bytes from 64 lowercase hex characters (a period's leaves are parsed
 * here, up to 100,000 an answer: a table look-up per digit, no regex).
 * @param {unknown} hex @param {string} what @returns {Uint8Array}
 */
export function hash32(hex, what) {
  const out = new Uint8Array(32);
  let bad = typeof hex !== "string" || hex.length !== 64;
  for (let i = 0; i < 32 && !bad; i++) {
    const hi = NIBBLE[/** @type {string} */ (hex).charCodeAt(2 * i) & 0xffff] ?? -1;
    const lo = NIBBLE[/** @type {string} */ (hex).charCodeAt(2 * i + 1) & 0xffff] ?? -1;
    if (hi < 0 || lo < 0) bad = true;
    out[i] = (hi << 4) | lo;
  }
  if (bad) {
    throw new AnswerError(`${what} is not 64 lowercase hex characters: ${JSON.stringify(hex)}`.slice(0, 200));
  }
  return out;
}

// ---------------------------------------------------------------------------
// What the chain says: Anchored events and getAnchor records.
// ---------------------------------------------------------------------------

/**
 * @typedef {object} ChainCheckpoint a checkpoint as the chain holds it
 * @property {number} seq
 * @property {number} treeSize
 * @property {string} root 64 hex characters
 * @property {number} blockNumber
 * @property {number} timestamp the anchoring block's, as the contract recorded it
 * @property {string} txHash the anchoring transaction
 */

/** @param {unknown} hex @returns {bigint | null} */
function quantity(hex) {
  return typeof hex === "string" && /^0x[0-9a-fA-F]+$/.test(hex) ? BigInt(hex) : null;
}

/**
 * An `Anchored` log of `address` as the node returned it, or null when it is
 * not one (another event, another contract, a log the node marks removed).
 * @param {any} log
 * @param {string} address the contract's 0x address
 * @returns {{seq: number, root: string, treeSize: number, blockNumber: number, txHash: string} | null}
 */
export function decodeAnchoredLog(log, address) {
  if (log === null || typeof log !== "object" || log.removed === true) return null;
  const topics = log.topics;
  if (!Array.isArray(topics) || topics.length !== 4 || String(topics[0]).toLowerCase() !== ANCHORED_TOPIC) return null;
  if (String(log.address).toLowerCase() !== address.toLowerCase()) return null;
  const seq = quantity(topics[1]);
  const root = String(topics[2]).toLowerCase().replace(/^0x/, "");
  const data = typeof log.data === "string" ? log.data.toLowerCase().replace(/^0x/, "") : "";
  const blockNumber = quantity(log.blockNumber);
  if (seq === null || !HEX64.test(root) || !/^[0-9a-f]{64}$/.test(data) || blockNumber === null) return null;
  return {
    seq: Number(seq),
    root,
    treeSize: Number(BigInt("0x" + data)),
    blockNumber: Number(blockNumber),
    txHash: String(log.transactionHash || "").toLowerCase(),
  };
}

// ---------------------------------------------------------------------------
// Reading the node: from the contract's deployment on, in ranges it accepts.
// ---------------------------------------------------------------------------

/** The node refused a range of `eth_getLogs` (too many blocks or results, as providers cap). */
export class RangeRefusedError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "RangeRefusedError";
  }
}

/** The node answered, but not what the method returns: the audit cannot run on it. */
export class NodeAnswerError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "NodeAnswerError";
  }
}

/**
 * The first block at which the contract has code, found by a binary search
 * over `hasCodeAt` (about log2(head) questions; trustless: the node's own
 * state says it). The contract must have code at `head`; no `Anchored` log
 * of it can be older than the block found.
 * @param {(block: number) => Promise<boolean>} hasCodeAt
 * @param {number} head
 * @returns {Promise<number>}
 */
export async function firstBlockWithCode(hasCodeAt, head) {
  let lo = 0, hi = head;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await hasCodeAt(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Every log of blocks [from, to], asked for in ranges the node accepts: the
 * whole span first, then, each time the node refuses (RangeRefusedError),
 * half of the last span, kept for the ranges after it; so a provider's cap
 * costs about log2 of the span in refusals, not a refusal for every range.
 * An answer that is not a list is a NodeAnswerError, never a reason to ask
 * for less; any other error is passed on.
 * @param {(from: number, to: number) => Promise<unknown>} getLogs
 * @param {number} from
 * @param {number} to
 * @returns {Promise<unknown[]>}
 */
export async function scanLogs(getLogs, from, to) {
  /** @type {unknown[]} */
  const found = [];
  let span = Math.max(1, to - from + 1);
  let at = from;
  while (at <= to) {
    const end = Math.min(at + span - 1, to);
    let answer;
    try {
      answer = await getLogs(at, end);
    } catch (error) {
      if (!(error instanceof RangeRefusedError) || end === at) throw error;
      span = Math.ceil((end - at + 1) / 2);
      continue;
    }
    if (!Array.isArray(answer)) {
      throw new NodeAnswerError(`eth_getLogs of blocks ${at} to ${end}: the node did not answer a list`);
    }
    for (const log of answer) found.push(log);
    at = end + 1;
  }
  return found;
}

// ---------------------------------------------------------------------------
// The audit.
// ---------------------------------------------------------------------------

/**
 * @typedef {object} AnchorChain the user's node, pointed at the trusted contract
 * @property {string} address the contract's 0x address
 * @property {() => Promise<unknown[]>} anchoredLogs every log of `eth_getLogs` for `Anchored`
 * @property {(data: string) => Promise<unknown>} call an `eth_call` to the contract at the latest block
 *
 * @typedef {object} LogService the service's public log endpoints; each resolves to
 *   the JSON body it answered, or rejects with an AnswerError (a refused request,
 *   no JSON) or another Error (the service cannot be reached)
 * @property {(start: number, limit: number) => Promise<unknown>} checkpoints GET /v1/log/checkpoints
 * @property {(size: number) => Promise<unknown>} compactRange GET /v1/log/compact-range
 * @property {(start: number, end: number) => Promise<unknown>} leaves GET /v1/log/leaves
 *
 * @typedef {object} Finding
 * @property {string} kind as the command line names it (`range_mismatch`, ...)
 * @property {number | null} seq the checkpoint at fault
 * @property {Record<string, string | number>} vars what the text of the finding shows
 *
 * @typedef {object} RangeVerdict the leaves a checkpoint of the period added
 * @property {number} start
 * @property {number} end
 * @property {"valid" | "invalid" | "unproven"} status unproven: not checked, as the
 *   compact range before it could not be established
 * @property {Finding | null} finding
 *
 * @typedef {ChainCheckpoint & {range: RangeVerdict}} PeriodCheckpoint
 *
 * @typedef {object} PeriodReport
 * @property {number} start the period, in seconds, `end` exclusive
 * @property {number} end
 * @property {string} contract
 * @property {ChainCheckpoint | null} base the last checkpoint anchored before the period
 * @property {PeriodCheckpoint[]} checkpoints those anchored in the period, oldest first
 * @property {{start: number, end: number, checked: number, unproven: number}} leaves
 * @property {Finding[]} findings
 * @property {boolean} valid no finding
 */

/**
 * @param {string} kind @param {number | null} seq @param {Record<string, string | number>} vars
 * @returns {Finding}
 */
function finding(kind, seq, vars) {
  return { kind, seq, vars };
}

/** @param {unknown} body @param {string} name @returns {unknown[]} */
function member(body, name) {
  if (body === null || typeof body !== "object" || !Array.isArray(/** @type {any} */ (body)[name])) {
    throw new AnswerError(`the answer has no "${name}" list`);
  }
  return /** @type {any} */ (body)[name];
}

/** @param {unknown} error @returns {string} */
function reason(error) {
  if (error instanceof AnswerError || error instanceof ProofError) return error.message;
  throw error;
}

/**
 * Every checkpoint of the contract, oldest first: each `Anchored` event whose
 * `getAnchor` record agrees with it (its time is the record's).
 * @param {AnchorChain} chain @param {Finding[]} findings
 * @returns {Promise<ChainCheckpoint[]>}
 */
export async function chainCheckpoints(chain, findings) {
  const events = [];
  for (const log of await chain.anchoredLogs()) {
    const event = decodeAnchoredLog(log, chain.address);
    if (event !== null) events.push(event);
  }
  events.sort((a, b) => a.seq - b.seq);
  /** @type {ChainCheckpoint[]} */
  const found = [];
  for (const event of events) {
    const record = decodeAnchorRecord(await chain.call(anchorCallData(event.root)));
    if (
      record === null || /^0x0{40}$/.test(record.anchorer) || record.seq !== event.seq ||
      record.tree_size !== event.treeSize || record.block_number !== event.blockNumber
    ) {
      findings.push(finding("chain_record_mismatch", event.seq, { seq: event.seq, root: event.root }));
      continue;
    }
    found.push({ ...event, timestamp: record.timestamp });
  }
  return found;
}

/**
 * The service's list of checkpoints must be the chain's: none invented, none
 * hidden (those not anchored yet, `seq` null, are not compared).
 * @param {LogService} service @param {ChainCheckpoint[]} onChain
 * @param {ChainCheckpoint[]} inside @param {Finding[]} findings
 */
async function checkListing(service, onChain, inside, findings) {
  const bySeq = new Map(onChain.map((c) => [c.seq, c]));
  const listed = new Set();
  let start = 0;
  try {
    for (;;) {
      const items = member(await service.checkpoints(start, CHECKPOINTS_PER_PAGE), "checkpoints");
      let last = -1;
      for (const item of items) {
        const c = /** @type {any} */ (item);
        if (c === null || typeof c !== "object") throw new AnswerError("a checkpoint is not a JSON object");
        if (c.seq === null) continue; // not anchored yet
        if (!Number.isSafeInteger(c.seq) || !Number.isSafeInteger(c.tree_size) || typeof c.root !== "string") {
          throw new AnswerError(`checkpoint ${JSON.stringify(c.seq)} is malformed`);
        }
        listed.add(c.seq);
        last = c.seq;
        const held = bySeq.get(c.seq);
        if (held === undefined || held.treeSize !== c.tree_size || held.root !== c.root) {
          const vars = { seq: c.seq, size: c.tree_size, root: String(c.root).slice(0, 64) };
          findings.push(finding("checkpoint_not_on_chain", c.seq,
            held ? { ...vars, chainSize: held.treeSize, chainRoot: held.root } : vars));
        }
      }
      if (items.length < CHECKPOINTS_PER_PAGE || last < start) break;
      start = last + 1;
    }
  } catch (error) {
    findings.push(finding("listing_malformed", null, { reason: reason(error) }));
    return;
  }
  for (const checkpoint of inside) {
    if (!listed.has(checkpoint.seq)) {
      findings.push(finding("checkpoint_hidden", checkpoint.seq, { seq: checkpoint.seq, size: checkpoint.treeSize }));
    }
  }
}

/**
 * The service's compact range at `checkpoint`'s size, checked against its
 * anchored root; null (with a finding) when it does not fold to it.
 * @param {LogService} service @param {ChainCheckpoint} checkpoint @param {Finding[]} findings
 * @returns {Promise<Uint8Array[] | null>}
 */
async function checkedCompactRange(service, checkpoint, findings) {
  const vars = { seq: checkpoint.seq, size: checkpoint.treeSize, root: checkpoint.root };
  try {
    const compact = member(await service.compactRange(checkpoint.treeSize), "compact_range")
      .map((h) => hash32(h, "a compact range hash"));
    if (compact.length !== compactRangeLength(checkpoint.treeSize)) {
      throw new AnswerError(`it has ${compact.length} hashes, not ${compactRangeLength(checkpoint.treeSize)}`);
    }
    const calculated = toHex(foldCompactRange(compact));
    if (calculated !== checkpoint.root) throw new AnswerError(`it folds to ${calculated}`);
    return compact;
  } catch (error) {
    findings.push(finding("compact_range_mismatch", checkpoint.seq, { ...vars, reason: reason(error) }));
    return null;
  }
}

/**
 * The leaves [size, checkpoint's size) as the service gives them, appended to
 * `compact` (the compact range at `size`): the compact range after them when
 * they fold to the anchored root, null (with a finding) when they do not.
 * @param {LogService} service @param {Uint8Array[]} compact @param {number} size
 * @param {ChainCheckpoint} checkpoint @param {Finding[]} findings
 * @param {(done: number) => void} progress
 * @returns {Promise<{compact: Uint8Array[] | null, finding: Finding | null}>}
 */
async function rangeCheck(service, compact, size, checkpoint, findings, progress) {
  let extended = compact;
  let at = size;
  try {
    while (at < checkpoint.treeSize) {
      const b = Math.min(at + LEAVES_PER_REQUEST, checkpoint.treeSize);
      const hashes = member(await service.leaves(at, b), "leaves");
      if (hashes.length !== b - at) {
        throw new AnswerError(`asked for leaves ${at}..${b}, got ${hashes.length} hashes`);
      }
      extended = extendCompactRange(extended, at, hashes.map((h) => hash32(h, "a leaf hash")));
      at = b;
      progress(at - size);
    }
    const calculated = toHex(foldCompactRange(extended));
    if (calculated !== checkpoint.root) throw new AnswerError(`they give root ${calculated}`);
  } catch (error) {
    const found = finding("range_mismatch", checkpoint.seq, {
      seq: checkpoint.seq, start: size, end: checkpoint.treeSize, root: checkpoint.root, reason: reason(error),
    });
    findings.push(found);
    return { compact: null, finding: found };
  }
  return { compact: extended, finding: null };
}

/**
 * Audit the period [start, end) of the log: its checkpoints from the chain, the
 * service's list of them, and a range check of every leaf they added.
 *
 * Errors of the node or a service that cannot be reached reject the promise
 * (nothing is proved either way); every answer that does not agree with the
 * chain is a finding of the report.
 * @param {{chain: AnchorChain, service: LogService, start: number, end: number,
 *   onProgress?: (done: number, total: number) => void}} args
 * @returns {Promise<PeriodReport>}
 */
export async function auditPeriod({ chain, service, start, end, onProgress }) {
  /** @type {Finding[]} */
  const findings = [];
  const onChain = await chainCheckpoints(chain, findings);
  const before = onChain.filter((c) => c.timestamp < start);
  const inside = onChain.filter((c) => start <= c.timestamp && c.timestamp < end);
  const base = before.length ? before[before.length - 1] : null;
  const first = base ? base.treeSize : 0;
  const last = inside.length ? inside[inside.length - 1].treeSize : first;
  /** @type {PeriodReport} */
  const report = {
    start, end, contract: chain.address, base,
    checkpoints: inside.map((c) => ({ ...c, range: { start: 0, end: 0, status: "unproven", finding: null } })),
    leaves: { start: first, end: last, checked: 0, unproven: 0 },
    findings,
    valid: false,
  };
  await checkListing(service, onChain, inside, findings);
  if (inside.length) {
    const total = Math.max(0, last - first);
    let done = 0;
    /** @type {Uint8Array[] | null} */
    let compact = base ? await checkedCompactRange(service, base, findings) : [];
    let size = first;
    for (const checkpoint of report.checkpoints) {
      const range = checkpoint.range;
      range.start = size;
      range.end = checkpoint.treeSize;
      const count = checkpoint.treeSize - size;
      if (count <= 0) {
        range.status = "invalid";
        range.finding = finding("inconsistent_history", checkpoint.seq, {
          seq: checkpoint.seq, size: checkpoint.treeSize, previous: size,
        });
        findings.push(range.finding);
        continue;
      }
      /** @type {Uint8Array[] | null} */
      let extended = null;
      if (compact !== null) {
        const base = done;
        const checked = await rangeCheck(service, compact, size, checkpoint, findings, (n) => {
          if (onProgress) onProgress(base + n, total);
        });
        extended = checked.compact;
        range.finding = checked.finding;
        range.status = extended === null ? "invalid" : "valid";
      }
      if (extended === null) {
        report.leaves.unproven += count;
        compact = await checkedCompactRange(service, checkpoint, findings);
      } else {
        report.leaves.checked += count;
        compact = extended;
      }
      done += count;
      if (onProgress) onProgress(done, total);
      size = checkpoint.treeSize;
    }
  }
  report.valid = findings.length === 0;
  return report;
}

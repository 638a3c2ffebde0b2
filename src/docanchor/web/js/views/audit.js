// @ts-check
/**
 * The auditor's view of a period: pick the dates, see the checkpoints the
 * chain holds for them, and each range of leaves checked in this browser.
 *
 * The checks are `../audit.js`'s; this module only asks: the user's own node
 * (JSON-RPC, `?rpc=` or the field) for the contract's `Anchored` events and
 * `getAnchor` records, and the service for its public log endpoints. No key
 * is sent anywhere, and nothing the service says is shown as proved unless
 * the chain confirms it. The contract trusted is the one the user gives
 * (the fields), the one a link names (`?contract=0x…&chain=N`, shown
 * apart: whoever wrote the link chose it) or else the one the service
 * publishes, and the report says which.
 */

import { ApiError, api, publishedTrust } from "../api.js";
import {
  ANCHORED_TOPIC, AnswerError, NodeAnswerError, PeriodInputError, RangeRefusedError, auditPeriod, firstBlockWithCode,
  isoTime, parsePeriod, scanLogs
} from "../audit.js";
import { $, clear, el, errorBox, hideProgress, scrollTable, showProgress } from "../dom.js";
import { formatNumber } from "../format.js";
import { t } from "../i18n.js";
import { DeploymentInputError, parseGivenDeployment, trustSource } from "../receipt.js";
import { NodeError, NodeUnreachableError, rpc } from "../rpc.js";

/**
 * @typedef {import("../audit.js").PeriodReport} PeriodReport
 * @typedef {import("../audit.js").PeriodCheckpoint} PeriodCheckpoint
 * @typedef {import("../audit.js").Finding} Finding
 */

/** A request this view cannot do without (the node, the service): the audit did not run. */
class CannotRunError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "CannotRunError";
  }
}

/**
 * @typedef {object} AuditState
 * @property {PeriodReport} [report]
 * @property {number} [chainId]
 * @property {import("../receipt.js").TrustSource} [source] who named the trusted contract
 * @property {string} [error]
 * @property {string} [node] the node asked, while the audit runs
 * @property {{done: number, total: number}} [progress]
 */

/** @type {AuditState | null} */
let state = null;
/** Each audit's number; an answer for an older one is dropped. */
let run = 0;
/** Whether the user or a link gave the trusted contract (not the service). */
let givenByUser = false;
/** Whether the contract's fields hold what the page's address put in them. */
let linked = false;

/** @param {string} id */
function input(id) {
  return /** @type {HTMLInputElement} */ ($(id));
}

/** @param {number} n */
function quantityHex(n) {
  return "0x" + n.toString(16);
}

/**
 * The node's answer to `eth_getCode`: whether there is code.
 * @param {unknown} answer
 */
function isCode(answer) {
  if (typeof answer !== "string" || !/^0x[0-9a-fA-F]*$/.test(answer)) {
    throw new NodeAnswerError("eth_getCode: the node did not answer hex data");
  }
  return answer.length > 2;
}

/**
 * The user's node, pointed at `contract`: every `Anchored` log and `eth_call`s.
 * @param {string} url
 * @param {string} contract
 */
function nodeClient(url, contract) {
  /**
   * The node's `Anchored` logs of blocks [from, to]; an error answer is a range refused.
   * @param {number} from @param {number} to
   */
  async function getLogs(from, to) {
    try {
      return await rpc(url, "eth_getLogs", [{
        address: contract, fromBlock: quantityHex(from), toBlock: quantityHex(to), topics: [ANCHORED_TOPIC]
      }]);
    } catch (e) {
      throw e instanceof NodeError ? new RangeRefusedError(e.message) : e;
    }
  }

  /** @param {number} block */
  const hasCodeAt = async (block) => isCode(await rpc(url, "eth_getCode", [contract, quantityHex(block)]));

  /** The logs from the contract's deployment block to the head. */
  async function anchoredLogs() {
    const answer = await rpc(url, "eth_blockNumber", []);
    if (typeof answer !== "string" || !/^0x[0-9a-fA-F]+$/.test(answer)) {
      throw new NodeAnswerError("eth_blockNumber: the node did not answer a block number");
    }
    const head = Number(BigInt(answer));
    let first = 0;
    try {
      first = await firstBlockWithCode(hasCodeAt, head);
    } catch (e) {
      // A node that keeps no past state cannot say when the contract came: every block is read.
      if (!(e instanceof NodeError)) throw e;
    }
    return scanLogs(getLogs, first, head);
  }

  return {
    address: contract,
    /** @returns {Promise<number>} */
    chainId: async () => Number(BigInt(String(await rpc(url, "eth_chainId", [])))),
    /** @returns {Promise<boolean>} */
    hasCode: async () => isCode(await rpc(url, "eth_getCode", [contract, "latest"])),
    anchoredLogs,
    /** @param {string} data */
    call: (data) => rpc(url, "eth_call", [{ to: contract, data }, "latest"])
  };
}

/**
 * The service's public log endpoints, answered as they come: a refusal is an
 * AnswerError (the audit's finding), no answer at all stops the audit.
 * @param {string} path
 */
async function serviceGet(path) {
  try {
    return await api("GET", path);
  } catch (e) {
    if (e instanceof ApiError && e.status !== 0) {
      throw new AnswerError("GET " + path.split("?")[0] + " answered " + e.status + ": " + e.message);
    }
    throw new CannotRunError(e instanceof Error ? e.message : String(e));
  }
}

const service = {
  /** @param {number} start @param {number} limit */
  checkpoints: (start, limit) => serviceGet(`/v1/log/checkpoints?start=${start}&limit=${limit}`),
  /** @param {number} size */
  compactRange: (size) => serviceGet(`/v1/log/compact-range?size=${size}`),
  /** @param {number} start @param {number} end */
  leaves: (start, end) => serviceGet(`/v1/log/leaves?start=${start}&end=${end}`)
};

/** The first day of this month and of the next, in UTC: the period shown first. */
function thisMonth() {
  const now = new Date();
  const y = now.getUTCFullYear(), m = now.getUTCMonth();
  /** @param {number} ms */
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);
  return { from: day(Date.UTC(y, m, 1)), to: day(Date.UTC(y, m + 1, 1)) };
}

/**
 * Binds the form. The node comes from ?rpc=URL, as for the receipt check, and
 * the period from ?from=…&to=… (this month when not given), so that an audit
 * can be sent as a link.
 */
export function setupAudit() {
  const month = thisMonth();
  const params = new URLSearchParams(window.location.search);
  input("audit-from").value = params.get("from") || month.from;
  input("audit-to").value = params.get("to") || month.to;
  const node = params.get("rpc");
  if (node) input("audit-rpc").value = node;
  const contract = params.get("contract"), chain = params.get("chain");
  if (contract || chain) {
    givenByUser = true;
    linked = true;
    $("audit-trust-linked").hidden = false;
    input("audit-contract").value = contract || "";
    input("audit-chain").value = chain || "";
  }
  for (const id of ["audit-contract", "audit-chain"]) {
    input(id).addEventListener("input", () => {
      givenByUser = true;
      linked = false;
      $("audit-trust-linked").hidden = true;
    });
  }
  $("audit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    runAudit();
  });
}

/**
 * Called when the route opens the view: fills in the contract the service
 * publishes, unless the user gave one.
 */
export function showAudit() {
  publishedTrust().then((trust) => {
    const current = (trust.deployments || []).find((d) => /** @type {any} */ (d).current);
    if (!current || givenByUser) return;
    input("audit-contract").value = String(current.address);
    input("audit-chain").value = String(current.chain_id);
  }).catch(() => { /* the audit asks for the contract when it starts */ });
  renderAudit();
}

async function runAudit() {
  const mine = ++run;
  const node = input("audit-rpc").value.trim();
  let period;
  try {
    period = parsePeriod(input("audit-from").value, input("audit-to").value);
  } catch (e) {
    if (!(e instanceof PeriodInputError)) throw e;
    const which = e.vars.which === "from" ? t("auditFromName") : e.vars.which === "to" ? t("auditToName") : "";
    state = { error: t(e.code, { ...e.vars, which }) };
    renderAudit();
    return;
  }
  if (!/^https?:\/\/\S+$/.test(node)) {
    state = { error: t(node ? "nodeBadUrl" : "auditNeedsNode") };
    renderAudit();
    input("audit-rpc").focus();
    return;
  }
  let trusted;
  try {
    trusted = parseGivenDeployment(input("audit-contract").value, input("audit-chain").value);
    if (trusted === null) throw new DeploymentInputError("trustBadContract");
  } catch (e) {
    if (!(e instanceof DeploymentInputError)) throw e;
    state = { error: t(e.code) };
    renderAudit();
    input(e.code === "trustBadChain" ? "audit-chain" : "audit-contract").focus();
    return;
  }
  const contract = trusted.address;
  const source = trustSource(givenByUser, linked);
  state = { node, progress: { done: 0, total: 0 } };
  renderAudit();
  const chain = nodeClient(node, contract);
  try {
    const chainId = await chain.chainId();
    if (chainId !== trusted.chain_id) {
      throw new CannotRunError(t("auditWrongChain", { node, chain: chainId, expected: trusted.chain_id }));
    }
    if (!(await chain.hasCode())) throw new CannotRunError(t("auditNoContract", { contract, chain: chainId }));
    const report = await auditPeriod({
      chain, service, start: period.start, end: period.end,
      onProgress: (done, total) => {
        if (mine !== run) return;
        state = { node, progress: { done, total } };
        showAuditProgress();
      }
    });
    if (mine !== run) return;
    state = { report, chainId, source };
  } catch (e) {
    if (mine !== run) return;
    const message = e instanceof Error ? e.message : String(e);
    state = {
      error: e instanceof CannotRunError ? message
        : e instanceof NodeUnreachableError ? t("nodeUnreachable", { node })
          : t("auditFailed", { msg: message })
    };
  }
  renderAudit();
}

function showAuditProgress() {
  const p = state && state.progress;
  if (!p) {
    hideProgress("audit");
    return;
  }
  showProgress("audit", p.done, p.total, t("auditProgress", { done: formatNumber(p.done), total: formatNumber(p.total) }));
}

/** @param {Finding} f */
function findingText(f) {
  // A checkpoint the chain has no record of at all reads differently from one it holds otherwise.
  const absent = f.kind === "checkpoint_not_on_chain" && !("chainRoot" in f.vars);
  return t(absent ? "auditFinding_checkpoint_absent" : "auditFinding_" + f.kind, f.vars);
}

/** @param {string} value */
function code(value) {
  return el("code", { className: "hash", text: value });
}

/**
 * A checkpoint of the period: its row, and under it, when its range failed or
 * something else is wrong with it, a row that says why.
 * @param {PeriodCheckpoint} c
 * @param {Finding[]} findings
 * @param {number} columns
 */
function checkpointRows(c, findings, columns) {
  const r = c.range;
  const label = t(r.status === "valid" ? "auditRangeValid" : r.status === "invalid" ? "auditRangeInvalid" : "auditRangeUnproven");
  const tone = r.status === "valid" ? "pill pill-good" : r.status === "invalid" ? "pill pill-bad" : "pill pill-muted";
  /** @type {HTMLElement[]} */
  const why = [];
  if (r.finding) why.push(el("p", null, [el("code", { text: r.finding.kind }), " " + findingText(r.finding)]));
  else if (r.status === "unproven") why.push(el("p", { text: t("auditRangeUnprovenWhy") }));
  for (const f of findings) {
    if (f.seq === c.seq && f !== r.finding) why.push(el("p", null, [el("code", { text: f.kind }), " " + findingText(f)]));
  }
  return el("tbody", { className: r.status === "valid" && !why.length ? "checkpoint-ok" : "checkpoint-bad" }, [
    el("tr", null, [
      el("th", { scope: "row", text: String(c.seq) }),
      el("td", { className: "num", text: formatNumber(c.treeSize) }),
      el("td", { className: "num", text: t("auditRangeLeaves", { start: r.start, end: r.end }) }),
      el("td", null, [code(c.root)]),
      el("td", { className: "num", text: String(c.blockNumber) }),
      el("td", { text: isoTime(c.timestamp) }),
      el("td", null, [code(c.txHash)]),
      el("td", null, [el("strong", { className: tone, text: label })])
    ]),
    why.length ? el("tr", { className: "range-why" }, [el("td", { colspan: String(columns) }, why)]) : null
  ]);
}

/**
 * @param {PeriodReport} report
 * @param {number | undefined} chainId
 * @param {import("../receipt.js").TrustSource | undefined} source
 * @returns {HTMLElement[]}
 */
function reportParts(report, chainId, source) {
  const n = report.checkpoints.length;
  const summary = report.valid
    ? el("div", { className: "notice notice-good" }, [
      el("p", { text: n ? t("auditValid", { count: n, leaves: formatNumber(report.leaves.checked) }) : t("auditValidEmpty") })
    ])
    : el("div", { className: "notice notice-bad" }, [el("p", { text: t("auditInvalid", { count: report.findings.length }) })]);
  const facts = el("dl", { className: "facts" });
  /** @param {string} key @param {Node | string} value */
  const fact = (key, value) => facts.appendChild(el("div", { className: "fact" }, [el("dt", { text: t(key) }), el("dd", null, [value])]));
  fact("auditPeriod", t("auditPeriodValue", { from: isoTime(report.start), to: isoTime(report.end) }));
  fact("auditContract", el("span", null, [
    code(report.contract), " " + t("auditOnChain", { chain: chainId ?? "?" }) + ", ",
    el("strong", {
      className: "trust-source trust-" + (source || "published"),
      text: t(source === "given" ? "trustSourceGiven" : source === "linked" ? "trustSourceLinked" : "trustSourcePublished")
    })
  ]));
  fact("auditBase", report.base
    ? t("auditBaseValue", { seq: report.base.seq, size: formatNumber(report.base.treeSize) })
    : t("auditBaseNone"));
  fact("auditLeaves", t("auditLeavesValue", {
    start: report.leaves.start, end: report.leaves.end,
    checked: formatNumber(report.leaves.checked), unproven: formatNumber(report.leaves.unproven)
  }));
  /** @type {HTMLElement[]} */
  const parts = [summary];
  if (source === "linked") {
    // Whoever wrote the link chose the contract: the user compares it with the one they know.
    parts.push(el("div", { className: "notice notice-warn trust-line trust-linked" }, [
      el("p", { text: t("trustLinked", { contract: report.contract, chain: String(chainId ?? "?") }) })
    ]));
  }
  parts.push(facts);
  if (n) {
    const head = ["auditColSeq", "auditColSize", "auditColLeaves", "auditColRoot", "auditColBlock", "auditColTime", "auditColTx", "auditColRange"];
    parts.push(scrollTable(el("table", { className: "data checkpoints" }, [
      el("caption", { text: t("auditTableCaption", { count: n }) }),
      el("thead", null, [el("tr", null, head.map((k) => el("th", { scope: "col", text: t(k) })))]),
      ...report.checkpoints.map((c) => checkpointRows(c, report.findings, head.length))
    ])));
  }
  // Findings about no checkpoint of the period (the listing, checkpoints outside it).
  const shown = new Set(report.checkpoints.map((c) => c.seq));
  const others = report.findings.filter((f) => f.seq === null || !shown.has(f.seq));
  if (others.length) {
    parts.push(el("section", { className: "card findings", "aria-labelledby": "audit-findings-title" }, [
      el("h2", { id: "audit-findings-title", text: t("auditFindingsTitle") }),
      el("ul", null, others.map((f) => el("li", null, [el("code", { text: f.kind }), " " + findingText(f)])))
    ]));
  }
  parts.push(el("p", { className: "hint", text: t("auditOpeningsNote") }));
  return parts;
}

/** Draws the view's state (the form's texts follow the page's language by themselves). */
export function renderAudit() {
  const status = $("audit-status"), result = $("audit-result");
  showAuditProgress();
  clear(status);
  clear(result);
  result.removeAttribute("aria-busy");
  if (!state) return;
  if (state.progress) {
    status.appendChild(el("p", { text: t("auditRunning", { node: state.node || "" }) }));
    result.setAttribute("aria-busy", "true");
    return;
  }
  if (state.error) {
    status.appendChild(el("p", { text: t("auditCouldNotRun") }));
    result.appendChild(errorBox(state.error));
    return;
  }
  const report = /** @type {PeriodReport} */ (state.report);
  status.appendChild(el("p", { text: report.valid ? t("auditStatusValid") : t("auditStatusInvalid") }));
  for (const part of reportParts(report, state.chainId, state.source)) result.appendChild(part);
}

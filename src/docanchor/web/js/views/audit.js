// @ts-check
/**
 * The auditor's view of a period: pick the dates, see the checkpoints the
 * chain holds for them, and each range of leaves checked in this browser.
 *
 * The checks are `../audit.js`'s; this module only asks: the user's own node
 * (JSON-RPC, `?rpc=` or the field) for the contract's `Anchored` events and
 * `getAnchor` records, and the service for its public log endpoints. No key
 * is sent anywhere, and nothing the service says is shown as proved unless
 * the chain confirms it.
 */

import {
  ANCHORED_TOPIC,
  AnswerError,
  PeriodInputError,
  auditPeriod,
  isoTime,
  parsePeriod,
} from "../audit.js";

/**
 * @typedef {import("../audit.js").PeriodReport} PeriodReport
 * @typedef {import("../audit.js").Finding} Finding
 * @typedef {(key: string, vars?: Record<string, string | number>) => string} Translate
 */

/** A JSON-RPC error answered by the node (as opposed to a node that cannot be reached). */
class RpcError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "RpcError";
  }
}

/** A request this view cannot do without (the node, the service): the audit did not run. */
class UnreachableError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "UnreachableError";
  }
}

/**
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {(Node | string | null | undefined | false)[]} [children]
 * @returns {HTMLElement}
 */
function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = String(v);
    else if (k === "className") node.className = String(v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children || []) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

/** @param {Node} node */
function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** @param {string} value */
function code(value) {
  return el("code", { className: "hash", text: value });
}

/**
 * The user's node, pointed at `contract`: every `Anchored` log and `eth_call`s.
 * @param {string} url @param {string} contract @param {AbortSignal} signal @param {Translate} t
 */
function nodeClient(url, contract, signal, t) {
  let id = 0;
  /** @param {string} method @param {unknown[]} params */
  async function rpc(method, params) {
    let res;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
        signal,
      });
    } catch (e) {
      if (signal.aborted) throw e;
      throw new UnreachableError(t("nodeUnreachable", { node: url }));
    }
    let body;
    try {
      body = await res.json();
    } catch (e) {
      throw new UnreachableError(t("auditNodeNotJson", { node: url, status: res.status }));
    }
    if (body && body.error) throw new RpcError(method + ": " + (body.error.message || JSON.stringify(body.error)));
    return body ? body.result : undefined;
  }

  /**
   * Logs of [from, to]; a range the node refuses (too many blocks or results)
   * is asked for in halves.
   * @param {number} from @param {number} to @returns {Promise<unknown[]>}
   */
  async function logs(from, to) {
    try {
      const found = await rpc("eth_getLogs", [{
        address: contract, fromBlock: "0x" + from.toString(16), toBlock: "0x" + to.toString(16),
        topics: [ANCHORED_TOPIC],
      }]);
      if (!Array.isArray(found)) throw new RpcError("eth_getLogs did not answer a list");
      return found;
    } catch (e) {
      if (!(e instanceof RpcError) || from >= to) throw e;
      const mid = Math.floor((from + to) / 2);
      return [...(await logs(from, mid)), ...(await logs(mid + 1, to))];
    }
  }

  return {
    address: contract,
    /** @returns {Promise<number>} */
    chainId: async () => Number(BigInt(String(await rpc("eth_chainId", [])))),
    /** @returns {Promise<boolean>} */
    hasCode: async () => String(await rpc("eth_getCode", [contract, "latest"])).replace(/^0x/, "") !== "",
    anchoredLogs: async () => {
      const head = Number(BigInt(String(await rpc("eth_blockNumber", []))));
      return logs(0, head);
    },
    /** @param {string} data */
    call: (data) => rpc("eth_call", [{ to: contract, data }, "latest"]),
  };
}

/**
 * The service's public log endpoints, answered as they come.
 * @param {AbortSignal} signal @param {Translate} t
 */
function serviceClient(signal, t) {
  /** @param {string} path */
  async function get(path) {
    let res;
    try {
      res = await fetch(path, { headers: { Accept: "application/json" }, signal });
    } catch (e) {
      if (signal.aborted) throw e;
      throw new UnreachableError(t("errorNetwork"));
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const detail = body && typeof body.detail === "string" ? ": " + body.detail : "";
      throw new AnswerError(`GET ${path.split("?")[0]} answered ${res.status}${detail}`);
    }
    if (body === null) throw new AnswerError(`GET ${path.split("?")[0]} did not answer JSON`);
    return body;
  }
  return {
    /** @param {number} start @param {number} limit */
    checkpoints: (start, limit) => get(`/v1/log/checkpoints?start=${start}&limit=${limit}`),
    /** @param {number} size */
    compactRange: (size) => get(`/v1/log/compact-range?size=${size}`),
    /** @param {number} start @param {number} end */
    leaves: (start, end) => get(`/v1/log/leaves?start=${start}&end=${end}`),
    deployments: () => get("/v1/deployments"),
  };
}

/** The first day of this month and of the next, in UTC: the period shown first. */
function thisMonth() {
  const now = new Date();
  const y = now.getUTCFullYear(), m = now.getUTCMonth();
  const day = (/** @type {number} */ ms) => new Date(ms).toISOString().slice(0, 10);
  return { from: day(Date.UTC(y, m, 1)), to: day(Date.UTC(y, m + 1, 1)) };
}

/**
 * The view. `mount` builds its form once; `render` redraws it in the current
 * language; `show` is called when the route opens it.
 * @param {{root: HTMLElement, t: Translate,
 *   formatNumber: (n: number) => string, rpcFromUrl: () => string | null}} deps
 */
export function createAuditView(deps) {
  const { root, t } = deps;
  /** @type {{report?: PeriodReport, error?: string, node?: string, chainId?: number,
   *   running?: boolean, done?: number, total?: number} | null} */
  let state = null;
  /** @type {AbortController | null} */
  let running = null;
  let contractFromService = "";

  const title = el("h1", { id: "audit-title", tabindex: "-1" });
  const lead = el("p", { className: "lead" });
  const from = el("input", { id: "audit-from", name: "from", type: "text", inputmode: "numeric", autocomplete: "off", "aria-describedby": "audit-from-hint", required: true });
  const to = el("input", { id: "audit-to", name: "to", type: "text", inputmode: "numeric", autocomplete: "off", "aria-describedby": "audit-to-hint", required: true });
  const rpcField = el("input", { id: "audit-rpc", name: "rpc", type: "url", inputmode: "url", autocomplete: "url", placeholder: "https://", "aria-describedby": "audit-rpc-hint", required: true });
  const contractField = el("input", { id: "audit-contract", name: "contract", type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": "audit-contract-hint" });
  const labels = {
    from: el("label", { for: "audit-from" }), to: el("label", { for: "audit-to" }),
    rpc: el("label", { for: "audit-rpc" }), contract: el("label", { for: "audit-contract" }),
  };
  const hints = {
    from: el("p", { className: "hint", id: "audit-from-hint" }), to: el("p", { className: "hint", id: "audit-to-hint" }),
    rpc: el("p", { className: "hint", id: "audit-rpc-hint" }), contract: el("p", { className: "hint", id: "audit-contract-hint" }),
  };
  const submit = el("button", { type: "submit", className: "btn btn-primary", id: "audit-submit" });
  const form = el("form", { id: "audit-form", className: "card form", novalidate: true }, [
    el("div", { className: "field" }, [labels.from, from, hints.from]),
    el("div", { className: "field" }, [labels.to, to, hints.to]),
    el("div", { className: "field" }, [labels.rpc, rpcField, hints.rpc]),
    el("div", { className: "field" }, [labels.contract, contractField, hints.contract]),
    submit,
  ]);
  const bar = /** @type {HTMLProgressElement} */ (el("progress", { id: "audit-progress-bar", max: "100", value: "0", "aria-labelledby": "audit-progress-label" }));
  const barLabel = el("span", { id: "audit-progress-label" });
  const progress = el("div", { className: "progress-row", id: "audit-progress", hidden: true }, [bar, barLabel]);
  const status = el("div", { id: "audit-status", className: "live", role: "status", "aria-live": "polite", "aria-atomic": "true" });
  const result = el("div", { id: "audit-result", className: "result" });
  root.append(title, lead, form, progress, status, result);

  const month = thisMonth();
  /** @type {HTMLInputElement} */ (from).value = month.from;
  /** @type {HTMLInputElement} */ (to).value = month.to;
  /** @type {HTMLInputElement} */ (rpcField).value = deps.rpcFromUrl() || "";
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run();
  });

  /** @param {Translate} tr */
  function loadContract(tr) {
    const field = /** @type {HTMLInputElement} */ (contractField);
    if (field.value) return;
    serviceClient(new AbortController().signal, tr).deployments().then((body) => {
      const current = (body.deployments || []).find((/** @type {any} */ d) => d.current);
      if (current && !field.value) {
        field.value = String(current.address);
        contractFromService = String(current.address);
        field.dataset.chainId = String(current.chain_id);
      }
    }).catch(() => { /* the audit says so when it starts */ });
  }

  async function run() {
    if (running) running.abort();
    const controller = new AbortController();
    running = controller;
    const signal = controller.signal;
    const node = /** @type {HTMLInputElement} */ (rpcField).value.trim();
    const contract = /** @type {HTMLInputElement} */ (contractField).value.trim();
    state = null;
    let period;
    try {
      period = parsePeriod(/** @type {HTMLInputElement} */ (from).value, /** @type {HTMLInputElement} */ (to).value);
    } catch (e) {
      if (!(e instanceof PeriodInputError)) throw e;
      state = { error: t(e.code, e.vars.which ? { ...e.vars, which: t(e.vars.which === "from" ? "auditFromName" : "auditToName") } : e.vars) };
      render();
      return;
    }
    if (!/^https?:\/\/\S+$/.test(node)) {
      state = { error: t(node ? "nodeBadUrl" : "auditNeedsNode") };
      render();
      /** @type {HTMLInputElement} */ (rpcField).focus();
      return;
    }
    if (!/^0x[0-9a-fA-F]{40}$/.test(contract)) {
      state = { error: t("auditBadContract") };
      render();
      return;
    }
    state = { running: true, done: 0, total: 0, node };
    render();
    const service = serviceClient(signal, t);
    const chain = nodeClient(node, contract, signal, t);
    try {
      const chainId = await chain.chainId();
      const published = /** @type {HTMLInputElement} */ (contractField).dataset.chainId;
      if (contract === contractFromService && published && Number(published) !== chainId) {
        throw new UnreachableError(t("auditWrongChain", { node, chain: chainId, expected: published }));
      }
      if (!(await chain.hasCode())) throw new UnreachableError(t("auditNoContract", { contract, chain: chainId }));
      const report = await auditPeriod({
        chain, service, start: period.start, end: period.end,
        onProgress: (done, total) => {
          if (running !== controller) return;
          state = { running: true, done, total, node };
          showProgress();
        },
      });
      if (running !== controller) return;
      state = { report, node, chainId };
    } catch (e) {
      if (running !== controller || signal.aborted) return;
      const message = e instanceof Error ? e.message : String(e);
      state = { error: e instanceof UnreachableError ? message : t("auditFailed", { msg: message }) };
    }
    running = null;
    render();
  }

  function showProgress() {
    if (!state || !state.running) {
      progress.hidden = true;
      return;
    }
    progress.hidden = false;
    const total = state.total || 0;
    bar.max = total > 0 ? total : 1;
    bar.value = total > 0 ? state.done || 0 : 0;
    barLabel.textContent = t("auditProgress", { done: deps.formatNumber(state.done || 0), total: deps.formatNumber(total) });
  }

  /** @param {Finding} f */
  function findingText(f) {
    // A checkpoint the chain has no record of at all reads differently from one it holds otherwise.
    const absent = f.kind === "checkpoint_not_on_chain" && !("chainRoot" in f.vars);
    return t(absent ? "auditFinding_checkpoint_absent" : "auditFinding_" + f.kind, f.vars);
  }

  /**
   * A checkpoint of the period: its row, and under it, when its range failed or
   * something else is wrong with it, a row that says why.
   * @param {import("../audit.js").PeriodCheckpoint} c @param {Finding[]} findings
   * @param {number} columns
   */
  function checkpointRows(c, findings, columns) {
    const r = c.range;
    const label = t(r.status === "valid" ? "auditRangeValid" : r.status === "invalid" ? "auditRangeInvalid" : "auditRangeUnproven");
    const cls = r.status === "valid" ? "pill pill-good" : r.status === "invalid" ? "pill pill-bad" : "pill pill-muted";
    const why = [
      r.finding ? el("p", null, [el("code", { text: r.finding.kind }), " " + findingText(r.finding)]) : null,
      !r.finding && r.status === "unproven" ? el("p", { text: t("auditRangeUnprovenWhy") }) : null,
      ...findings.filter((f) => f.seq === c.seq && f !== r.finding).map((f) => el("p", null, [
        el("code", { text: f.kind }), " " + findingText(f),
      ])),
    ].filter((x) => x !== null);
    const ok = r.status === "valid" && why.length === 0;
    return el("tbody", { className: ok ? "checkpoint-ok" : "checkpoint-bad" }, [
      el("tr", null, [
        el("th", { scope: "row", text: String(c.seq) }),
        el("td", { className: "num", text: deps.formatNumber(c.treeSize) }),
        el("td", { className: "num", text: t("auditRangeLeaves", { start: c.range.start, end: c.range.end }) }),
        el("td", null, [code(c.root)]),
        el("td", { className: "num", text: String(c.blockNumber) }),
        el("td", { text: isoTime(c.timestamp) }),
        el("td", null, [code(c.txHash)]),
        el("td", null, [el("strong", { className: cls, text: label })]),
      ]),
      why.length ? el("tr", { className: "range-why" }, [el("td", { colspan: String(columns) }, why)]) : null,
    ]);
  }

  /** @param {PeriodReport} report @param {number | undefined} chainId */
  function renderReport(report, chainId) {
    const n = report.checkpoints.length;
    const verdict = report.valid
      ? el("div", { className: "notice notice-good verdict" }, [
        el("p", { text: n ? t("auditValid", { count: n, leaves: deps.formatNumber(report.leaves.checked) }) : t("auditValidEmpty") }),
      ])
      : el("div", { className: "notice notice-bad verdict" }, [
        el("p", { text: t("auditInvalid", { count: report.findings.length }) }),
      ]);
    const facts = el("dl", { className: "facts" });
    /** @param {string} key @param {Node | string} value */
    const fact = (key, value) => facts.appendChild(el("div", { className: "fact" }, [el("dt", { text: t(key) }), el("dd", null, [value])]));
    fact("auditPeriod", t("auditPeriodValue", { from: isoTime(report.start), to: isoTime(report.end) }));
    fact("auditContract", el("span", null, [code(report.contract), " " + t("auditOnChain", { chain: chainId ?? "?" })]));
    fact("auditBase", report.base
      ? t("auditBaseValue", { seq: report.base.seq, size: deps.formatNumber(report.base.treeSize) })
      : t("auditBaseNone"));
    fact("auditLeaves", t("auditLeavesValue", {
      start: report.leaves.start, end: report.leaves.end,
      checked: deps.formatNumber(report.leaves.checked), unproven: deps.formatNumber(report.leaves.unproven),
    }));

    const parts = [verdict, facts];
    if (n) {
      const head = ["auditColSeq", "auditColSize", "auditColLeaves", "auditColRoot", "auditColBlock", "auditColTime", "auditColTx", "auditColRange"];
      const table = el("table", { className: "data checkpoints" }, [
        el("caption", { text: t("auditTableCaption", { count: n }) }),
        el("thead", null, [el("tr", null, head.map((k) => el("th", { scope: "col", text: t(k) })))]),
        ...report.checkpoints.map((c) => checkpointRows(c, report.findings, head.length)),
      ]);
      parts.push(el("div", { className: "table-scroll", tabindex: "0", role: "region", "aria-label": t("tableScroll") }, [table]));
    }
    const shown = new Set(report.checkpoints.map((c) => c.seq));
    const others = report.findings.filter((f) => f.seq === null || !shown.has(f.seq));
    if (others.length) {
      parts.push(el("section", { className: "card findings", "aria-labelledby": "audit-findings-title" }, [
        el("h2", { id: "audit-findings-title", text: t("auditFindingsTitle") }),
        el("ul", null, others.map((f) => el("li", null, [el("code", { text: f.kind }), " " + findingText(f)]))),
      ]));
    }
    parts.push(el("p", { className: "hint", text: t("auditOpeningsNote") }));
    return parts;
  }

  function render() {
    title.textContent = t("auditTitle");
    lead.textContent = t("auditIntro");
    labels.from.textContent = t("auditFromLabel");
    labels.to.textContent = t("auditToLabel");
    labels.rpc.textContent = t("auditRpcLabel");
    labels.contract.textContent = t("auditContractLabel");
    hints.from.textContent = t("auditFromHint");
    hints.to.textContent = t("auditToHint");
    hints.rpc.textContent = t("auditRpcHint");
    hints.contract.textContent = t("auditContractHint");
    submit.textContent = t("auditSubmit");
    showProgress();
    clear(status);
    clear(result);
    result.removeAttribute("aria-busy");
    if (!state) return;
    if (state.running) {
      status.appendChild(el("p", { text: t("auditRunning", { node: state.node || "" }) }));
      result.setAttribute("aria-busy", "true");
      return;
    }
    if (state.error) {
      status.appendChild(el("p", { text: t("auditCouldNotRun") }));
      result.appendChild(el("div", { className: "notice notice-bad" }, [el("p", { text: state.error })]));
      return;
    }
    const report = /** @type {PeriodReport} */ (state.report);
    status.appendChild(el("p", { text: report.valid ? t("auditStatusValid") : t("auditStatusInvalid") }));
    for (const part of renderReport(report, state.chainId)) result.appendChild(part);
  }

  return {
    render,
    show() {
      loadContract(t);
      render();
    },
  };
}

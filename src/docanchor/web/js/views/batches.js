// @ts-check
/**
 * The auditor's view: the anchored batches, one batch with its leaves, and
 * its root recomputed in this browser from every leaf (or from the log's
 * compact range before the batch and the batch's leaves).
 */

import { ApiError, api, messageOf } from "../api.js";
import { config } from "../config.js";
import { $, announce, appendIf, clear, copyButton, dl, el, errorBox, hashCode, hideProgress, pager, restorePagerFocus, scrollTable, showProgress, verdict } from "../dom.js";
import { formatNumber, formatTime, plainNumber, shortHash } from "../format.js";
import { t } from "../i18n.js";
import { merkleRoot, rangeRoot } from "../merkle.js";
import { HEX64, hexInto, toHex } from "../sha256.js";

/** @type {{offset: number, data: any, error: string | null}} */
const listState = { offset: 0, data: null, error: null };

/**
 * @typedef {object} BatchState
 * @property {number | null} id
 * @property {any} batch
 * @property {string | null} error
 * @property {any} leaves
 * @property {number} leafOffset
 * @property {string | null} leafError
 * @property {{computed: string, recorded: string, match: boolean} | {error: string} | null} recompute
 */

/** @type {BatchState} */
let batchState = { id: null, batch: null, error: null, leaves: null, leafOffset: 0, leafError: null, recompute: null };


/**
 * The list carries no confirmation counts; one batch's detail gives the
 * node's head, from which every listed batch's count follows.
 * @param {any[]} list
 * @returns {Promise<number | null>}
 */
async function headFor(list) {
  const anchored = list.filter((b) => b.block_number !== null && b.block_number !== undefined);
  if (!anchored.length) return null;
  try {
    const detail = await api("GET", "/v1/batches/" + anchored[0].id);
    if (detail.confirmations === null || detail.confirmations === undefined) return null;
    return detail.block_number + detail.confirmations - 1;
  } catch (e) {
    return null; // the counts are shown as unknown
  }
}

/** @param {number} [offset] */
export async function loadBatches(offset = listState.offset) {
  listState.offset = offset;
  announce("batches-status", t("batchesLoading"));
  try {
    const data = await api("GET", "/v1/batches?offset=" + offset + "&limit=" + config.batchesShown);
    const head = await headFor(data.batches || []);
    for (const b of data.batches || []) {
      if (b.confirmations === undefined) {
        b.confirmations = head !== null && b.block_number !== null && b.block_number !== undefined &&
          (b.status === "anchored" || b.status === "confirmed")
          ? Math.max(0, head - b.block_number + 1) : null;
      }
    }
    listState.data = data;
    listState.error = null;
  } catch (e) {
    listState.data = null;
    listState.error = messageOf(e);
  }
  renderBatches();
}

/**
 * "Page N of M" for a list shown `size` items at a time from `offset`.
 * @param {number} offset
 * @param {number} size
 * @param {number} total
 */
function pageText(offset, size, total) {
  return t("pageOf", { page: Math.floor(offset / size) + 1, pages: Math.max(1, Math.ceil(total / size)) });
}

export function renderBatches() {
  const out = $("batches-result");
  clear(out);
  const s = listState;
  if (s.error) {
    announce("batches-status", s.error);
    out.appendChild(errorBox(s.error));
    return;
  }
  if (!s.data) return;
  const d = s.data, list = d.batches || [];
  if (!list.length) {
    announce("batches-status", t("batchesNone"));
    return;
  }
  const from = d.offset + 1, to = d.offset + list.length;
  const caption = t("batchesCaption", { from: formatNumber(from), to: formatNumber(to), total: formatNumber(d.total) });
  announce("batches-status", caption);
  const body = el("tbody");
  for (const b of list) {
    body.appendChild(el("tr", null, [
      el("th", { scope: "row" }, [el("a", { href: "#/batches/" + b.id, text: t("batchLink", { id: b.id }) })]),
      el("td", { className: "num", text: formatNumber(b.size) }),
      el("td", null, [el("code", { className: "hash", title: b.root || "", text: shortHash(b.root) })]),
      el("td", { className: "num", text: b.seq === null || b.seq === undefined ? t("none") : String(b.seq) }),
      el("td", null, [el("code", { className: "hash", title: b.tx_hash || "", text: shortHash(b.tx_hash) })]),
      el("td", { className: "num", text: plainNumber(b.block_number) }),
      el("td", { className: "num", text: formatNumber(b.confirmations) }),
      el("td", { text: t("status_" + b.status) })
    ]));
  }
  out.appendChild(scrollTable(el("table", { className: "data" }, [
    el("caption", { className: "visually-hidden", text: caption }),
    el("thead", null, [el("tr", null, [
      el("th", { scope: "col", text: t("colBatch") }),
      el("th", { scope: "col", text: t("colSize") }),
      el("th", { scope: "col", text: t("colRoot") }),
      el("th", { scope: "col", text: t("colSeq") }),
      el("th", { scope: "col", text: t("colTx") }),
      el("th", { scope: "col", text: t("colBlock") }),
      el("th", { scope: "col", text: t("colConfirmations") }),
      el("th", { scope: "col", text: t("colStatus") })
    ])]),
    body
  ])));
  const pageSize = config.batchesShown;
  appendIf(out, pager("batches", {
    hasPrev: d.offset > 0,
    hasNext: to < d.total,
    text: pageText(d.offset, pageSize, d.total)
  }, () => { loadBatches(Math.max(0, d.offset - pageSize)); },
  () => { loadBatches(d.offset + pageSize); }, t("prevBatches"), t("nextBatches")));
  restorePagerFocus(out);
}

/** @param {number} id */
export async function loadBatch(id) {
  batchState = { id, batch: null, error: null, leaves: null, leafOffset: 0, leafError: null, recompute: null };
  $("batch-title").textContent = t("batchTitle", { id });
  clear($("batch-info"));
  clear($("leaves-result"));
  $("recompute-card").hidden = true;
  $("leaves-section").hidden = true;
  announce("recompute-result", "");
  hideProgress("recompute");
  announce("batch-status", t("batchLoading"));
  try {
    const b = await api("GET", "/v1/batches/" + encodeURIComponent(id));
    if (batchState.id !== id) return;
    batchState.batch = b;
  } catch (e) {
    if (batchState.id !== id) return;
    batchState.error = messageOf(e);
  }
  renderBatch();
  if (batchState.batch) loadLeaves(0);
}

export function renderBatch() {
  const s = batchState;
  $("batch-title").textContent = t("batchTitle", { id: s.id });
  const info = $("batch-info");
  clear(info);
  if (s.error) {
    announce("batch-status", s.error);
    info.appendChild(errorBox(s.error));
    return;
  }
  if (!s.batch) return;
  announce("batch-status", "");
  const b = s.batch;
  info.appendChild(el("div", { className: "card" }, [dl([
    [t("status"), t("status_" + b.status)],
    [t("size"), formatNumber(b.size)],
    [t("root"), hashCode(b.root || t("none"), "selectable")],
    [t("seq"), b.seq === null || b.seq === undefined ? t("none") : String(b.seq)],
    [t("transaction"), b.tx_hash ? el("span", { className: "hash-row" }, [hashCode(b.tx_hash, "selectable"), copyButton(b.tx_hash, t("copyTx"))]) : t("notAnchoredYet")],
    [t("block"), plainNumber(b.block_number)],
    b.block_hash ? [t("blockHash"), hashCode(b.block_hash)] : null,
    [t("anchoredAt"), b.timestamp ? formatTime(b.timestamp) : t("notAnchoredYet")],
    [t("confirmations"), formatNumber(b.confirmations)],
    b.chain_id ? [t("network"), String(b.chain_id)] : null,
    b.contract ? [t("contract"), hashCode(b.contract)] : null,
    b.sealed_at ? [t("sealedAt"), formatTime(b.sealed_at)] : null
  ])]));
  $("recompute-card").hidden = false;
  $("leaves-section").hidden = false;
  renderRecompute();
  renderLeaves();
}

/** @param {number} offset */
async function loadLeaves(offset) {
  const id = batchState.id;
  if (id === null) return;
  batchState.leafOffset = offset;
  try {
    const d = await api("GET", "/v1/batches/" + encodeURIComponent(id) + "/leaves?offset=" + offset + "&limit=" + config.leavesShown);
    if (batchState.id !== id) return;
    batchState.leaves = d;
    batchState.leafError = null;
  } catch (e) {
    if (batchState.id !== id) return;
    batchState.leaves = null;
    batchState.leafError = messageOf(e);
  }
  renderLeaves();
}

function renderLeaves() {
  const out = $("leaves-result");
  clear(out);
  const s = batchState;
  if (s.leafError) {
    out.appendChild(errorBox(s.leafError));
    return;
  }
  if (!s.leaves) return;
  const d = s.leaves, leaves = d.leaves || [];
  const from = d.offset + 1, to = d.offset + leaves.length;
  const count = d.tree_size - (d.first_index || 0);
  const caption = t("leavesCaption", { from: formatNumber(from), to: formatNumber(to), total: formatNumber(count) });
  const body = el("tbody");
  leaves.forEach((/** @type {string} */ leaf, /** @type {number} */ i) => {
    body.appendChild(el("tr", null, [
      el("td", { className: "num", text: String(d.offset + i) }),
      el("td", null, [hashCode(leaf)])
    ]));
  });
  out.appendChild(scrollTable(el("table", { className: "data leaves" }, [
    el("caption", { text: caption }),
    el("thead", null, [el("tr", null, [
      el("th", { scope: "col", text: t("colIndex") }),
      el("th", { scope: "col", text: t("colLeaf") })
    ])]),
    body
  ])));
  const size = config.leavesShown;
  appendIf(out, pager("leaves", {
    hasPrev: d.offset > 0,
    hasNext: to < count,
    text: pageText(d.offset, size, count)
  }, () => { loadLeaves(Math.max(0, d.offset - size)); },
  () => { loadLeaves(d.offset + size); }, t("prevLeaves"), t("nextLeaves")));
  restorePagerFocus(out);
}

/** Fetches every leaf (paging through the API) and folds them into the root. */
async function recomputeRoot() {
  const id = batchState.id, b = batchState.batch;
  if (id === null || !b) return;
  const btn = /** @type {HTMLButtonElement} */ ($("recompute-btn"));
  btn.disabled = true;
  batchState.recompute = null;
  announce("recompute-result", "");
  try {
    let total = null, got = 0, first = 0, compact = [];
    let packed = new Uint8Array(0);
    while (total === null || got < total) {
      const d = await api("GET", "/v1/batches/" + encodeURIComponent(id) + "/leaves?offset=" + got + "&limit=" + config.leafPageSize);
      if (batchState.id !== id) return;
      if (total === null) {
        // A batch of the log adds the leaves [first_index, tree_size); the
        // compact range at first_index stands for every leaf before them.
        first = d.first_index === undefined ? 0 : d.first_index;
        compact = d.compact_range === undefined ? [] : d.compact_range;
        total = d.tree_size - first;
        if (!Number.isInteger(total) || total < 0) throw new Error("tree_size " + d.tree_size);
        if (b.size !== undefined && b.size !== null && total !== b.size) throw new Error("tree_size " + d.tree_size + " ≠ " + first + " + " + b.size);
        packed = new Uint8Array(total * 32);
      }
      const leaves = d.leaves || [];
      if (d.offset !== got) throw new Error("offset " + d.offset + " ≠ " + got);
      if (!leaves.length && got < total) throw new Error(got + " / " + total);
      if (got + leaves.length > total) throw new Error((got + leaves.length) + " > " + total);
      for (let i = 0; i < leaves.length; i++) {
        if (!HEX64.test(leaves[i])) throw new Error("leaf " + (got + i));
        hexInto(leaves[i], packed, (got + i) * 32);
      }
      got += leaves.length;
      showProgress("recompute", got, total, t("recomputeFetching", { done: formatNumber(got), total: formatNumber(total) }));
    }
    showProgress("recompute", total, total, t("recomputeHashing", { total: formatNumber(total) }));
    // Let the progress text paint before the synchronous hashing.
    await new Promise((resolve) => { setTimeout(resolve, 0); });
    const root = toHex(first === 0 && compact.length === 0 ? merkleRoot(packed, total) : rangeRoot(compact, first, packed, total));
    batchState.recompute = { computed: root, recorded: b.root, match: root === b.root };
  } catch (e) {
    batchState.recompute = { error: e instanceof ApiError ? e.message : t("recomputeBadLeaves", { msg: messageOf(e) }) };
  } finally {
    btn.disabled = false;
    hideProgress("recompute");
  }
  renderRecompute();
}

function renderRecompute() {
  const region = $("recompute-result");
  clear(region);
  const r = batchState.recompute;
  if (!r) return;
  if ("error" in r) {
    region.appendChild(errorBox(r.error));
    return;
  }
  region.appendChild(verdict(r.match ? "good" : "bad", t(r.match ? "recomputeMatch" : "recomputeMismatch"), [
    dl([[t("recomputeComputed"), hashCode(r.computed, "selectable")], [t("recomputeRecorded"), hashCode(r.recorded || t("none"), "selectable")]])
  ]));
}

/** Wires the recompute button. */
export function setupBatches() {
  $("recompute-btn").addEventListener("click", recomputeRoot);
}

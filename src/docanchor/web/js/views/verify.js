// @ts-check
/**
 * The supplier's view: a document chosen or dropped here is hashed in this
 * browser and only its SHA-256 is looked up; the QR landing (/?sha256=)
 * shows the record the code names until a copy of the file is checked.
 */

import { api, messageOf } from "../api.js";
import { $, announce, clear, copyButton, dl, downloadJson, el, errorBox, hashCode, hideProgress, scrollTable, showProgress, verdict } from "../dom.js";
import { hashFile } from "../filehash.js";
import { formatBytes, formatNumber, formatTime, plainNumber } from "../format.js";
import { t } from "../i18n.js";
import { readStamp } from "../stamp.js";

/**
 * What the view shows: a file (null on the QR landing), its digest, and the
 * service's answer or an error.
 * @typedef {{file: File | null, digest?: string, data?: any, error?: string, stamp?: import("../stamp.js").Stamp | null}} VerifyState
 */

/** @type {VerifyState | null} */
let state = null;
let run = 0;
/** The SHA-256 named by ?sha256= (the QR code of a stamped PDF). @type {string | null} */
let landingDigest = null;

/** @type {Record<string, {key: string, tone: "good" | "wait" | "bad"}>} */
const STATUS_VIEW = {
  confirmed: { key: "Confirmed", tone: "good" },
  anchored: { key: "Anchored", tone: "wait" },
  sealed: { key: "Sealed", tone: "wait" },
  pending: { key: "Pending", tone: "wait" },
  not_found: { key: "NotFound", tone: "bad" }
};

/**
 * Shows the record of the document a QR code names.
 * @param {string} digest
 */
export async function openLanding(digest) {
  const mine = ++run;
  landingDigest = digest;
  announce("verify-status", t("querying"));
  try {
    const data = await api("POST", "/v1/verify", { sha256: digest });
    if (mine !== run) return;
    state = { file: null, digest, data };
  } catch (e) {
    if (mine !== run) return;
    state = { file: null, digest, error: messageOf(e) };
  }
  renderVerify();
}

/** @param {File} file */
async function verifyFile(file) {
  const mine = ++run;
  state = null;
  clear($("verify-result"));
  $("verify-result").setAttribute("aria-busy", "true");
  announce("verify-status", t("hashing", { name: file.name }));
  let digest, stamp = null;
  try {
    const read = await readStamp(file);
    if (mine !== run) return;
    if (read && read.changed) {
      state = { file, error: t("stampChanged") };
      renderVerify();
      return;
    }
    stamp = /** @type {import("../stamp.js").Stamp | null} */ (read);
    digest = await hashFile(stamp ? file.slice(0, stamp.originalLength) : file, (done, total) => {
      if (mine !== run) return;
      showProgress("verify", done, total, t("hashProgress", { done: formatBytes(done), total: formatBytes(total) }));
    });
  } catch (e) {
    if (mine !== run) return;
    hideProgress("verify");
    state = { file, error: t("errorReadFile", { msg: messageOf(e) }) };
    renderVerify();
    return;
  }
  if (mine !== run) return;
  hideProgress("verify");
  announce("verify-status", t("querying"));
  try {
    const data = await api("POST", "/v1/verify", { sha256: digest });
    if (mine !== run) return;
    state = { file, digest, data, stamp };
  } catch (e) {
    if (mine !== run) return;
    state = { file, digest, error: messageOf(e), stamp };
  }
  renderVerify();
}

/**
 * The receipt of one registration among those the answer carries.
 * @param {any} data
 * @param {any} reg
 * @param {number} index
 */
function receiptFor(data, reg, index) {
  const receipts = data.receipts || [];
  if (receipts.length === (data.registrations || []).length && receipts[index]) return receipts[index];
  for (const r of receipts) {
    const meta = (r.document && r.document.metadata) || {};
    const batchId = r.batch ? r.batch.id : null;
    if ((reg.batch_id === undefined || batchId === reg.batch_id) && (meta.reference || null) === (reg.reference || null)) return r;
  }
  return receipts[index] || null;
}

/**
 * @param {any} data
 * @param {any} reg
 * @param {number} index
 * @param {number} count
 */
function renderRegistration(data, reg, index, count) {
  const a = reg.anchor;
  /** @type {[string, string | Node] | null} */
  let txRow = null;
  if (a && a.tx_hash) {
    txRow = [t("transaction"), el("span", { className: "hash-row" }, [
      hashCode(a.tx_hash, "selectable"),
      copyButton(a.tx_hash, t("copyTx"))
    ])];
  }
  const statusWord = t("status_" + (reg.status || "not_found"));
  /** @type {([string, string | Node] | null)[]} */
  const rows = [
    [t("status"), el("span", { className: "pill pill-" + (STATUS_VIEW[reg.status] || STATUS_VIEW.pending).tone, text: statusWord })],
    [t("entity"), reg.entity_ruc || t("none")],
    [t("reference"), reg.reference || t("none")],
    reg.type ? [t("docType"), reg.type] : null,
    reg.version !== null && reg.version !== undefined ? [t("version"), String(reg.version)] : null,
    [t("registeredAt"), formatTime(reg.registered_at)],
    [t("anchoredAt"), a ? formatTime(a.timestamp) : t("notAnchoredYet")],
    a ? [t("block"), plainNumber(a.block_number)] : null,
    txRow,
    reg.batch_id !== null && reg.batch_id !== undefined
      ? [t("batch"), el("a", { href: "#/batches/" + reg.batch_id, text: t("batchLink", { id: reg.batch_id }) })]
      : null,
    a && a.seq !== null && a.seq !== undefined ? [t("seq"), String(a.seq)] : null,
    a ? [t("network"), String(a.chain_id)] : null,
    a && a.contract ? [t("contract"), hashCode(a.contract)] : null
  ];
  const heading = count > 1 ? t("registration", { n: index + 1 }) : t("registration", { n: "" }).trim();
  const card = el("article", { className: "card", "aria-label": heading }, [
    count > 1 ? el("h3", { text: heading }) : null,
    dl(rows)
  ]);
  const receipt = receiptFor(data, reg, index);
  if (receipt) {
    card.appendChild(el("button", {
      type: "button", className: "btn",
      onclick: () => {
        downloadJson(receipt, t("receiptFileName") + "-" + data.sha256.slice(0, 12) + (count > 1 ? "-" + (index + 1) : "") + ".json");
      }
    }, [t("downloadReceipt")]));
  }
  return card;
}

/**
 * One table per (entity, reference) the document is registered under.
 * @param {any} data
 */
function renderVersions(data) {
  const versions = data.versions || [];
  if (!versions.length) return null;
  /** @type {{reference: string, items: any[]}[]} */
  const groups = [];
  /** @type {Map<string, {reference: string, items: any[]}>} */
  const byKey = new Map();
  for (const v of versions) {
    const key = (v.entity_ruc || "") + "\u0000" + (v.reference || "");
    let group = byKey.get(key);
    if (!group) {
      group = { reference: v.reference || "", items: [] };
      byKey.set(key, group);
      groups.push(group);
    }
    group.items.push(v);
  }
  const wrap = el("div", { className: "versions" });
  groups.forEach((g, gi) => {
    const titleId = "versions-title-" + gi;
    const body = el("tbody");
    for (const v of g.items) {
      body.appendChild(el("tr", { className: v.is_this_document ? "current" : null, "aria-current": v.is_this_document ? "true" : null }, [
        el("td", null, [String(v.version), v.is_this_document ? el("strong", { text: " (" + t("thisDocument") + ")" }) : null]),
        el("td", null, [hashCode(v.sha256)]),
        el("td", { text: t("status_" + v.status) }),
        el("td", { text: formatTime(v.registered_at) })
      ]));
    }
    const table = el("table", { className: "data", "aria-labelledby": titleId }, [
      el("thead", null, [el("tr", null, [
        el("th", { scope: "col", text: t("colVersion") }),
        el("th", { scope: "col", text: t("colDigest") }),
        el("th", { scope: "col", text: t("colStatus") }),
        el("th", { scope: "col", text: t("colRegistered") })
      ])]),
      body
    ]);
    wrap.appendChild(el("section", { "aria-labelledby": titleId }, [
      el("h2", { id: titleId, text: t("versionsTitle", { ref: g.reference }) }),
      scrollTable(table)
    ]));
  });
  return wrap;
}

export function renderVerify() {
  const out = $("verify-result");
  clear(out);
  out.removeAttribute("aria-busy");
  const s = state;
  if (!s) {
    announce("verify-status", "");
    return;
  }
  const fileFacts = el("div", null, [
    s.file
      ? el("p", { className: "file-line" }, [t("fileLine", { name: s.file.name, size: formatBytes(s.file.size) })])
      : el("p", { className: "file-line" }, [t("landingLine", { digest: s.digest })])
  ]);
  if (s.stamp) fileFacts.appendChild(el("p", { className: "notice stamped-line", text: t("stampedLine", { n: formatNumber(s.stamp.originalLength) }) }));
  if (!s.file) {
    fileFacts.appendChild(el("p", { className: "notice landing-invite", text: t("landingInvite") }));
  } else if (landingDigest && s.digest) {
    const same = s.digest === landingDigest;
    fileFacts.appendChild(el("p", {
      className: "notice landing-" + (same ? "match notice-good" : "mismatch notice-bad"),
      text: t(same ? "landingMatch" : "landingMismatch")
    }));
  }
  if (s.error && !s.data) {
    announce("verify-status", s.error);
    out.appendChild(fileFacts);
    out.appendChild(errorBox(s.error));
    return;
  }
  const data = s.data;
  const view = STATUS_VIEW[data.status] || STATUS_VIEW.pending;
  let title = t("st" + view.key + "Title");
  let text = t("st" + view.key + "Text");
  if (!s.file) { // the QR landing: the document's record; no file checked yet
    title = t("landingTitle", { status: t("status_" + data.status) });
    text = t("landingVerdict");
  }
  // The live region carries the verdict in words; the details follow below it.
  clear($("verify-status"));
  $("verify-status").appendChild(verdict(view.tone, title, [el("p", { className: "verdict-text", text })]));
  out.appendChild(fileFacts);
  out.appendChild(el("div", { className: "digest" }, [
    el("span", { className: "digest-label", text: t(s.file ? "digestLabel" : "landingDigestLabel") }),
    hashCode(s.digest || "", "selectable")
  ]));
  const regs = data.registrations || [];
  regs.forEach((/** @type {any} */ reg, /** @type {number} */ i) => { out.appendChild(renderRegistration(data, reg, i, regs.length)); });
  const versions = renderVersions(data);
  if (versions) out.appendChild(versions);
}

/** Wires the file input and the drop zone. */
export function setupVerify() {
  const input = /** @type {HTMLInputElement} */ ($("verify-file"));
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) verifyFile(input.files[0]);
  });
  const zone = $("dropzone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "dragend"]) {
    zone.addEventListener(type, () => { zone.classList.remove("dragging"); });
  }
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files[0]) verifyFile(files[0]);
  });
  // A file dropped beside the zone must not make the browser open it.
  window.addEventListener("dragover", (e) => { e.preventDefault(); });
  window.addEventListener("drop", (e) => { e.preventDefault(); });
}

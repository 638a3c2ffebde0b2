// @ts-check
/**
 * The receipt check: a receipt file (or a stamped PDF carrying one), read
 * strictly here, its deployment checked against the one the user gives
 * (`?contract=0x…&chain=N` or the fields) or else those the service
 * publishes it trusts, its signature checked here; then either the user's own node
 * answers steps 5 to 7 (steps 1 to 4 here, nothing sent to the service) or
 * the service checks the receipt's own text.
 */

import { api, messageOf, publishedTrust } from "../api.js";
import { $, announce, clear, el, errorBox, scrollTable, verdict } from "../dom.js";
import { hashFile } from "../filehash.js";
import { formatNumber, shortHash } from "../format.js";
import { ownText, t } from "../i18n.js";
import { StrictJsonError, decodeUtf8, isObject, parseStrictJson } from "../jsonstrict.js";
import {
  DeploymentInputError, ReceiptFormatError, checkSignature, evaluateReceipt, parseGivenDeployment, parseReceipt,
  requiredConfirmations, trustSource, trustedDeployment
} from "../receipt.js";
import { NodeUnreachableError, readNodeFacts } from "../rpc.js";
import { readStamp } from "../stamp.js";

/**
 * @typedef {object} ReceiptState
 * @property {string} [error]
 * @property {{contract: string, chain: string}} [untrusted]
 * @property {any} [data] the verification: the service's answer or the node check's
 * @property {import("../receipt.js").SignatureOutcome} [signature]
 * @property {import("../stamp.js").Stamp | null} [stamp]
 * @property {Trusting} [trusting]
 */

/**
 * The deployments the check trusted, and who named them: the user or the
 * link the page was opened with (one), or the service (those it publishes;
 * `deployment` is the receipt's when it is one).
 * @typedef {{source: import("../receipt.js").TrustSource, deployment: import("../receipt.js").Deployment | null}} Trusting
 */

/** @type {ReceiptState | null} */
let state = null;
/** Whether the trusted contract's fields hold what the page's address put in them. */
let linked = false;

/** @type {Record<import("../receipt.js").TrustSource, string>} */
const TRUST_TEXT = { given: "trustGiven", linked: "trustLinked", published: "trustPublished" };

/** @type {Record<import("../receipt.js").TrustSource, string>} */
const UNTRUSTED_HINT = { given: "receiptUntrustedGivenHint", linked: "receiptUntrustedLinkedHint", published: "receiptUntrustedHint" };

/** @type {Record<string, string>} */
const STRICT_MESSAGE = {
  utf8: "strictUtf8",
  duplicate: "strictDuplicate",
  float: "strictFloat",
  constant: "strictConstant",
  depth: "strictDepth"
};

/** @type {Record<import("../receipt.js").SignatureOutcome["outcome"], string>} */
const SIGNATURE_TEXT = {
  ok: "sigOk",
  bad: "sigBad",
  unknownKey: "sigUnknownKey",
  noKeys: "sigNoKeys",
  unchecked: "sigUnchecked",
  none: "sigNone"
};

/** @param {string} id */
function field(id) {
  return /** @type {HTMLInputElement} */ ($(id));
}

/**
 * The line that says which contract was trusted and who named it; one a link
 * named stands out, its address in full, for the user to compare.
 * @param {Trusting} trusting
 */
function trustLine(trusting) {
  const d = trusting.deployment;
  const text = d
    ? t(TRUST_TEXT[trusting.source], { contract: d.address, chain: String(d.chain_id) })
    : t("trustPublishedAll");
  const warn = trusting.source === "linked" ? " notice-warn" : "";
  return el("p", { className: "notice trust-line trust-" + trusting.source + warn, text });
}

/** @param {ReceiptState} next */
function show(next) {
  state = next;
  renderReceipt();
}

/**
 * Checks a receipt against the user's own node only.
 * @param {any} receipt
 * @param {string | null} documentSha256
 * @param {string} nodeUrl
 * @param {import("../receipt.js").Deployment[]} deployments
 */
async function checkWithNode(receipt, documentSha256, nodeUrl, deployments) {
  const facts = await readNodeFacts(nodeUrl, receipt, deployments);
  const verification = evaluateReceipt(receipt, {
    documentSha256, facts, required: requiredConfirmations(facts.chainId), deployments
  });
  return { ...verification, status: receipt.status, node: { url: nodeUrl, chainId: facts.chainId } };
}

/** @param {Event} ev */
async function checkReceipt(ev) {
  ev.preventDefault();
  const receiptInput = /** @type {HTMLInputElement} */ ($("receipt-file"));
  const docInput = /** @type {HTMLInputElement} */ ($("receipt-doc"));
  state = null;
  clear($("receipt-result"));
  const file = receiptInput.files && receiptInput.files[0];
  if (!file) {
    show({ error: t("receiptMissing") });
    receiptInput.focus();
    return;
  }
  let stamp = null;
  try {
    const read = await readStamp(file);
    if (read && read.changed) {
      show({ error: t("stampChanged") });
      return;
    }
    stamp = /** @type {import("../stamp.js").Stamp | null} */ (read);
  } catch (e) {
    stamp = null;
  }
  let bytes;
  try {
    bytes = stamp ? stamp.receipt : new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    show({ error: t("errorReadFile", { msg: messageOf(e) }) });
    return;
  }
  let text, receipt;
  try {
    text = decodeUtf8(bytes);
    receipt = parseStrictJson(text);
  } catch (e) {
    if (!(e instanceof StrictJsonError)) throw e;
    show({ error: t("receiptMalformed", { msg: t(STRICT_MESSAGE[e.code] || "strictSyntax", e.vars) }) });
    return;
  }
  let given;
  try {
    given = parseGivenDeployment(field("receipt-contract").value, field("receipt-chain").value);
  } catch (e) {
    if (!(e instanceof DeploymentInputError)) throw e;
    show({ error: t(e.code) });
    return;
  }
  const node = field("receipt-rpc").value.trim();
  if (node) {
    if (!/^https?:\/\/\S+$/.test(node)) {
      show({ error: t("nodeBadUrl") });
      return;
    }
    // With the user's own node this page is the verifier: it refuses a
    // receipt whose members are wrong, as the service would.
    try {
      parseReceipt(receipt);
    } catch (e) {
      if (!(e instanceof ReceiptFormatError)) throw e;
      show({ error: t("receiptMalformed", { msg: e.message }) });
      return;
    }
  }
  announce("receipt-status", t("receiptChecking"));
  $("receipt-result").setAttribute("aria-busy", "true");
  let trust;
  try {
    // Read once when the page loads, so that a check with the user's own
    // node sends nothing to the service.
    trust = await publishedTrust();
  } catch (e) {
    show({ error: messageOf(e) });
    return;
  }
  const deployments = given ? [given] : trust.deployments;
  const anchor = isObject(receipt) && isObject(receipt.anchor) ? receipt.anchor : null;
  /** @type {Trusting} */
  const trusting = {
    source: trustSource(given !== null, linked),
    deployment: given || (anchor && deployments.find((d) => trustedDeployment(anchor, [d]))) || null
  };
  if (anchor && !trustedDeployment(anchor, deployments)) {
    // Step 5 fails whatever the chain says; nothing is sent for it.
    show({ untrusted: { contract: String(anchor.contract), chain: String(anchor.chain_id) }, trusting });
    return;
  }
  const signature = await checkSignature(receipt, trust.signing_keys);
  const doc = stamp ? file.slice(0, stamp.originalLength) : docInput.files && docInput.files[0];
  let documentSha256 = null;
  if (doc) {
    try {
      documentSha256 = await hashFile(doc);
    } catch (e) {
      show({ error: t("errorReadFile", { msg: messageOf(e) }) });
      return;
    }
  }
  if (node) {
    try {
      show({ data: await checkWithNode(receipt, documentSha256, node, deployments), stamp, signature, trusting });
    } catch (e) {
      const msg = e instanceof NodeUnreachableError ? t("nodeUnreachable", { node }) : messageOf(e);
      show({ error: t("nodeFailed", { node, msg }) });
    }
    return;
  }
  const extra = documentSha256 ? ", \"sha256\": \"" + documentSha256 + "\"" : "";
  try {
    // The receipt's own text, untouched: the service parses it as strictly as the
    // page did, and its signature covers exactly what the file holds.
    const body = "{\"receipt\": " + text + extra + "}";
    show({ data: await api("POST", "/v1/receipts/verify", undefined, body), signature, stamp, trusting });
  } catch (e) {
    show({ error: messageOf(e) });
  }
}

export function renderReceipt() {
  const out = $("receipt-result");
  clear(out);
  out.removeAttribute("aria-busy");
  const s = state;
  if (!s) {
    announce("receipt-status", "");
    return;
  }
  if (s.error) {
    announce("receipt-status", s.error);
    out.appendChild(errorBox(s.error));
    return;
  }
  if (s.untrusted) {
    clear($("receipt-status"));
    const source = s.trusting ? s.trusting.source : "published";
    $("receipt-status").appendChild(verdict("bad", t("receiptInvalid"), [
      el("p", { className: "verdict-text", text: t("receiptUntrusted", s.untrusted) }),
      el("p", { className: "verdict-text", text: t(UNTRUSTED_HINT[source]) })
    ]));
    if (s.trusting) out.appendChild(trustLine(s.trusting));
    return;
  }
  const d = s.data;
  const sigOutcome = s.signature ? s.signature.outcome : "none";
  const sigBad = sigOutcome === "bad" || sigOutcome === "unknownKey";
  const valid = d.valid && !sigBad;
  const sigText = t(SIGNATURE_TEXT[sigOutcome], { key: shortHash((s.signature && s.signature.keyId) || "") });
  clear($("receipt-status"));
  $("receipt-status").appendChild(verdict(valid ? "good" : "bad", t(valid ? "receiptValid" : "receiptInvalid"), [
    el("p", { className: "verdict-text", text: t("receiptConfirmations", { n: formatNumber(d.confirmations), req: formatNumber(d.required_confirmations) }) }),
    el("p", { className: "verdict-text signature-" + sigOutcome, text: sigText })
  ]));
  if (s.stamp) out.appendChild(el("p", { className: "notice stamped-line", text: t("stampedLine", { n: formatNumber(s.stamp.originalLength) }) }));
  if (s.trusting) out.appendChild(trustLine(s.trusting));
  out.appendChild(el("p", { className: "notice node-line", text: d.node ? t("nodeAnswered", { node: d.node.url, chain: String(d.node.chainId) }) : t("serviceAnswered") }));
  const body = el("tbody");
  for (const c of d.checks || []) {
    const outcome = c.skipped ? "skipped" : c.ok ? "ok" : "fail";
    const word = t(outcome === "ok" ? "outcomeOk" : outcome === "fail" ? "outcomeFail" : "outcomeSkipped");
    const label = ownText("check_" + c.name) || c.name;
    body.appendChild(el("tr", { className: "check-" + outcome }, [
      el("td", { text: String(c.step) }),
      el("th", { scope: "row", text: label }),
      el("td", null, [el("span", { className: "pill pill-" + (outcome === "ok" ? "good" : outcome === "fail" ? "bad" : "muted"), text: word })]),
      el("td", { lang: "en", className: "detail", text: c.detail || "" })
    ]));
  }
  out.appendChild(scrollTable(el("table", { className: "data checks" }, [
    el("caption", { text: t("checksCaption") }),
    el("thead", null, [el("tr", null, [
      el("th", { scope: "col", text: t("colStep") }),
      el("th", { scope: "col", text: t("colCheck") }),
      el("th", { scope: "col", text: t("colOutcome") }),
      el("th", { scope: "col", text: t("colDetail") })
    ])]),
    body
  ])));
}

/**
 * Wires the form; ?rpc=URL (or the field) names the user's own node, and
 * ?contract=0x…&chain=N (or the fields) the deployment the user trusts. One
 * the address put in the fields is the link's until the user edits them.
 */
export function setupReceipt() {
  $("receipt-form").addEventListener("submit", checkReceipt);
  const params = new URLSearchParams(window.location.search);
  for (const [name, id] of [["rpc", "receipt-rpc"], ["contract", "receipt-contract"], ["chain", "receipt-chain"]]) {
    const value = params.get(name);
    if (value) field(id).value = value;
  }
  linked = Boolean(params.get("contract") || params.get("chain"));
  $("receipt-trust-linked").hidden = !linked;
  for (const id of ["receipt-contract", "receipt-chain"]) {
    field(id).addEventListener("input", () => {
      linked = false;
      $("receipt-trust-linked").hidden = true;
    });
  }
}

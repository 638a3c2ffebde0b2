// @ts-check
/**
 * docanchor verification page: supplier check, receipt check, batch audit,
 * period audit.
 *
 * Documents are hashed here, in the browser; only the SHA-256 digest (hex)
 * is ever sent to the service. No module may upload, read into a request,
 * or log a document's bytes. No external resources: everything the page
 * needs is served with it.
 */

import { publishedTrust } from "./api.js";
import { config } from "./config.js";
import { $ } from "./dom.js";
import { hashFile, sha256Chunked } from "./filehash.js";
import { currentLang, rememberLang, storedLang, t, useLang } from "./i18n.js";
import { canonicalJson } from "./jsonstrict.js";
import { merkleRoot, rangeRoot, rootFromInclusionProof } from "./merkle.js";
import { currentRoute, rerender, route } from "./router.js";
import { Sha256, sha256, toHex } from "./sha256.js";
import { readStamp } from "./stamp.js";
import { setupAudit } from "./views/audit.js";
import { setupBatches } from "./views/batches.js";
import { renderFileChoosers, setupFileChoosers } from "./views/filechooser.js";
import { setupReceipt } from "./views/receipt.js";
import { openLanding, setupVerify } from "./views/verify.js";

/**
 * Switches the page's language: the static texts (data-i18n, data-i18n-attr),
 * the toggle, then every view.
 * @param {import("./i18n.js").Lang} next
 * @param {boolean} remember
 */
function setLang(next, remember) {
  useLang(next);
  if (remember) rememberLang(next);
  document.documentElement.lang = next;
  document.title = t("title");
  document.querySelectorAll("[data-i18n]").forEach((node) => {
    node.textContent = t(node.getAttribute("data-i18n") || "");
  });
  document.querySelectorAll("[data-i18n-attr]").forEach((node) => {
    for (const pair of (node.getAttribute("data-i18n-attr") || "").split(";")) {
      const [attr, key] = pair.split(":");
      node.setAttribute(attr, t(key));
    }
  });
  const toggle = $("lang-toggle");
  toggle.textContent = t("langButton");
  toggle.setAttribute("lang", next === "es" ? "en" : "es");
  toggle.setAttribute("aria-label", t("langButtonLabel"));
  renderFileChoosers();
  rerender();
}

function init() {
  setupVerify();
  setupReceipt();
  setupBatches();
  setupAudit();
  setupFileChoosers();
  $("lang-toggle").addEventListener("click", () => { setLang(currentLang() === "es" ? "en" : "es", true); });
  window.addEventListener("hashchange", () => { route(false); });
  currentRoute();
  publishedTrust().catch(() => { /* reported when a receipt is checked */ });
  setLang(storedLang() || "es", false);
  route(true);
  // The QR code of a stamped PDF opens /?sha256=<hex>: that document's status and versions.
  const named = new URLSearchParams(window.location.search).get("sha256");
  if (named && /^[0-9a-f]{64}$/.test(named.toLowerCase()) && currentRoute().view === "verify") {
    openLanding(named.toLowerCase());
  }
}

// Exposed for checking the in-browser hashing against other implementations.
Object.assign(window, {
  DocAnchor: {
    Sha256,
    sha256,
    sha256Chunked,
    hashFile,
    merkleRoot,
    readStamp,
    canonicalJson,
    rootFromInclusionProof,
    rangeRoot,
    toHex,
    config
  }
});

// Module scripts run after the document is parsed.
init();

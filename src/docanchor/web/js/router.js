// @ts-check
/**
 * Hash routes (so the static server needs no rewrites): which view is
 * shown, which navigation link is current, and what a view loads when it
 * is opened or shown again in another language.
 */

import { $ } from "./dom.js";
import { renderAudit, showAudit } from "./views/audit.js";
import { loadBatch, loadBatches, renderBatch, renderBatches } from "./views/batches.js";
import { renderReceipt } from "./views/receipt.js";
import { renderVerify } from "./views/verify.js";

/** @typedef {{view: "verify" | "receipt" | "batches" | "audit"} | {view: "batch", id: number}} Route */

/** The views, by the id of their section ("view-" + name). */
export const VIEWS = ["verify", "receipt", "batches", "batch", "audit"];

/**
 * The route a location hash names; the supplier's view for anything else.
 * @param {string} hash
 * @returns {Route}
 */
export function parseRoute(hash) {
  const h = hash.replace(/^#/, "");
  if (h === "" || h === "/") return { view: "verify" };
  if (h === "/receipt") return { view: "receipt" };
  if (h === "/batches") return { view: "batches" };
  if (h === "/audit") return { view: "audit" };
  const m = /^\/batches\/(\d+)$/.exec(h);
  if (m) return { view: "batch", id: parseInt(m[1], 10) };
  return { view: "verify" };
}

/** @type {Route | null} */
let current = null;

/** @returns {Route} */
export function currentRoute() {
  if (!current) current = parseRoute(window.location.hash);
  return current;
}

/**
 * Shows the view the location names and loads what it needs.
 * @param {boolean} initial the first route of the page (focus stays where it is)
 */
export function route(initial) {
  const r = parseRoute(window.location.hash);
  current = r;
  for (const v of VIEWS) $("view-" + v).hidden = v !== r.view;
  document.querySelectorAll("[data-route]").forEach((a) => {
    const name = a.getAttribute("data-route");
    const active = name === r.view || (r.view === "batch" && name === "batches");
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (r.view === "batches") loadBatches();
  if (r.view === "batch") loadBatch(r.id);
  if (r.view === "audit") showAudit();
  // Moving focus to the new view's heading tells screen readers the view changed.
  if (!initial) {
    const heading = document.getElementById(r.view + "-title");
    if (heading) heading.focus();
  }
}

/** Draws the views again (after the language changed). */
export function rerender() {
  if (!current) return;
  renderVerify();
  renderReceipt();
  if (current.view === "batches") renderBatches();
  if (current.view === "batch") renderBatch();
  if (current.view === "audit") renderAudit();
}

// @ts-check
/** Numbers, sizes, times and hashes as the page shows them, in its language. */

import { currentLang, t } from "./i18n.js";

function locale() {
  return currentLang() === "es" ? "es-PE" : "en-US";
}

/**
 * @param {number} n
 * @returns {string}
 */
export function formatBytes(n) {
  const nf = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 });
  if (n < 1024) return nf.format(n) + " " + t("bytes");
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return nf.format(v) + " " + units[u];
}

/**
 * @param {number | null | undefined} n
 * @returns {string}
 */
export function formatNumber(n) {
  if (n === null || n === undefined) return t("none");
  return new Intl.NumberFormat(locale()).format(n);
}

/**
 * Block numbers and sequence numbers are identifiers: shown without separators.
 * @param {number | null | undefined} n
 * @returns {string}
 */
export function plainNumber(n) {
  return n === null || n === undefined ? t("none") : String(n);
}

/**
 * Times are shown in Lima time, where the register's users are.
 * @param {string | number | null | undefined} value an ISO 8601 text or Unix seconds
 * @returns {string}
 */
export function formatTime(value) {
  if (value === null || value === undefined || value === "") return t("none");
  const text = typeof value === "string" ? value.replace(/([+-]\d\d:\d\d)Z$/, "$1") : value;
  const d = typeof text === "number" ? new Date(text * 1000) : new Date(text);
  if (isNaN(d.getTime())) return String(value);
  const es = currentLang() === "es";
  try {
    return new Intl.DateTimeFormat(es ? "es-PE" : "en-GB", {
      dateStyle: "long", timeStyle: "medium", timeZone: "America/Lima"
    }).format(d) + " (" + (es ? "hora de Lima" : "Lima time") + ")";
  } catch (e) {
    return d.toISOString();
  }
}

/**
 * @param {string | null | undefined} h
 * @returns {string}
 */
export function shortHash(h) {
  if (!h) return t("none");
  return h.length > 20 ? h.slice(0, 10) + "…" + h.slice(-8) : h;
}

// @ts-check
/**
 * Small DOM helpers shared by the views. Text always goes in via
 * textContent, never as HTML.
 */

import { t } from "./i18n.js";

/**
 * @typedef {string | Node | null | undefined | false} Child
 * @typedef {Record<string, unknown>} Attrs  "text" sets textContent, "className" the class, "on…" a listener
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {Child[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k === "className") node.className = String(v);
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
      else node.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children || []) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

/**
 * The element with this id (the page's markup has every id the views use).
 * @param {string} id
 * @returns {HTMLElement}
 */
export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error("no element #" + id);
  return node;
}

/**
 * @param {Node} parent
 * @param {Node | null} child
 */
export function appendIf(parent, child) {
  if (child) parent.appendChild(child);
}

/** @param {Node} node */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/**
 * @param {string} value
 * @param {string} [extraClass]
 */
export function hashCode(value, extraClass) {
  return el("code", { className: "hash" + (extraClass ? " " + extraClass : ""), text: value });
}

/**
 * Replaces what a live region says.
 * @param {string} regionId
 * @param {string} text
 */
export function announce(regionId, text) {
  const region = $(regionId);
  clear(region);
  if (text) region.appendChild(el("p", { text }));
}

/**
 * @param {string} prefix "verify" or "recompute": the ids of its progress row
 * @param {number} done
 * @param {number} total
 * @param {string} label
 */
export function showProgress(prefix, done, total, label) {
  $(prefix + "-progress").hidden = false;
  const bar = /** @type {HTMLProgressElement} */ ($(prefix + "-progress-bar"));
  bar.max = total > 0 ? total : 1;
  bar.value = total > 0 ? done : 1;
  $(prefix + "-progress-label").textContent = label;
}

/** @param {string} prefix */
export function hideProgress(prefix) {
  $(prefix + "-progress").hidden = true;
}

/**
 * @param {string} text
 * @returns {Promise<boolean>}
 */
async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) {
    /* fall through to the selection-based copy */
  }
  const area = el("textarea", { readonly: true, "aria-hidden": "true", className: "offscreen" });
  area.value = text;
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (e) {
    ok = false;
  }
  document.body.removeChild(area);
  return ok;
}

/**
 * A button that copies `text`. The outcome is spoken through its own live
 * region so that the verdict shown in the view's status region stays in place.
 * @param {string} text
 * @param {string} label
 * @returns {HTMLButtonElement}
 */
export function copyButton(text, label) {
  const button = el("button", {
    type: "button", className: "btn btn-small", "aria-label": label,
    onclick: async () => {
      const ok = await copyText(text);
      announce("sr-notice", ok ? t("copied") : t("copyFailed"));
      button.textContent = ok ? t("copiedShort") : t("copy");
      setTimeout(() => { button.textContent = t("copy"); }, 2500);
    }
  }, [t("copy")]);
  return button;
}

/**
 * @param {unknown} data
 * @param {string} filename
 */
export function downloadJson(data, filename) {
  const blob = new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename, className: "offscreen" });
  document.body.appendChild(a);
  a.click();
  document.body.removeChild(a);
  setTimeout(() => { URL.revokeObjectURL(url); }, 10000);
}

/**
 * A focusable, labelled scroll container lets keyboard users scroll wide tables.
 * @param {HTMLTableElement} table
 */
export function scrollTable(table) {
  return el("div", { className: "table-scroll", tabindex: "0", role: "region", "aria-label": t("tableScroll") }, [table]);
}

/**
 * A list of facts; null rows are left out.
 * @param {([string, string | Node] | null)[]} rows
 */
export function dl(rows) {
  const list = el("dl", { className: "facts" });
  for (const r of rows) {
    if (!r) continue;
    list.appendChild(el("div", { className: "fact" }, [el("dt", { text: r[0] }), el("dd", null, [r[1]])]));
  }
  return list;
}

/** @param {string} message */
export function errorBox(message) {
  return el("div", { className: "notice notice-bad" }, [el("p", { text: message })]);
}

/**
 * A verdict box: an icon, a title and lines of text.
 * @param {"good" | "bad" | "wait"} tone
 * @param {string} title
 * @param {Node[]} lines
 */
export function verdict(tone, title, lines) {
  const icon = tone === "good" ? "✔" : tone === "bad" ? "✖" : "◷";
  return el("div", { className: "verdict verdict-" + tone }, [
    el("p", { className: "verdict-title" }, [el("span", { className: "verdict-icon", "aria-hidden": "true", text: icon }), title]),
    ...lines
  ]);
}

// Paging re-renders the table and its buttons; the pressed button gets the
// focus back so that keyboard users keep their place.
/** @type {string | null} */
let pendingFocus = null;

/**
 * Previous and next buttons with the page's place between them; null when
 * everything fits on one page.
 * @param {string} key
 * @param {{hasPrev: boolean, hasNext: boolean, text: string}} info
 * @param {() => void} onPrev
 * @param {() => void} onNext
 * @param {string} prevLabel
 * @param {string} nextLabel
 */
export function pager(key, info, onPrev, onNext, prevLabel, nextLabel) {
  if (!info.hasPrev && !info.hasNext) return null;
  /**
   * @param {string} which
   * @param {() => void} action
   */
  const press = (which, action) => () => { pendingFocus = key + "-" + which; action(); };
  const prevBtn = el("button", { type: "button", className: "btn", "data-pager": key + "-prev", disabled: info.hasPrev ? null : true, "aria-label": prevLabel, onclick: press("prev", onPrev) }, ["← " + t("prev")]);
  const nextBtn = el("button", { type: "button", className: "btn", "data-pager": key + "-next", disabled: info.hasNext ? null : true, "aria-label": nextLabel, onclick: press("next", onNext) }, [t("next") + " →"]);
  return el("div", { className: "pager" }, [prevBtn, el("span", { className: "pager-info", text: info.text }), nextBtn]);
}

/** @param {HTMLElement} container */
export function restorePagerFocus(container) {
  if (!pendingFocus) return;
  /** @type {HTMLButtonElement | null} */
  let wanted = container.querySelector('[data-pager="' + pendingFocus + '"]');
  pendingFocus = null;
  if (wanted && wanted.disabled) wanted = container.querySelector("[data-pager]:not([disabled])");
  if (wanted) wanted.focus();
}

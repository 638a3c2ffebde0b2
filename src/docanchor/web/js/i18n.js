// @ts-check
/**
 * The page's languages: the current one, its texts, and the remembered
 * choice. Texts live in i18n/<lang>.js, one module per language, with the
 * same keys; Spanish is the default and the fallback.
 */

import en from "./i18n/en.js";
import es from "./i18n/es.js";

/** @typedef {"es" | "en"} Lang */

/** @type {Record<Lang, Record<string, string>>} */
export const TEXTS = { es, en };

const LANG_KEY = "docanchor.lang";

/** @type {Lang} */
let lang = "es";

/** @returns {Lang} */
export function currentLang() {
  return lang;
}

/** @param {Lang} next */
export function useLang(next) {
  lang = next;
}

/**
 * @param {unknown} v
 * @returns {v is Lang}
 */
export function isLang(v) {
  return v === "es" || v === "en";
}

/**
 * The text for `key` in the current language, with {name} blanks filled
 * from `vars`; the Spanish text when the language lacks it, the key when
 * both do.
 * @param {string} key
 * @param {Record<string, unknown>} [vars]
 * @returns {string}
 */
export function t(key, vars) {
  let text = TEXTS[lang][key];
  if (text === undefined) text = TEXTS.es[key];
  if (text === undefined) return key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) =>
      Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m);
  }
  return text;
}

/**
 * The text for `key` in the current language only, or undefined.
 * @param {string} key
 * @returns {string | undefined}
 */
export function ownText(key) {
  return TEXTS[lang][key];
}

/** @returns {Lang | null} the language chosen on an earlier visit */
export function storedLang() {
  try {
    const v = globalThis.localStorage.getItem(LANG_KEY);
    return isLang(v) ? v : null;
  } catch (e) {
    return null; // storage disabled: fall back to the default
  }
}

/** @param {Lang} next */
export function rememberLang(next) {
  try {
    globalThis.localStorage.setItem(LANG_KEY, next);
  } catch (e) {
    /* not kept; still switched */
  }
}

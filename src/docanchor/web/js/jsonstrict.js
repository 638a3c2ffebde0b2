// @ts-check
/**
 * Strict JSON, as the service parses receipts (receipt-v1 section 5), and
 * RFC 8785 canonical JSON of what it returns. Pure: no DOM, no network.
 *
 * JSON.parse keeps the last of two members with one name and accepts
 * floats, so the text is read here. Objects have no prototype ("__proto__"
 * is a name like any other).
 */

/** How deep arrays and objects may nest. */
export const MAX_DEPTH = 64;

/**
 * Why a text is not strict JSON. `code` is one of "utf8", "duplicate",
 * "float", "constant", "depth", "syntax"; `vars` fills the message's blanks.
 */
export class StrictJsonError extends Error {
  /**
   * @param {string} code
   * @param {Record<string, string | number>} [vars]
   */
  constructor(code, vars) {
    super(code);
    this.name = "StrictJsonError";
    this.code = code;
    this.vars = vars || {};
  }
}

/**
 * The text of a receipt file: UTF-8 (a leading byte order mark dropped, as
 * File.text() does), refused when it is not.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function decodeUtf8(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new StrictJsonError("utf8");
  }
}

/**
 * Parses JSON text, refusing duplicate member names, numbers with a fraction
 * or exponent, NaN and Infinity, and nesting deeper than MAX_DEPTH.
 * @param {string} text
 * @returns {unknown}
 */
export function parseStrictJson(text) {
  let pos = 0;
  let depth = 0;
  /**
   * @param {string} code
   * @param {Record<string, string | number>} [vars]
   * @returns {never}
   */
  function fail(code, vars) {
    throw new StrictJsonError(code, vars);
  }
  function space() {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  }
  // Sticky expressions read at pos without copying the rest of the text.
  const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const WORD = /(true|false|null)(?![A-Za-z0-9_])/y;
  const CONSTANT = /-?(NaN|Infinity)/y;
  const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  /** @param {RegExp} re */
  function at(re) {
    re.lastIndex = pos;
    return re.exec(text);
  }
  /** @returns {string} */
  function stringToken() {
    const m = at(STRING);
    if (!m) return fail("syntax", { pos });
    pos += m[0].length;
    return JSON.parse(m[0]);
  }
  /** @returns {unknown} */
  function value() {
    space();
    const c = text.charAt(pos);
    if (c === "{" || c === "[") {
      depth++;
      if (depth > MAX_DEPTH) fail("depth", { max: MAX_DEPTH });
      pos++;
      /** @type {Record<string, unknown>} */
      const obj = Object.create(null);
      /** @type {unknown[]} */
      const arr = [];
      space();
      const close = c === "{" ? "}" : "]";
      if (text.charAt(pos) === close) {
        pos++;
        depth--;
        return c === "{" ? obj : arr;
      }
      for (;;) {
        if (c === "{") {
          space();
          if (text.charAt(pos) !== "\"") fail("syntax", { pos });
          const key = stringToken();
          if (key in obj) fail("duplicate", { key });
          space();
          if (text.charAt(pos) !== ":") fail("syntax", { pos });
          pos++;
          obj[key] = value();
        } else {
          arr.push(value());
        }
        space();
        const next = text.charAt(pos);
        pos++;
        if (next === close) {
          depth--;
          return c === "{" ? obj : arr;
        }
        if (next !== ",") fail("syntax", { pos: pos - 1 });
      }
    }
    if (c === "\"") return stringToken();
    const word = at(WORD);
    if (word) {
      pos += word[0].length;
      return word[0] === "null" ? null : word[0] === "true";
    }
    const constant = at(CONSTANT);
    if (constant) fail("constant", { text: constant[0] });
    const num = at(NUMBER);
    if (!num) return fail("syntax", { pos });
    if (num[2] || num[3]) fail("float", { text: num[0].slice(0, 40) });
    pos += num[0].length;
    return Number(num[0]);
  }
  const result = value();
  space();
  if (pos !== text.length) fail("syntax", { pos });
  return result;
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
export function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * RFC 8785 of what the strict parser returns (strings, safe integers,
 * booleans, null, arrays, objects): keys sorted by UTF-16 code units, as
 * Array.prototype.sort does.
 * @param {unknown} v
 * @returns {string}
 */
export function canonicalJson(v) {
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new Error("unsafe integer");
    return String(v);
  }
  if (Array.isArray(v)) return "[" + v.map(canonicalJson).join(",") + "]";
  if (isObject(v)) {
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonicalJson(v[k])).join(",") + "}";
  }
  throw new Error("not JSON: " + typeof v);
}

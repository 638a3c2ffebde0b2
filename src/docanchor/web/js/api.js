// @ts-check
/**
 * The service's API. Errors are RFC 9457 problem details ({title, detail}),
 * turned into an ApiError whose message a person can read.
 */

import { t } from "./i18n.js";

/**
 * The words of any error caught at the edge of a view.
 * @param {unknown} e
 * @returns {string}
 */
export function messageOf(e) {
  return e instanceof Error ? e.message : String(e);
}

export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status the HTTP status, 0 when the service could not be reached
   */
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] sent as JSON
 * @param {string} [rawText] sent as it is (a JSON text)
 * @returns {Promise<any>}
 */
export async function api(method, path, body, rawText) {
  /** @type {RequestInit & {headers: Record<string, string>}} */
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined || rawText !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = rawText !== undefined ? rawText : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(t("errorNetwork"), 0);
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    let msg = t("errorGeneric") + " (HTTP " + res.status + ")";
    if (data && (data.title || data.detail)) {
      msg = [data.title, data.detail].filter(Boolean).join(": ");
      if (data.request_id) msg += " [" + data.request_id + "]";
    }
    throw new ApiError(msg, res.status);
  }
  return data;
}

/**
 * @typedef {{deployments: import("./receipt.js").Deployment[], signing_keys: {key_id: string, public_key: string}[]}} Trust
 */

/** @type {Promise<Trust> | null} */
let trustRequest = null;

/**
 * What the service publishes it trusts (GET /v1/deployments), read once when
 * the page loads and kept; read again only after a failure.
 * @returns {Promise<Trust>}
 */
export function publishedTrust() {
  if (!trustRequest) {
    trustRequest = api("GET", "/v1/deployments").catch((e) => {
      trustRequest = null;
      throw e;
    });
  }
  return trustRequest;
}

// @ts-check
/**
 * The verifier's own Ethereum node, asked by JSON-RPC from this browser:
 * the facts steps 5 to 7 need, and nothing is sent to the service. The
 * checking itself is in receipt.js.
 */

import { isObject } from "./jsonstrict.js";
import { anchorCallData, decodeAnchorRecord, trustedDeployment } from "./receipt.js";

/** The node could not be reached at all (no answer, not an error answer). */
export class NodeUnreachableError extends Error {
  /** @param {string} url */
  constructor(url) {
    super("the node " + url + " could not be reached");
    this.name = "NodeUnreachableError";
    this.url = url;
  }
}

/** The node answered a call with a JSON-RPC error (a refusal, a missing state, ...). */
export class NodeError extends Error {
  /** @param {string} method @param {string} message */
  constructor(method, message) {
    super(method + ": " + message);
    this.name = "NodeError";
    this.method = method;
  }
}

let rpcId = 0;

/**
 * One JSON-RPC call; throws NodeUnreachableError, or NodeError with the node's message.
 * @param {string} url
 * @param {string} method
 * @param {unknown[]} params
 * @returns {Promise<any>}
 */
export async function rpc(url, method, params) {
  let res;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params })
    });
  } catch (e) {
    throw new NodeUnreachableError(url);
  }
  const body = await res.json();
  if (body.error) throw new NodeError(method, body.error.message || JSON.stringify(body.error));
  return body.result;
}

/**
 * Asks the node what the receipt's steps 5 to 7 need: its chain id always;
 * the anchor record, the block hash at the anchor's height and the head only
 * for an anchored receipt of a trusted deployment on the node's chain.
 * @param {string} url
 * @param {any} receipt
 * @param {import("./receipt.js").Deployment[]} deployments
 * @returns {Promise<import("./receipt.js").NodeFacts>}
 */
export async function readNodeFacts(url, receipt, deployments) {
  const chainId = parseInt(await rpc(url, "eth_chainId", []), 16);
  const a = receipt.anchor, batch = receipt.batch;
  if (!isObject(a) || chainId !== a.chain_id || !trustedDeployment(a, deployments)) {
    return { chainId, record: null, blockHash: null, head: 0 };
  }
  let record = null;
  if (isObject(batch) && isObject(receipt.proof)) {
    record = decodeAnchorRecord(await rpc(url, "eth_call", [{ to: a.contract, data: anchorCallData(String(batch.root)) }, "latest"]));
  }
  const block = await rpc(url, "eth_getBlockByNumber", ["0x" + Number(a.block_number).toString(16), false]);
  const blockHash = block && typeof block.hash === "string" ? block.hash : null;
  const head = parseInt(await rpc(url, "eth_blockNumber", []), 16);
  return { chainId, record, blockHash, head };
}

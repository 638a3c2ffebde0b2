// @ts-check
/**
 * The receipt (docanchor-receipt/1) checked step by step, as in receipt-v1
 * section 6 and docanchor.receipt: steps 1 to 4 from the receipt alone,
 * steps 5 to 7 from what the verifier's own node answered (fetched
 * elsewhere, by rpc.js), and the optional service signature (step 8).
 * Pure: no DOM, no network. Details are docanchor's words, in English, as
 * the CLI and the API write them.
 */

import { canonicalJson, isObject } from "./jsonstrict.js";
import { leafHash, rootFromInclusionProof } from "./merkle.js";
import { concatBytes, fromHex, sha256, toHex } from "./sha256.js";

/**
 * One step's verdict. A skipped step (nothing to check) has ok true.
 * @typedef {{step: number, name: string, ok: boolean, skipped: boolean, detail: string}} Check
 */

/**
 * What getAnchor(batch.root) returned; an anchorer of all zeros means the
 * contract does not know the root.
 * @typedef {{seq: number, tree_size: number, timestamp: number, block_number: number, anchorer: string}} AnchorRecord
 */

/**
 * What the verifier's node answered. `record`, `blockHash` and `head` are
 * only asked for an anchored receipt of a trusted deployment on the node's
 * chain; otherwise they are null, null and 0. `blockHash` is null when the
 * node has no block at the anchor's height.
 * @typedef {{chainId: number, record: AnchorRecord | null, blockHash: string | null, head: number}} NodeFacts
 */

/** @typedef {{chain_id: number, address: string}} Deployment */

/**
 * @typedef {object} Verification
 * @property {boolean} valid every step that was not skipped passed
 * @property {number} confirmations 0 when steps 6 and 7 were not checked or step 6 failed
 * @property {number} required_confirmations
 * @property {Check[]} checks
 */

// keccak256("getAnchor(bytes32)")[:4], computed once with
// eth_utils.keccak(text="getAnchor(bytes32)")[:4].hex() and written here.
export const GET_ANCHOR_SELECTOR = "7feb51d9";
export const DEV_CHAIN_ID = 31337;

/**
 * The confirmations this page requires: 1 on the development chain, 12 elsewhere.
 * @param {number} chainId
 * @returns {number}
 */
export function requiredConfirmations(chainId) {
  return chainId === DEV_CHAIN_ID ? 1 : 12;
}

// --- the receipt's members (receipt-v1 section 5, as docanchor.receipt.parse_receipt) ---

export const RECEIPT_VERSION = "docanchor-receipt/1";

/** A receipt whose members are not those of docanchor-receipt/1. */
export class ReceiptFormatError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ReceiptFormatError";
  }
}

const STATUSES = ["pending", "sealed", "anchored", "confirmed"];
/** Which of proof, batch and anchor a receipt of each status carries. */
/** @type {Record<string, [boolean, boolean, boolean]>} */
const PARTS_BY_STATUS = {
  pending: [false, false, false],
  sealed: [true, true, false],
  anchored: [true, true, true],
  confirmed: [true, true, true]
};
const HEX64_MEMBER = /^[0-9a-f]{64}$/;
const ETH_HASH = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * @param {string} message
 * @returns {never}
 */
function malformed(message) {
  throw new ReceiptFormatError(message);
}

/**
 * How docanchor names a JSON value's type in its messages.
 * @param {unknown} v
 */
function jsonType(v) {
  if (v === null) return "null";
  if (typeof v === "boolean") return "a boolean";
  if (typeof v === "number") return "an integer";
  if (typeof v === "string") return "a string";
  if (Array.isArray(v)) return "an array";
  return "an object";
}

/** @param {unknown} v */
function show(v) {
  return typeof v === "string" ? "'" + v.slice(0, 80) + "'" : jsonType(v);
}

/**
 * @param {Record<string, unknown>} o
 * @param {string} key
 * @param {string} where
 */
function member(o, key, where) {
  if (!(key in o)) malformed("receipt member " + where + key + " is missing");
  return o[key];
}

/**
 * @param {unknown} v
 * @param {string} where
 * @returns {Record<string, unknown>}
 */
function objectMember(v, where) {
  if (!isObject(v)) return malformed("receipt member " + where + " must be an object, got " + jsonType(v));
  return v;
}

/**
 * Integers the page can hold exactly: up to 2^53 - 1 (a receipt's may reach
 * 2^64 - 1; such a receipt is refused here rather than read wrongly).
 * @param {unknown} v
 * @param {string} where
 * @param {number} [minimum]
 * @returns {number}
 */
function intMember(v, where, minimum = 0) {
  if (typeof v !== "number") return malformed("receipt member " + where + " must be an integer, got " + jsonType(v));
  if (v < minimum) malformed("receipt member " + where + " must be at least " + minimum + ", got " + v);
  if (!Number.isSafeInteger(v)) malformed("receipt member " + where + " must be at most " + Number.MAX_SAFE_INTEGER + " to be checked in this browser");
  return v;
}

/**
 * @param {unknown} v
 * @param {string} where
 */
function hex64Member(v, where) {
  if (typeof v !== "string") malformed("receipt member " + where + " must be a string of 64 lowercase hex characters, got " + jsonType(v));
  else if (!HEX64_MEMBER.test(v)) malformed("receipt member " + where + " must be 64 lowercase hex characters without 0x, got " + show(v));
}

/**
 * @param {unknown} v
 * @param {string} where
 */
function ethHashMember(v, where) {
  if (typeof v !== "string" || !ETH_HASH.test(v)) {
    malformed("receipt member " + where + " must be 0x followed by 64 hex characters, got " + show(v));
  }
}

/**
 * Checks that a strictly parsed value has the members of a
 * docanchor-receipt/1 receipt, as the service and the CLI do before any
 * step, and returns it. Unknown members are allowed. Throws
 * ReceiptFormatError naming the offending member (docanchor's words).
 * @param {unknown} data
 * @returns {Record<string, any>}
 */
export function parseReceipt(data) {
  const o = objectMember(data, "(the receipt itself)");
  const version = member(o, "version", "");
  if (version !== RECEIPT_VERSION) malformed("receipt member version must be '" + RECEIPT_VERSION + "', got " + show(version));
  const status = member(o, "status", "");
  if (typeof status !== "string" || !STATUSES.includes(status)) {
    malformed("receipt member status must be one of " + STATUSES.join(", ") + "; got " + show(status));
  }
  const d = objectMember(member(o, "document", ""), "document");
  if ("metadata" in d) {
    if (d.metadata === null) malformed("receipt member document.metadata is null; a receipt without metadata leaves the member out");
    objectMember(d.metadata, "document.metadata");
    try {
      canonicalJson(d.metadata);
    } catch (e) {
      malformed("receipt member document.metadata is not allowed: " + errorText(e));
    }
  }
  for (const key of ["sha256", "salt", "metadata_sha256"]) hex64Member(member(d, key, "document."), "document." + key);
  const parts = ["proof", "batch", "anchor"].map((key) => member(o, key, ""));
  const [proof, batch, anchor] = parts;
  if (proof !== null) {
    const p = objectMember(proof, "proof");
    const leafIndex = member(p, "leaf_index", "proof.");
    const treeSize = member(p, "tree_size", "proof.");
    const path = member(p, "path", "proof.");
    if (!Array.isArray(path)) malformed("receipt member proof.path must be an array, got " + jsonType(path));
    path.forEach((element, i) => hex64Member(element, "proof.path[" + i + "]"));
    const size = intMember(treeSize, "proof.tree_size", 1);
    const index = intMember(leafIndex, "proof.leaf_index");
    if (index >= size) malformed("receipt member proof.leaf_index (" + index + ") must be below proof.tree_size (" + size + ")");
    const expected = inclusionPathLength(index, size);
    if (path.length !== expected) {
      malformed("receipt member proof.path has " + path.length + " hashes; leaf " + index + " of a tree of size " + size + " needs exactly " + expected);
    }
  }
  if (batch !== null) {
    const b = objectMember(batch, "batch");
    intMember(member(b, "id", "batch."), "batch.id");
    hex64Member(member(b, "root", "batch."), "batch.root");
  }
  if (anchor !== null) {
    const a = objectMember(anchor, "anchor");
    const values = Object.fromEntries(
      ["chain_id", "contract", "seq", "tx_hash", "block_number", "block_hash", "timestamp"].map((key) => [key, member(a, key, "anchor.")])
    );
    intMember(values.chain_id, "anchor.chain_id", 1);
    if (typeof values.contract !== "string" || !ADDRESS.test(values.contract)) {
      malformed("receipt member anchor.contract must be an address, 0x followed by 40 hex characters, got " + show(values.contract));
    }
    intMember(values.seq, "anchor.seq");
    ethHashMember(values.tx_hash, "anchor.tx_hash");
    intMember(values.block_number, "anchor.block_number");
    ethHashMember(values.block_hash, "anchor.block_hash");
    intMember(values.timestamp, "anchor.timestamp");
  }
  const wanted = PARTS_BY_STATUS[/** @type {string} */ (status)];
  ["proof", "batch", "anchor"].forEach((name, i) => {
    if (wanted[i] && parts[i] === null) malformed("a " + status + " receipt must have member " + name + " set, not null");
    if (!wanted[i] && parts[i] !== null) malformed("a " + status + " receipt must have member " + name + " null");
  });
  return o;
}

/**
 * The number of hashes in the inclusion proof of leaf `index` of `size`
 * (0 <= index < size, both safe integers).
 * @param {number} index
 * @param {number} size
 */
function inclusionPathLength(index, size) {
  const i = BigInt(index), last = BigInt(size - 1);
  const inner = (i ^ last).toString(2).replace(/^0$/, "").length;
  return inner + (i >> BigInt(inner)).toString(2).split("").filter((c) => c === "1").length;
}

/**
 * @param {number} step
 * @param {string} name
 * @param {boolean} ok
 * @param {string} detail
 * @param {boolean} [skipped]
 * @returns {Check}
 */
function result(step, name, ok, detail, skipped) {
  return { step, name, ok, skipped: !!skipped, detail };
}

/**
 * @param {unknown} v
 * @returns {Record<string, any>}
 */
function obj(v) {
  return isObject(v) ? v : {};
}

/**
 * Step 1: the given document's SHA-256 (hex) equals document.sha256.
 * @param {any} receipt
 * @param {string | null} documentSha256
 * @returns {Check}
 */
export function checkDocument(receipt, documentSha256) {
  const d = obj(receipt.document);
  if (!documentSha256) return result(1, "document", true, "no document given; only the receipt was checked", true);
  if (documentSha256 !== d.sha256) {
    return result(1, "document", false,
      "the document does not match this receipt: its SHA-256 is " + documentSha256 + ", the receipt is for " + d.sha256);
  }
  return result(1, "document", true, "the document matches this receipt (SHA-256 " + documentSha256 + ")");
}

/**
 * Step 2: when metadata is carried, SHA-256(JCS(metadata)) equals metadata_sha256.
 * @param {any} receipt
 * @returns {Check}
 */
export function checkMetadata(receipt) {
  const d = obj(receipt.document);
  if (d.metadata === undefined) {
    return result(2, "metadata", true, "the receipt carries no metadata; its digest is checked as part of the leaf", true);
  }
  let computed;
  try {
    computed = toHex(sha256(new TextEncoder().encode(canonicalJson(d.metadata))));
  } catch (e) {
    return result(2, "metadata", false, "the metadata cannot be hashed: " + errorText(e));
  }
  if (computed !== d.metadata_sha256) {
    return result(2, "metadata", false,
      "the metadata in this receipt was altered: it hashes to " + computed + ", the receipt records " + d.metadata_sha256);
  }
  return result(2, "metadata", true, "the metadata matches its digest");
}

/**
 * The leaf of a receipt: SHA-256(0x00 || salt || sha256 || metadata_sha256).
 * @param {any} receipt
 * @returns {Uint8Array}
 */
export function receiptLeafHash(receipt) {
  const d = obj(receipt.document);
  return leafHash(concatBytes([fromHex(d.salt), fromHex(d.sha256), fromHex(d.metadata_sha256)]));
}

/**
 * Steps 3 and 4: the leaf rebuilt from the receipt folds along the path into batch.root.
 * @param {any} receipt
 * @returns {Check}
 */
export function checkLeafAndProof(receipt) {
  const proof = receipt.proof, batch = receipt.batch;
  if (!isObject(proof) || !isObject(batch)) {
    return result(4, "merkle_proof", false,
      "this receipt is pending: the document is registered but not yet in a sealed batch, so there is no proof to check against a chain; fetch the receipt again later");
  }
  let root;
  try {
    const path = Array.isArray(proof.path) ? proof.path.map(fromHex) : null;
    if (!path) throw new Error("proof.path must be an array");
    root = toHex(rootFromInclusionProof(receiptLeafHash(receipt), /** @type {number} */ (proof.leaf_index), /** @type {number} */ (proof.tree_size), path));
  } catch (e) {
    return result(4, "merkle_proof", false, "the inclusion proof is malformed: " + errorText(e));
  }
  if (root !== batch.root) {
    return result(4, "merkle_proof", false,
      "the receipt's proof does not lead to batch root " + batch.root + " (it leads to " + root + "): the receipt was altered");
  }
  return result(4, "merkle_proof", true,
    "the document is leaf " + proof.leaf_index + " of " + proof.tree_size + " in the tree with root " + batch.root);
}

/**
 * Whether (anchor.chain_id, anchor.contract) is one of the trusted deployments.
 * @param {any} anchor
 * @param {Deployment[] | undefined} deployments
 * @returns {boolean}
 */
export function trustedDeployment(anchor, deployments) {
  const contract = String(anchor.contract).toLowerCase();
  return (deployments || []).some((d) => d.chain_id === anchor.chain_id && String(d.address).toLowerCase() === contract);
}

/** A trusted deployment the user typed or linked that is not one; `code` names the text to show. */
export class DeploymentInputError extends Error {
  /** @param {"trustBadContract" | "trustBadChain"} code */
  constructor(code) {
    super(code);
    this.name = "DeploymentInputError";
    this.code = code;
  }
}

/**
 * Who named the trusted deployment: "published" when none is given (the
 * service's are trusted), "linked" when the page's address (?contract=…&chain=…)
 * filled the fields and they were not edited since (whoever wrote the link
 * chose it), and "given" when the user typed or changed them.
 * @typedef {"given" | "linked" | "published"} TrustSource
 */

/**
 * @param {boolean} given a deployment is given (in the fields)
 * @param {boolean} linked the fields hold what the page's address put in them
 * @returns {TrustSource}
 */
export function trustSource(given, linked) {
  if (!given) return "published";
  return linked ? "linked" : "given";
}

/**
 * The deployment the user trusts, as given to the page (`?contract=0x…&chain=N`
 * or the fields): null when both are empty, so that what the service
 * publishes is trusted; a DeploymentInputError when either is missing or
 * malformed.
 * @param {string} contract
 * @param {string} chain
 * @returns {Deployment | null}
 */
export function parseGivenDeployment(contract, chain) {
  const address = contract.trim(), id = chain.trim();
  if (!address && !id) return null;
  if (!ADDRESS.test(address)) throw new DeploymentInputError("trustBadContract");
  if (!/^[1-9][0-9]{0,15}$/.test(id) || !Number.isSafeInteger(Number(id))) {
    throw new DeploymentInputError("trustBadChain");
  }
  return { chain_id: Number(id), address };
}

/**
 * Step 5: the anchor's deployment is trusted, and getAnchor(batch.root),
 * read on a node of anchor.chain_id, matches the receipt.
 * @param {any} receipt
 * @param {number} nodeChainId
 * @param {AnchorRecord | null} record
 * @param {Deployment[]} deployments
 * @returns {Check}
 */
export function checkChainRecord(receipt, nodeChainId, record, deployments) {
  const a = receipt.anchor, batch = receipt.batch, proof = receipt.proof;
  if (!isObject(a) || !isObject(batch) || !isObject(proof)) {
    return result(5, "chain_record", false,
      "this receipt is " + receipt.status + ": its batch root is not anchored yet, so there is nothing to check on chain; fetch the receipt again later");
  }
  if (!trustedDeployment(a, deployments)) {
    return result(5, "chain_record", false,
      "anchored in " + a.contract + " on chain " + a.chain_id + ", which is not a docanchor deployment this verifier trusts");
  }
  if (nodeChainId !== a.chain_id) {
    return result(5, "chain_record", false, "this receipt belongs to chain " + a.chain_id + "; the node is on chain " + nodeChainId);
  }
  const where = "on chain " + a.chain_id + " at " + a.contract;
  if (!record) return result(5, "chain_record", false, "no anchor record could be read " + where);
  if (/^0x0{40}$/.test(record.anchorer)) {
    return result(5, "chain_record", false, "this root is not anchored " + where + " (root " + batch.root + ")");
  }
  /** @type {[string, number, unknown][]} */
  const pairs = [
    ["the tree size", record.tree_size, proof.tree_size],
    ["the block number", record.block_number, a.block_number],
    ["the timestamp", record.timestamp, a.timestamp],
    ["the sequence number", record.seq, a.seq]
  ];
  const diffs = pairs
    .filter(([, onChain, inReceipt]) => onChain !== inReceipt)
    .map(([what, onChain, inReceipt]) => what + " is " + onChain + " on chain but " + inReceipt + " in the receipt");
  if (diffs.length) {
    return result(5, "chain_record", false, "the anchor " + where + " does not match this receipt: " + diffs.join("; "));
  }
  return result(5, "chain_record", true,
    "the root is anchored " + where + " as number " + record.seq + ", in block " + record.block_number + ", by " + record.anchorer);
}

/**
 * Step 6: the node's block at anchor.block_number has hash anchor.block_hash.
 * @param {any} receipt an anchored receipt
 * @param {string | null} nodeBlockHash
 * @returns {Check}
 */
export function checkBlockHash(receipt, nodeBlockHash) {
  const a = receipt.anchor;
  if (!nodeBlockHash) {
    return result(6, "block_hash", false,
      "chain " + a.chain_id + " has no block " + a.block_number + ": the chain was reset or the node is behind");
  }
  const hash = nodeBlockHash.toLowerCase(), recorded = String(a.block_hash).toLowerCase();
  if (hash !== recorded) {
    return result(6, "block_hash", false,
      "block " + a.block_number + " on chain " + a.chain_id + " is " + hash + ", not " + a.block_hash +
      " as in the receipt: the chain was reorganised or reset since anchoring");
  }
  return result(6, "block_hash", true, "block " + a.block_number + " has hash " + recorded);
}

/**
 * Latest block number − anchoring block number + 1, and 0 when the head is below it.
 * @param {number} head
 * @param {number} blockNumber
 * @returns {number}
 */
export function countConfirmations(head, blockNumber) {
  return Math.max(0, head - blockNumber + 1);
}

/**
 * Step 7: the anchoring block has at least `required` confirmations.
 * @param {any} receipt an anchored receipt
 * @param {number} head
 * @param {number} required
 * @returns {Check}
 */
export function checkConfirmations(receipt, head, required) {
  const count = countConfirmations(head, receipt.anchor.block_number);
  if (count < required) {
    return result(7, "confirmations", false,
      "the anchor has " + count + " of the " + required + " confirmations required; it is not confirmed yet");
  }
  return result(7, "confirmations", true,
    "the anchor has " + count + " confirmation" + (count === 1 ? "" : "s") + " (" + required + " required)");
}

/**
 * Steps 1 to 7 over what the verifier's node answered. Once the receipt has
 * no anchor, its deployment is not trusted or the node is on another chain,
 * steps 6 and 7 are skipped. When step 6 fails, step 7 is skipped and the
 * confirmations are 0: an anchor that left the chain is never counted.
 * @param {any} receipt a parsed receipt object
 * @param {{documentSha256: string | null, facts: NodeFacts, required: number, deployments: Deployment[]}} given
 * @returns {Verification}
 */
export function evaluateReceipt(receipt, given) {
  const { documentSha256, facts, required, deployments } = given;
  const checks = [checkDocument(receipt, documentSha256), checkMetadata(receipt), checkLeafAndProof(receipt)];
  checks.push(checkChainRecord(receipt, facts.chainId, facts.record, deployments));
  const a = receipt.anchor;
  let reason = null;
  if (!isObject(a)) reason = "the receipt has no anchor yet";
  else if (!trustedDeployment(a, deployments)) reason = "the receipt's contract is not a trusted deployment";
  else if (facts.chainId !== a.chain_id) reason = "the node is on chain " + facts.chainId + ", not " + a.chain_id;
  let confirmations = 0;
  if (reason !== null || !isObject(a)) {
    checks.push(result(6, "block_hash", true, "not checked: " + reason, true));
    checks.push(result(7, "confirmations", true, "not checked: " + reason, true));
  } else {
    const block = checkBlockHash(receipt, facts.blockHash);
    checks.push(block);
    if (block.ok) {
      checks.push(checkConfirmations(receipt, facts.head, required));
      confirmations = countConfirmations(facts.head, /** @type {number} */ (a.block_number));
    } else {
      // An anchor whose block left the chain has no confirmations to count.
      checks.push(result(7, "confirmations", true,
        "not counted: block " + a.block_number + " of the anchor is not on the node's chain (step 6)", true));
    }
  }
  return {
    valid: checks.every((c) => c.ok),
    confirmations,
    required_confirmations: required,
    checks
  };
}

/**
 * The data of eth_call getAnchor(root) for a batch root in hex.
 * @param {string} rootHex
 * @returns {string}
 */
export function anchorCallData(rootHex) {
  return "0x" + GET_ANCHOR_SELECTOR + rootHex;
}

/**
 * Decodes what eth_call getAnchor returned (five 32-byte words); null when
 * the answer is too short to be a record.
 * @param {unknown} output
 * @returns {AnchorRecord | null}
 */
export function decodeAnchorRecord(output) {
  const out = String(output).replace(/^0x/, "");
  if (out.length < 5 * 64 || !/^[0-9a-fA-F]*$/.test(out)) return null;
  /** @param {number} i */
  const word = (i) => out.substr(i * 64, 64);
  return {
    seq: Number(BigInt("0x" + word(0))),
    tree_size: Number(BigInt("0x" + word(1))),
    timestamp: Number(BigInt("0x" + word(2))),
    block_number: Number(BigInt("0x" + word(3))),
    anchorer: "0x" + word(4).substr(24)
  };
}

/**
 * @param {string} text
 * @returns {Uint8Array}
 */
function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/**
 * The service signature's outcome: "none" (no signature), "ok", "bad",
 * "unknownKey" (a key the service does not publish), "noKeys" (the service
 * publishes no key: not checked) or "unchecked" (no Ed25519 here).
 * @typedef {{outcome: "none" | "ok" | "bad" | "unknownKey" | "noKeys" | "unchecked", keyId?: string}} SignatureOutcome
 */

/**
 * Checks the receipt's signature against the published keys
 * ({key_id, public_key (base64)}), over RFC 8785 of the receipt without it.
 * @param {any} receipt
 * @param {{key_id: string, public_key: string}[] | undefined} keys
 * @param {SubtleCrypto} [subtle]
 * @returns {Promise<SignatureOutcome>}
 */
export async function checkSignature(receipt, keys, subtle) {
  if (!isObject(receipt) || !("signature" in receipt)) return { outcome: "none" };
  const sig = receipt.signature;
  if (!keys || !keys.length) return { outcome: "noKeys" };
  if (!isObject(sig) || sig.alg !== "Ed25519" || typeof sig.key_id !== "string" || typeof sig.value !== "string") {
    return { outcome: "bad" };
  }
  const key = keys.find((k) => k.key_id === sig.key_id);
  if (!key) return { outcome: "unknownKey" };
  /** @type {Record<string, unknown>} */
  const unsigned = Object.create(null);
  for (const k of Object.keys(receipt)) if (k !== "signature") unsigned[k] = receipt[k];
  let message, signature, publicKey;
  try {
    message = new TextEncoder().encode(canonicalJson(unsigned));
    signature = fromBase64(sig.value);
    publicKey = fromBase64(key.public_key);
  } catch (e) {
    return { outcome: "bad" };
  }
  const crypt = subtle || (typeof crypto !== "undefined" ? crypto.subtle : undefined);
  let imported;
  try {
    if (!crypt) throw new Error("no WebCrypto");
    imported = await crypt.importKey("raw", /** @type {BufferSource} */ (publicKey), { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    return { outcome: "unchecked" };
  }
  try {
    const ok = await crypt.verify({ name: "Ed25519" }, imported, /** @type {BufferSource} */ (signature), message);
    return { outcome: ok ? "ok" : "bad", keyId: sig.key_id };
  } catch (e) {
    return { outcome: "bad" };
  }
}

/**
 * @param {unknown} e
 * @returns {string}
 */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

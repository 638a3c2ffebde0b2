"""Verification (spec section 6), step by step, against values the caller fetched: the
document, the metadata, the leaf and its proof, the on-chain record, the block hash, the
confirmations and the optional signature. Each step returns a :class:`CheckResult`.

Pure core, consensus-critical: see :mod:`docanchor.receipt`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

import rfc8785

from docanchor import hashing, merkle
from docanchor.errors import (
    InputError,
    ReceiptFormatError,
    VerificationError,
)
from docanchor.onchain import OnChainRecord
from docanchor.receipt.model import SIGNATURE_MEMBER, Receipt, _json_type, _show
from docanchor.receipt.trust import SignatureVerifier, TrustedDeployment, TrustPolicy


def signing_payload(receipt_json: Mapping[str, Any]) -> bytes:
    """The bytes a receipt signature covers: RFC 8785 JSON of the receipt without ``signature``.

    Takes the receipt's JSON object (as emitted or as received, never a
    re-emission of a parsed receipt when checking someone else's signature).
    """
    if not isinstance(receipt_json, Mapping):
        raise ReceiptFormatError("a receipt signing payload needs the receipt's JSON object")
    unsigned = {key: value for key, value in receipt_json.items() if key != SIGNATURE_MEMBER}
    try:
        payload: bytes = rfc8785.dumps(unsigned)
    except Exception as exc:  # rfc8785 raises its own types for values JSON cannot hold
        raise ReceiptFormatError(f"the receipt cannot be canonicalised: {exc}") from exc
    return payload


def leaf_hash_of(receipt: Receipt) -> bytes:
    """The receipt's leaf hash, recomputed from salt and digests (spec 6 step 3)."""
    d = receipt.document
    return hashing.document_leaf_hash(d.salt, d.sha256, d.metadata_sha256)


@dataclass(frozen=True)
class CheckResult:
    """One verification step: its number in spec section 6, a short name, the outcome.

    ``detail`` is a sentence a supplier can read. A skipped step (nothing to
    check, e.g. no document given) has ``ok`` True and ``skipped`` True.
    """

    step: int
    name: str
    ok: bool
    detail: str
    skipped: bool = False


@dataclass(frozen=True)
class ReceiptVerification:
    """The outcome of :func:`evaluate_receipt`.

    ``valid`` is True only when every step that was not skipped passed,
    including the verifier's own confirmation threshold.
    """

    valid: bool
    confirmations: int
    checks: list[CheckResult]

    @property
    def first_failure(self) -> CheckResult | None:
        return next((check for check in self.checks if not check.ok), None)


STEP_DOCUMENT: Final = 1
STEP_METADATA: Final = 2
STEP_PROOF: Final = 4
STEP_CHAIN_RECORD: Final = 5
STEP_BLOCK_HASH: Final = 6
STEP_CONFIRMATIONS: Final = 7
# Not a step of spec section 6: the optional check of the service signature,
# reported after the seven steps.
STEP_SIGNATURE: Final = 8


def _digest_arg(value: object, what: str) -> bytes:
    if type(value) is not bytes or len(value) != hashing.DIGEST_SIZE:
        raise InputError(f"{what} must be 32 bytes")
    return value


def check_document(receipt: Receipt, document_sha256: bytes | None) -> CheckResult:
    """Step 1: the given document's SHA-256 equals ``document.sha256``."""
    name = "document"
    if document_sha256 is None:
        return CheckResult(
            STEP_DOCUMENT, name, True, "no document given; only the receipt was checked", True
        )
    if _digest_arg(document_sha256, "the document's SHA-256") != receipt.document.sha256:
        return CheckResult(
            STEP_DOCUMENT,
            name,
            False,
            f"the document does not match this receipt: its SHA-256 is "
            f"{document_sha256.hex()}, the receipt is for {receipt.document.sha256.hex()}",
        )
    return CheckResult(
        STEP_DOCUMENT,
        name,
        True,
        f"the document matches this receipt (SHA-256 {document_sha256.hex()})",
    )


def check_metadata(receipt: Receipt) -> CheckResult:
    """Step 2: when metadata is carried, SHA-256(JCS(metadata)) equals ``metadata_sha256``."""
    name = "metadata"
    d = receipt.document
    if d.metadata is None:
        return CheckResult(
            STEP_METADATA,
            name,
            True,
            "the receipt carries no metadata; its digest is checked as part of the leaf",
            True,
        )
    computed = hashing.metadata_digest(d.metadata)
    if computed != d.metadata_sha256:
        return CheckResult(
            STEP_METADATA,
            name,
            False,
            f"the metadata in this receipt was altered: it hashes to {computed.hex()}, "
            f"the receipt records {d.metadata_sha256.hex()}",
        )
    return CheckResult(STEP_METADATA, name, True, "the metadata matches its digest")


def check_leaf_and_proof(receipt: Receipt) -> CheckResult:
    """Steps 3 and 4: the leaf rebuilt from the receipt folds along the path into ``batch.root``."""
    name = "merkle_proof"
    if receipt.proof is None or receipt.batch is None:
        return CheckResult(
            STEP_PROOF,
            name,
            False,
            "this receipt is pending: the document is registered but not yet in a sealed "
            "batch, so there is no proof to check against a chain; fetch the receipt again later",
        )
    p, b = receipt.proof, receipt.batch
    try:
        computed = merkle.root_from_inclusion_proof(
            leaf_hash_of(receipt), p.leaf_index, p.tree_size, list(p.path)
        )
    except VerificationError as exc:
        return CheckResult(STEP_PROOF, name, False, f"the inclusion proof is malformed: {exc}")
    if computed != b.root:
        return CheckResult(
            STEP_PROOF,
            name,
            False,
            f"the receipt's proof does not lead to batch root {b.root.hex()} "
            f"(it leads to {computed.hex()}): the receipt was altered",
        )
    return CheckResult(
        STEP_PROOF,
        name,
        True,
        f"the document is leaf {p.leaf_index} of {p.tree_size} in the tree with root "
        f"{b.root.hex()}",
    )


def untrusted_deployment_detail(chain_id: int, contract: str) -> str:
    """The words of step 5 for a deployment the verifier does not trust."""
    return (
        f"anchored in {contract} on chain {chain_id}, which is not a docanchor deployment "
        "this verifier trusts"
    )


def check_chain_record(
    receipt: Receipt,
    node_chain_id: int | None,
    record: OnChainRecord | None,
    trusted: Collection[TrustedDeployment],
) -> CheckResult:
    """Step 5: the anchor's deployment is trusted, and ``getAnchor(batch.root)``, read on
    a node of ``anchor.chain_id``, matches.

    ``trusted`` is the verifier's set of deployments; for any other
    (``anchor.chain_id``, ``anchor.contract``) the step fails whatever the
    node says, and the caller need not have asked it anything
    (``node_chain_id`` may then be ``None``). ``record`` is ``None`` when the
    caller could not read one (for example because the node is on another
    chain); an all-zero record means the contract does not know the root.
    """
    name = "chain_record"
    a = receipt.anchor
    if a is None or receipt.batch is None or receipt.proof is None:
        return CheckResult(
            STEP_CHAIN_RECORD,
            name,
            False,
            f"this receipt is {receipt.status.value}: its batch root is not anchored yet, so "
            "there is nothing to check on chain; fetch the receipt again later",
        )
    if TrustedDeployment(a.chain_id, a.contract) not in trusted:
        return CheckResult(
            STEP_CHAIN_RECORD, name, False, untrusted_deployment_detail(a.chain_id, a.contract)
        )
    if node_chain_id is None:
        raise InputError("the node's chain id is needed to check a trusted deployment")
    if node_chain_id != a.chain_id:
        return CheckResult(
            STEP_CHAIN_RECORD,
            name,
            False,
            f"this receipt belongs to chain {a.chain_id}; the node is on chain {node_chain_id}",
        )
    where = f"on chain {a.chain_id} at {a.contract}"
    if record is None:
        return CheckResult(
            STEP_CHAIN_RECORD,
            name,
            False,
            f"no anchor record could be read {where}",
        )
    if record.is_unknown:
        return CheckResult(
            STEP_CHAIN_RECORD,
            name,
            False,
            f"this root is not anchored {where} (root {receipt.batch.root.hex()})",
        )
    differences = [
        f"{what} is {on_chain} on chain but {in_receipt} in the receipt"
        for what, on_chain, in_receipt in (
            ("the tree size", record.tree_size, receipt.proof.tree_size),
            ("the block number", record.block_number, a.block_number),
            ("the timestamp", record.timestamp, a.timestamp),
            ("the sequence number", record.seq, a.seq),
        )
        if on_chain != in_receipt
    ]
    if differences:
        return CheckResult(
            STEP_CHAIN_RECORD,
            name,
            False,
            f"the anchor {where} does not match this receipt: " + "; ".join(differences),
        )
    return CheckResult(
        STEP_CHAIN_RECORD,
        name,
        True,
        f"the root is anchored {where} as number {record.seq}, in block {record.block_number}, "
        f"by {record.anchorer}",
    )


def check_block_hash(receipt: Receipt, node_block_hash: str | None) -> CheckResult:
    """Step 6: the node's block at ``anchor.block_number`` has hash ``anchor.block_hash``.

    ``node_block_hash`` is ``None`` when the node has no block at that height.
    """
    name = "block_hash"
    a = receipt.anchor
    if a is None:
        return CheckResult(
            STEP_BLOCK_HASH, name, True, "not checked: the receipt has no anchor yet", True
        )
    if node_block_hash is None:
        return CheckResult(
            STEP_BLOCK_HASH,
            name,
            False,
            f"chain {a.chain_id} has no block {a.block_number}: the chain was reset or "
            "the node is behind",
        )
    if node_block_hash.lower() != a.block_hash:
        return CheckResult(
            STEP_BLOCK_HASH,
            name,
            False,
            f"block {a.block_number} on chain {a.chain_id} is {node_block_hash.lower()}, "
            f"not {a.block_hash} as in the receipt: the chain was reorganised or reset "
            "since anchoring",
        )
    return CheckResult(
        STEP_BLOCK_HASH, name, True, f"block {a.block_number} has hash {a.block_hash}"
    )


def count_confirmations(head_number: int, block_number: int) -> int:
    """Latest block number − anchoring block number + 1, and 0 when the head is below it."""
    for what, value in (("head block number", head_number), ("block number", block_number)):
        if type(value) is not int or value < 0:
            raise InputError(f"{what} must be a non-negative integer, got {value!r}")
    return max(0, head_number - block_number + 1)


def check_confirmations(receipt: Receipt, head_number: int, required: int) -> CheckResult:
    """Step 7: the anchoring block has at least ``required`` confirmations (the verifier's own).

    Precondition: ``required >= 1`` (checked).
    """
    name = "confirmations"
    if type(required) is not int or required < 1:
        raise InputError(f"required confirmations must be at least 1, got {required!r}")
    a = receipt.anchor
    if a is None:
        return CheckResult(
            STEP_CONFIRMATIONS, name, True, "not checked: the receipt has no anchor yet", True
        )
    count = count_confirmations(head_number, a.block_number)
    if count < required:
        return CheckResult(
            STEP_CONFIRMATIONS,
            name,
            False,
            f"the anchor has {count} of the {required} confirmations required; "
            "it is not confirmed yet",
        )
    return CheckResult(
        STEP_CONFIRMATIONS,
        name,
        True,
        f"the anchor has {count} confirmation{'' if count == 1 else 's'} ({required} required)",
    )


def verify_receipt_offline(
    receipt: Receipt, document_sha256: bytes | None = None
) -> list[CheckResult]:
    """Steps 1 to 4: everything that needs no node."""
    return [
        check_document(receipt, document_sha256),
        check_metadata(receipt),
        check_leaf_and_proof(receipt),
    ]


def check_signature(
    receipt_json: Mapping[str, Any],
    signing_keys: Mapping[str, bytes],
    verify: SignatureVerifier | None,
) -> CheckResult:
    """The optional signature check: the receipt's ``signature`` member, if any, is a
    valid Ed25519 signature by one of ``signing_keys`` over the receipt without it.

    ``receipt_json`` is the receipt's JSON object as received (the signature
    covers RFC 8785 of exactly that, minus ``signature``). A receipt without
    ``signature`` passes (skipped); so does any receipt when the verifier
    knows no key or cannot check Ed25519 (skipped, "not checked"). A
    malformed signature, one by a key the verifier does not know, or one that
    does not verify fails.
    """
    name = "signature"
    if SIGNATURE_MEMBER not in receipt_json:
        return CheckResult(
            STEP_SIGNATURE, name, True, "the receipt carries no service signature", True
        )
    if verify is None or not signing_keys:
        return CheckResult(
            STEP_SIGNATURE,
            name,
            True,
            "signature not checked: this verifier knows no receipt signing key",
            True,
        )
    sig = receipt_json[SIGNATURE_MEMBER]

    def failed(detail: str) -> CheckResult:
        return CheckResult(STEP_SIGNATURE, name, False, detail)

    if not isinstance(sig, Mapping):
        return failed(f"the receipt's signature must be an object, got {_json_type(sig)}")
    alg, key_id, value = sig.get("alg"), sig.get("key_id"), sig.get("value")
    if alg != "Ed25519":
        return failed(f"the receipt's signature uses algorithm {_show(alg)}, not 'Ed25519'")
    if not isinstance(key_id, str) or not isinstance(value, str):
        return failed("the receipt's signature needs a key_id and a value, both strings")
    public = signing_keys.get(key_id)
    if public is None:
        return failed(
            f"the receipt is signed by key {key_id[:80]!r}, which is not a receipt signing "
            "key this verifier trusts"
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return failed("the receipt's signature value is not base64")
    try:
        payload = signing_payload(receipt_json)
    except ReceiptFormatError as exc:
        return failed(str(exc))
    if len(raw) != 64 or not verify(public, raw, payload):
        return failed(
            f"the receipt's signature by key {key_id} does not verify: the receipt was "
            "altered after it was signed, or the signature is forged"
        )
    return CheckResult(STEP_SIGNATURE, name, True, f"signed by the service key {key_id}")


def evaluate_receipt(
    receipt: Receipt,
    *,
    document_sha256: bytes | None = None,
    node_chain_id: int | None,
    record: OnChainRecord | None,
    block_hash: str | None,
    head_number: int,
    required_confirmations: int,
    trust: TrustPolicy,
    receipt_json: Mapping[str, Any] | None = None,
) -> ReceiptVerification:
    """All seven steps of spec section 6, over values the caller fetched from its node,
    then the optional signature check.

    ``trust`` holds the verifier's trusted deployments (step 5) and signing
    keys. For an untrusted deployment nothing needs to be fetched:
    ``node_chain_id`` may be ``None``. ``record`` is what
    ``getAnchor(batch.root)`` returned (``None`` if none was read),
    ``block_hash`` the hash of the node's block at ``anchor.block_number``
    (``None`` if it has none), ``head_number`` the node's latest block number.
    ``receipt_json`` is the JSON object the receipt was parsed from (its
    re-emission when not given), for the signature check. Every step is
    reported; once the deployment is untrusted, the node is on another chain
    or the receipt has no anchor, steps 6 and 7 are reported as skipped
    because their inputs mean nothing. ``valid`` is False as soon as one
    reported step failed. When step 6 fails, step 7 is skipped and the
    confirmations are 0: an anchor that left the chain is never counted.
    """
    checks = verify_receipt_offline(receipt, document_sha256)
    record_check = check_chain_record(receipt, node_chain_id, record, trust.deployments)
    checks.append(record_check)
    a = receipt.anchor
    reason: str | None = None
    if a is None:
        reason = "the receipt has no anchor yet"
    elif not trust.trusts(receipt):
        reason = "the receipt's contract is not a trusted deployment"
    elif node_chain_id != a.chain_id:
        reason = f"the node is on chain {node_chain_id}, not {a.chain_id}"
    if reason is not None or a is None:
        checks.append(
            CheckResult(STEP_BLOCK_HASH, "block_hash", True, f"not checked: {reason}", True)
        )
        checks.append(
            CheckResult(STEP_CONFIRMATIONS, "confirmations", True, f"not checked: {reason}", True)
        )
        confirmations = 0
    else:
        block_check = check_block_hash(receipt, block_hash)
        checks.append(block_check)
        if block_check.ok:
            checks.append(check_confirmations(receipt, head_number, required_confirmations))
            confirmations = count_confirmations(head_number, a.block_number)
        else:
            # An anchor whose block left the chain has no confirmations to count.
            checks.append(
                CheckResult(
                    STEP_CONFIRMATIONS,
                    "confirmations",
                    True,
                    f"not counted: block {a.block_number} of the anchor is not on the node's "
                    "chain (step 6)",
                    True,
                )
            )
            confirmations = 0
    source = receipt.to_json() if receipt_json is None else receipt_json
    checks.append(check_signature(source, trust.signing_keys, trust.verify_signature))
    valid = all(check.ok for check in checks)
    return ReceiptVerification(valid=valid, confirmations=confirmations, checks=checks)


def verify_receipt_proof(receipt: Receipt) -> None:
    """Steps 3 and 4 as an exception: returns None when the proof leads to ``batch.root``.

    Raises :class:`VerificationError` for a pending receipt and the
    :mod:`docanchor.merkle` errors (``RootMismatchError`` holding both roots)
    for a proof that does not verify.
    """
    if receipt.proof is None or receipt.batch is None:
        raise VerificationError("this receipt is pending: it has no inclusion proof to verify yet")
    p = receipt.proof
    merkle.verify_inclusion(
        leaf_hash_of(receipt), p.leaf_index, p.tree_size, list(p.path), receipt.batch.root
    )

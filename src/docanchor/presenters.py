"""The JSON shapes of docanchor's objects, written once for both edges.

``docanchor … --json`` and the HTTP API show a batch, a document, a log
checkpoint, a consistency proof and an API key through these functions, so
that one object has one shape wherever it is shown. Plain dicts, cheap on
the hot paths; the API's pydantic schemas describe the same shapes for
OpenAPI. Receipts and audit reports have their own ``to_json`` (the core's
receipt model, the service's and the audit's reports), and a signed receipt
comes from the service.

Public summaries never carry salts; receipts do, because a receipt is what
lets its holder prove inclusion. Nothing here reads the database or the
chain: every function takes what it shows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from docanchor.keys import KeyRecord, NewKey
from docanchor.receipt import Receipt, ReceiptVerification
from docanchor.service import AnchoredBatch, BatchRecord, Checkpoint, DocumentView
from docanchor.signing import public_key_info
from docanchor.vocabulary import utc_text

_PRIVATE_BATCH_MEMBERS: Final = ("last_error", "attempts", "reanchored")
# What ``docanchor anchor --json`` shows of each batch it touched.
_ANCHOR_MEMBERS: Final = (
    "id",
    "size",
    "root",
    "seq",
    "tx_hash",
    "block_number",
    "status",
    "last_error",
)


def iso(value: datetime | None) -> str | None:
    """An optional time as :func:`docanchor.vocabulary.utc_text` writes it."""
    return None if value is None else utc_text(value)


# --- batches and the log ---------------------------------------------------------


def batch_json(batch: BatchRecord) -> dict[str, Any]:
    """A batch with everything known of it (``docanchor status --json``)."""
    anchor = batch.anchor
    checkpoint = batch.checkpoint
    return {
        "id": batch.id,
        "size": batch.size,
        "root": batch.root.hex(),
        "status": batch.status,
        "seq": None if anchor is None else anchor.seq,
        "tx_hash": batch.tx_hash,
        "block_number": None if anchor is None else anchor.block_number,
        "block_hash": None if anchor is None else anchor.block_hash,
        "timestamp": None if anchor is None else anchor.timestamp,
        "chain_id": batch.chain_id,
        "contract": batch.contract,
        "anchorer": batch.anchorer,
        "gas_used": batch.gas_used,
        "sealed_at": iso(batch.sealed_at),
        "anchored_at": iso(batch.anchored_at),
        "confirmed_at": iso(batch.confirmed_at),
        "last_error": batch.last_error,
        "first_index": None if checkpoint is None else checkpoint.first_index,
        "tree_size": None if checkpoint is None else checkpoint.tree_size,
        "reanchored": batch.reanchored,
        "attempts": [dict(e) for e in batch.attempts],
    }


def public_batch(batch: BatchRecord) -> dict[str, Any]:
    """A batch as the public API shows it (operational errors stay in the logs)."""
    data = batch_json(batch)
    for name in _PRIVATE_BATCH_MEMBERS:
        data.pop(name, None)
    return data


def anchored_batch_json(batch: BatchRecord, *, reanchored: bool) -> dict[str, Any]:
    """A batch an anchoring pass touched (``docanchor anchor --json``)."""
    data = batch_json(batch)
    return {**{name: data[name] for name in _ANCHOR_MEMBERS}, "reanchored": reanchored}


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint of the log as log-v1 section 5 shows it."""
    anchor = checkpoint.anchor
    return {
        "seq": None if anchor is None else anchor.seq,
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "tx_hash": checkpoint.tx_hash,
        "block_number": None if anchor is None else anchor.block_number,
        "block_hash": None if anchor is None else anchor.block_hash,
        "timestamp": None if anchor is None else anchor.timestamp,
        "status": checkpoint.status,
        "batch_id": checkpoint.batch_id,
    }


def consistency_json(
    first: int, second: int, old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]
) -> dict[str, Any]:
    """An RFC 9162 consistency proof between two checkpoints (log-v1 section 5)."""
    return {
        "first": first,
        "second": second,
        "first_root": old.root.hex(),
        "second_root": new.root.hex(),
        "proof": [h.hex() for h in proof],
    }


def anchor_summary(batch: BatchRecord | None) -> dict[str, Any] | None:
    """Where the chain holds a batch's root; None while it is not on chain."""
    anchor: AnchoredBatch | None = None if batch is None else batch.anchor
    if anchor is None:
        return None
    return {
        "tx_hash": anchor.tx_hash,
        "block_number": anchor.block_number,
        "block_hash": anchor.block_hash,
        "timestamp": anchor.timestamp,
        "chain_id": anchor.chain_id,
        "contract": anchor.contract,
        "seq": anchor.seq,
    }


# --- documents -------------------------------------------------------------------


def registration_summary(view: DocumentView) -> dict[str, Any]:
    """A registration without its salt or metadata (the verify answer's list)."""
    doc = view.document
    return {
        "id": doc.id,
        "status": view.status,
        "entity_ruc": doc.entity_ruc or None,
        "reference": doc.reference,
        "type": doc.doc_type,
        "version": view.version,
        "registered_at": iso(doc.created_at),
        "batch_id": doc.batch_id,
        "anchor": anchor_summary(view.batch),
    }


def document_versions(family: Sequence[DocumentView], sha256: str) -> list[dict[str, Any]]:
    """The versions of a document (the verify answer's ``versions``), by entity,
    reference and version, marking the one whose digest is ``sha256``."""
    return [
        {
            "entity_ruc": other.document.entity_ruc or None,
            "reference": other.document.reference,
            "version": other.version,
            "sha256": other.document.sha256,
            "status": other.status,
            "registered_at": iso(other.document.created_at),
            "is_this_document": other.document.sha256 == sha256,
        }
        for other in sorted(
            family,
            key=lambda v: (v.document.entity_ruc, v.document.reference or "", v.version or 0),
        )
    ]


def document_json(
    view: DocumentView, receipt: dict[str, Any], *, created: bool | None = None
) -> dict[str, Any]:
    """A registration with its metadata and its receipt (the API's ``DocumentOut``):
    the members of :func:`registration_summary` but its anchor, with the document's
    digest after its id."""
    doc = view.document
    summary = registration_summary(view)
    del summary["anchor"]
    data: dict[str, Any] = {
        "id": summary.pop("id"),
        "sha256": doc.sha256,
        **summary,
        "metadata": json.loads(doc.metadata_json),
        "receipt": receipt,
    }
    if created is not None:
        data = {"created": created, **data}
    return data


def document_line(view: DocumentView, receipt: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A registration as one line of ``docanchor submit|receipt --json``: ``extra``
    first, then the members of :func:`document_json` a line keeps."""
    doc = view.document
    return {
        **extra,
        "id": doc.id,
        "sha256": doc.sha256,
        "status": view.status,
        "entity_ruc": doc.entity_ruc or None,
        "reference": doc.reference,
        "version": view.version,
        "batch_id": doc.batch_id,
        "receipt": receipt,
    }


# --- receipt checks --------------------------------------------------------------


def receipt_check_json(
    result: ReceiptVerification, receipt: Receipt, *, verdict: str, required_confirmations: int
) -> dict[str, Any]:
    """A receipt checked against the chain (``POST /v1/receipts/verify``,
    ``docanchor check-receipt --json``): the verdict and every step of spec section 6."""
    return {
        "valid": result.valid,
        "verdict": verdict,
        "status": receipt.status.value,
        "confirmations": result.confirmations,
        "required_confirmations": required_confirmations,
        "checks": [
            {"step": c.step, "name": c.name, "ok": c.ok, "skipped": c.skipped, "detail": c.detail}
            for c in result.checks
        ],
    }


# --- keys --------------------------------------------------------------------------


def key_json(key: KeyRecord) -> dict[str, object]:
    """An API key as ``docanchor keys list`` shows it (its prefix, never the key)."""
    return {
        "id": key.id,
        "prefix": key.prefix,
        "role": key.role,
        "entity": key.entity_ruc,
        "label": key.label,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


def new_key_json(made: NewKey) -> dict[str, object]:
    """A key just made (``docanchor keys create --json``): the only time its secret shows."""
    key = made.key
    return {"key": made.secret, "id": key.id, "entity": key.entity_ruc, "role": key.role}


def revoked_key_json(key: KeyRecord) -> dict[str, object]:
    """A key just revoked (``docanchor keys revoke --json``)."""
    return {"id": key.id, "revoked_at": iso(key.revoked_at)}


def signing_key_json(public_raw: bytes) -> dict[str, str]:
    """A receipt signing key: its id, and the raw Ed25519 key in base64 and hex."""
    return public_key_info(public_raw)


__all__ = [
    "anchor_summary",
    "anchored_batch_json",
    "batch_json",
    "checkpoint_json",
    "consistency_json",
    "document_json",
    "document_line",
    "iso",
    "key_json",
    "new_key_json",
    "public_batch",
    "registration_summary",
    "revoked_key_json",
    "signing_key_json",
]

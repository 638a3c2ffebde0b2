"""Strict parsing of a receipt's JSON text (spec section 5): every member checked, unknown
members kept as extras, and a :class:`~docanchor.errors.ReceiptFormatError` naming the
member at fault for anything else.

Pure core, consensus-critical: see :mod:`docanchor.receipt`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docanchor import hashing, jsontext
from docanchor.errors import (
    ReceiptFormatError,
)
from docanchor.jsontext import JSONTextError
from docanchor.receipt.model import (
    _ANCHOR_MEMBERS,
    _BATCH_MEMBERS,
    _DOCUMENT_MEMBERS,
    _PROOF_MEMBERS,
    _TOP_MEMBERS,
    RECEIPT_VERSION,
    AnchorPart,
    BatchPart,
    DocumentPart,
    ProofPart,
    Receipt,
    ReceiptStatus,
    _fail,
    _json_type,
    _require_int,
    _show,
)


def _member(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        _fail(f"receipt member {where}{key} is missing")
    return obj[key]


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(f"receipt member {where} must be an object, got {_json_type(value)}")
    for key in value:
        if not isinstance(key, str):
            _fail(f"receipt member {where} has a member name that is not a string: {key!r}")
    return value


def _hex64(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        _fail(
            f"receipt member {where} must be a string of 64 lowercase hex characters, "
            f"got {_json_type(value)}"
        )
    if not hashing.is_hex64(value):
        _fail(
            f"receipt member {where} must be 64 lowercase hex characters without 0x, "
            f"got {_show(value)}"
        )
    return bytes.fromhex(value)


def _extras(obj: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    return {key: copy.deepcopy(value) for key, value in obj.items() if key not in known}


def _parse_document(value: object) -> DocumentPart:
    obj = _object(value, "document")
    metadata: dict[str, Any] | None = None
    if "metadata" in obj:
        raw = obj["metadata"]
        if raw is None:
            _fail(
                "receipt member document.metadata is null; a receipt without metadata "
                "leaves the member out"
            )
        metadata = copy.deepcopy(_object(raw, "document.metadata"))
    return DocumentPart(
        sha256=_hex64(_member(obj, "sha256", "document."), "document.sha256"),
        salt=_hex64(_member(obj, "salt", "document."), "document.salt"),
        metadata_sha256=_hex64(
            _member(obj, "metadata_sha256", "document."), "document.metadata_sha256"
        ),
        metadata=metadata,
        extra=_extras(obj, _DOCUMENT_MEMBERS),
    )


def _parse_proof(value: object) -> ProofPart:
    obj = _object(value, "proof")
    leaf_index = _member(obj, "leaf_index", "proof.")
    tree_size = _member(obj, "tree_size", "proof.")
    raw_path = _member(obj, "path", "proof.")
    if not isinstance(raw_path, list):
        _fail(f"receipt member proof.path must be an array, got {_json_type(raw_path)}")
    path = tuple(_hex64(element, f"proof.path[{i}]") for i, element in enumerate(raw_path))
    return ProofPart(
        leaf_index=leaf_index,
        tree_size=tree_size,
        path=path,
        extra=_extras(obj, _PROOF_MEMBERS),
    )


def _parse_batch(value: object) -> BatchPart:
    obj = _object(value, "batch")
    return BatchPart(
        id=_require_int(_member(obj, "id", "batch."), "batch.id"),
        root=_hex64(_member(obj, "root", "batch."), "batch.root"),
        extra=_extras(obj, _BATCH_MEMBERS),
    )


def _parse_anchor(value: object) -> AnchorPart:
    obj = _object(value, "anchor")
    values = {key: _member(obj, key, "anchor.") for key in _ANCHOR_MEMBERS}
    return AnchorPart(
        chain_id=values["chain_id"],
        contract=values["contract"],
        seq=values["seq"],
        tx_hash=values["tx_hash"],
        block_number=values["block_number"],
        block_hash=values["block_hash"],
        timestamp=values["timestamp"],
        extra=_extras(obj, _ANCHOR_MEMBERS),
    )


def parse_receipt(data: Any) -> Receipt:
    """A :class:`Receipt` from already decoded JSON, checked strictly.

    Raises :class:`ReceiptFormatError` naming the offending member for
    anything that is not a well-formed ``docanchor-receipt/1`` receipt.
    Unknown members are kept (in ``extra``), not refused. Nothing here checks
    that the digests agree with each other; that is :func:`evaluate_receipt`.
    """
    depth = hashing.json_depth(data)
    if depth > jsontext.MAX_DEPTH:
        # The same words as jsontext.check_depth, so every path reports it alike.
        raise ReceiptFormatError(
            f"the receipt is nested {depth} levels deep; at most {jsontext.MAX_DEPTH} are allowed"
        )
    try:
        return _parse_receipt(data)
    except RecursionError as exc:
        # Nesting deep enough to exhaust the stack is refused, not a crash.
        raise ReceiptFormatError("the receipt is nested too deeply") from exc


def _parse_receipt(data: Any) -> Receipt:
    obj = _object(data, "(the receipt itself)")
    version = _member(obj, "version", "")
    if version != RECEIPT_VERSION:
        _fail(f"receipt member version must be {RECEIPT_VERSION!r}, got {_show(version)}")
    raw_status = _member(obj, "status", "")
    if not isinstance(raw_status, str) or raw_status not in {s.value for s in ReceiptStatus}:
        allowed = ", ".join(s.value for s in ReceiptStatus)
        _fail(f"receipt member status must be one of {allowed}; got {_show(raw_status)}")
    status = ReceiptStatus(raw_status)
    document = _parse_document(_member(obj, "document", ""))
    raw_proof = _member(obj, "proof", "")
    raw_batch = _member(obj, "batch", "")
    raw_anchor = _member(obj, "anchor", "")
    return Receipt(
        status=status,
        document=document,
        proof=None if raw_proof is None else _parse_proof(raw_proof),
        batch=None if raw_batch is None else _parse_batch(raw_batch),
        anchor=None if raw_anchor is None else _parse_anchor(raw_anchor),
        extra=_extras(obj, _TOP_MEMBERS),
    )


def loads_receipt_text(text: str | bytes, *, enclosing: int = 0) -> Any:
    """Decode receipt JSON text strictly, without checking its members yet.

    The one strict decoder of every path (CLI, API): invalid JSON, text that
    is not UTF-8, a duplicate member name, ``NaN``/``Infinity``, a number
    with a fraction or exponent, or nesting deeper than
    :data:`jsontext.MAX_DEPTH` raise :class:`ReceiptFormatError` whose words
    start with "the receipt". ``enclosing`` counts the containers around the
    receipt in ``text`` (1 for an API body ``{"receipt": {...}}``), which the
    depth limit does not count.
    """
    try:
        return jsontext.loads_strict(text, what="the receipt", enclosing=enclosing)
    except JSONTextError as exc:
        raise ReceiptFormatError(str(exc)) from None


@dataclass(frozen=True)
class ParsedReceipt:
    """A receipt and the JSON object it was parsed from (for its signature)."""

    receipt: Receipt
    source: dict[str, Any]


def parse_receipt_text(text: str | bytes) -> ParsedReceipt:
    """:func:`parse_receipt_json`, keeping the decoded JSON object as well."""
    data = loads_receipt_text(text)
    receipt = parse_receipt(data)
    assert isinstance(data, dict)  # parse_receipt refuses anything else
    return ParsedReceipt(receipt, data)


def parse_receipt_json(text: str | bytes) -> Receipt:
    """A :class:`Receipt` from its UTF-8 JSON text, checked strictly.

    Refuses invalid JSON, text that is not UTF-8, an object with a duplicate
    member name, ``NaN``/``Infinity`` and numbers with a fraction or exponent
    anywhere (extra members included), then applies :func:`parse_receipt`.
    """
    return parse_receipt_text(text).receipt

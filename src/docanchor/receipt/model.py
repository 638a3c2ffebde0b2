"""The receipt as values: frozen dataclasses for its parts, each checking its members on
construction, and :meth:`Receipt.to_json`, exactly the spec's JSON forms (bytes inside, hex
only at the JSON edge).

Pure core, consensus-critical: see :mod:`docanchor.receipt`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from docanchor import hashing
from docanchor.errors import (
    InputError,
    MetadataError,
    ReceiptFormatError,
)
from docanchor.vocabulary import ADDRESS, UINT64_MAX, DocumentStatus

RECEIPT_VERSION: Final = "docanchor-receipt/1"
SIGNATURE_MEMBER: Final = "signature"
# 0x hashes and addresses are compared without regard to case (spec section 1).
_ETH_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_TOP_MEMBERS: Final = ("version", "status", "document", "proof", "batch", "anchor")
_DOCUMENT_MEMBERS: Final = ("sha256", "salt", "metadata_sha256", "metadata")
_PROOF_MEMBERS: Final = ("leaf_index", "tree_size", "path")
_BATCH_MEMBERS: Final = ("id", "root")
_ANCHOR_MEMBERS: Final = (
    "chain_id",
    "contract",
    "seq",
    "tx_hash",
    "block_number",
    "block_hash",
    "timestamp",
)
# A receipt's status is its document's.
ReceiptStatus = DocumentStatus


def _fail(message: str) -> NoReturn:
    raise ReceiptFormatError(message)


def _require_int(value: object, where: str, *, minimum: int = 0, maximum: int = UINT64_MAX) -> int:
    # bool is a subclass of int in Python but never an integer in a receipt.
    if type(value) is not int:
        _fail(f"receipt member {where} must be an integer, got {_json_type(value)}")
    if value < minimum:
        _fail(f"receipt member {where} must be at least {minimum}, got {value}")
    if value > maximum:
        _fail(f"receipt member {where} must be at most {maximum}, got {value}")
    return value


def _require_digest(value: object, where: str) -> bytes:
    if type(value) is not bytes or len(value) != hashing.DIGEST_SIZE:
        _fail(f"receipt member {where} must be 32 bytes")
    return value


def _require_eth_hash(value: object, where: str) -> str:
    if not isinstance(value, str) or _ETH_HASH.fullmatch(value) is None:
        _fail(
            f"receipt member {where} must be 0x followed by 64 hex characters, got {_show(value)}"
        )
    return value


def _require_address(value: object, where: str) -> str:
    if not isinstance(value, str) or ADDRESS.fullmatch(value) is None:
        _fail(
            f"receipt member {where} must be an address, 0x followed by 40 hex characters, "
            f"got {_show(value)}"
        )
    return value


def _require_extra(extra: object, known: Sequence[str], where: str) -> None:
    if not isinstance(extra, dict):
        _fail(f"extra members of {where} must be a dict")
    for key in extra:
        if not isinstance(key, str):
            _fail(f"extra member names of {where} must be strings, got {key!r}")
        if key in known:
            _fail(f"{where} member {key!r} is a defined member and cannot be an extra one")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value[:80])
    return _json_type(value)


def inclusion_path_length(leaf_index: int, tree_size: int) -> int:
    """Number of hashes in the RFC 9162 inclusion proof of ``leaf_index`` in ``tree_size``.

    The proof climbs the inner part of the tree, where the paths to
    ``leaf_index`` and to the last leaf share no node, one level per bit of
    ``leaf_index XOR (tree_size - 1)``; above that, it takes one hash for each
    left sibling on the border of the tree, one per set bit of the remaining
    high bits of ``leaf_index`` (RFC 9162 section 2.1.3.2).

    Precondition: ``0 <= leaf_index < tree_size`` (checked).
    """
    if type(leaf_index) is not int or type(tree_size) is not int:
        raise InputError("leaf index and tree size must be integers")
    if not 0 <= leaf_index < tree_size:
        raise InputError(f"leaf index {leaf_index} is not inside a tree of size {tree_size}")
    inner = (leaf_index ^ (tree_size - 1)).bit_length()
    border = (leaf_index >> inner).bit_count()
    return inner + border


@dataclass(frozen=True)
class DocumentPart:
    """``document``: the digests that make the leaf, and the metadata if carried.

    ``metadata`` is ``None`` when the receipt leaves the member out; a
    receipt never carries ``"metadata": null``.
    """

    sha256: bytes
    salt: bytes
    metadata_sha256: bytes
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_digest(self.sha256, "document.sha256")
        _require_digest(self.salt, "document.salt")
        _require_digest(self.metadata_sha256, "document.metadata_sha256")
        if self.metadata is not None:
            if not isinstance(self.metadata, dict):
                _fail("receipt member document.metadata must be an object")
            try:
                hashing.canonical_metadata(self.metadata)
            except MetadataError as exc:
                _fail(f"receipt member document.metadata is not allowed: {exc}")
        _require_extra(self.extra, _DOCUMENT_MEMBERS, "document")


@dataclass(frozen=True)
class ProofPart:
    """``proof``: the RFC 9162 inclusion proof of the leaf in its batch's tree."""

    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_int(self.tree_size, "proof.tree_size", minimum=1)
        _require_int(self.leaf_index, "proof.leaf_index")
        if self.leaf_index >= self.tree_size:
            _fail(
                f"receipt member proof.leaf_index ({self.leaf_index}) must be below "
                f"proof.tree_size ({self.tree_size})"
            )
        if type(self.path) is not tuple:
            _fail("receipt member proof.path must be a tuple of 32-byte hashes")
        for i, element in enumerate(self.path):
            _require_digest(element, f"proof.path[{i}]")
        expected = inclusion_path_length(self.leaf_index, self.tree_size)
        if len(self.path) != expected:
            _fail(
                f"receipt member proof.path has {len(self.path)} hashes; leaf {self.leaf_index} "
                f"of a tree of size {self.tree_size} needs exactly {expected}"
            )
        _require_extra(self.extra, _PROOF_MEMBERS, "proof")


@dataclass(frozen=True)
class BatchPart:
    """``batch``: the batch's id (informational) and its Merkle root."""

    id: int
    root: bytes
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_int(self.id, "batch.id")
        _require_digest(self.root, "batch.root")
        _require_extra(self.extra, _BATCH_MEMBERS, "batch")


@dataclass(frozen=True)
class AnchorPart:
    """``anchor``: where and when the batch root was anchored.

    ``tx_hash`` and ``block_hash`` are kept in lowercase; ``contract`` is kept
    as given (emitters pass the EIP-55 form, which needs keccak to compute).
    """

    chain_id: int
    contract: str
    seq: int
    tx_hash: str
    block_number: int
    block_hash: str
    timestamp: int
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_int(self.chain_id, "anchor.chain_id", minimum=1)
        _require_address(self.contract, "anchor.contract")
        _require_int(self.seq, "anchor.seq")
        _require_eth_hash(self.tx_hash, "anchor.tx_hash")
        _require_int(self.block_number, "anchor.block_number")
        _require_eth_hash(self.block_hash, "anchor.block_hash")
        _require_int(self.timestamp, "anchor.timestamp")
        _require_extra(self.extra, _ANCHOR_MEMBERS, "anchor")
        # Frozen: normalise through object.__setattr__ so equality ignores case.
        object.__setattr__(self, "tx_hash", self.tx_hash.lower())
        object.__setattr__(self, "block_hash", self.block_hash.lower())


_PARTS_BY_STATUS: Final = {
    ReceiptStatus.PENDING: (False, False, False),
    ReceiptStatus.SEALED: (True, True, False),
    ReceiptStatus.ANCHORED: (True, True, True),
    ReceiptStatus.CONFIRMED: (True, True, True),
}


@dataclass(frozen=True)
class Receipt:
    """A ``docanchor-receipt/1`` receipt.

    Which of ``proof``, ``batch`` and ``anchor`` are set follows from
    ``status`` (checked). ``extra`` holds the optional top-level members this
    version does not define (for example ``signature``), so that re-emitting
    a receipt keeps them.
    """

    status: ReceiptStatus
    document: DocumentPart
    proof: ProofPart | None = None
    batch: BatchPart | None = None
    anchor: AnchorPart | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, ReceiptStatus):
            if not isinstance(self.status, str) or self.status not in {
                s.value for s in ReceiptStatus
            }:
                _fail(f"receipt member status must be a ReceiptStatus, got {self.status!r}")
            object.__setattr__(self, "status", ReceiptStatus(self.status))
        if not isinstance(self.document, DocumentPart):
            _fail("receipt member document must be a DocumentPart")
        for name, value, kind in (
            ("proof", self.proof, ProofPart),
            ("batch", self.batch, BatchPart),
            ("anchor", self.anchor, AnchorPart),
        ):
            if value is not None and not isinstance(value, kind):
                _fail(f"receipt member {name} must be a {kind.__name__} or None")
        wanted = _PARTS_BY_STATUS[self.status]
        for name, value, must_be_set in zip(
            ("proof", "batch", "anchor"), (self.proof, self.batch, self.anchor), wanted, strict=True
        ):
            if must_be_set and value is None:
                _fail(f"a {self.status.value} receipt must have member {name} set, not null")
            if not must_be_set and value is not None:
                _fail(f"a {self.status.value} receipt must have member {name} null")
        _require_extra(self.extra, _TOP_MEMBERS, "the receipt")

    def to_json(self) -> dict[str, Any]:
        """The receipt as a JSON-ready dict in exactly the spec's forms.

        Hex64 members in lowercase, ``0x`` hashes in lowercase, ``contract``
        as stored, ``metadata`` absent when ``None``, then the extra members.
        The result shares nothing mutable with the receipt.
        """
        document: dict[str, Any] = {
            "sha256": self.document.sha256.hex(),
            "salt": self.document.salt.hex(),
            "metadata_sha256": self.document.metadata_sha256.hex(),
        }
        if self.document.metadata is not None:
            document["metadata"] = copy.deepcopy(self.document.metadata)
        if self.document.extra:
            document.update(copy.deepcopy(self.document.extra))

        proof: dict[str, Any] | None = None
        if self.proof is not None:
            proof = {
                "leaf_index": self.proof.leaf_index,
                "tree_size": self.proof.tree_size,
                "path": [element.hex() for element in self.proof.path],
            }
            if self.proof.extra:
                proof.update(copy.deepcopy(self.proof.extra))

        batch: dict[str, Any] | None = None
        if self.batch is not None:
            batch = {"id": self.batch.id, "root": self.batch.root.hex()}
            if self.batch.extra:
                batch.update(copy.deepcopy(self.batch.extra))

        anchor: dict[str, Any] | None = None
        if self.anchor is not None:
            a = self.anchor
            anchor = {
                "chain_id": a.chain_id,
                "contract": a.contract,
                "seq": a.seq,
                "tx_hash": a.tx_hash,
                "block_number": a.block_number,
                "block_hash": a.block_hash,
                "timestamp": a.timestamp,
            }
            if a.extra:
                anchor.update(copy.deepcopy(a.extra))

        out: dict[str, Any] = {
            "version": RECEIPT_VERSION,
            "status": self.status.value,
            "document": document,
            "proof": proof,
            "batch": batch,
            "anchor": anchor,
        }
        if self.extra:
            out.update(copy.deepcopy(self.extra))
        return out

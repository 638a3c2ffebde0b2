"""The receipt model, ``docanchor-receipt/1``: parse, emit, verify (spec sections 5 and 6).

A receipt is what a supplier keeps next to a document. This module turns its
JSON into frozen dataclasses (bytes inside, hex only at the JSON edge), turns
them back into exactly the spec's JSON forms, and checks a receipt step by
step against values the caller has fetched.

Pure core, consensus-critical: standard library, ``rfc8785``,
:mod:`docanchor.hashing`, :mod:`docanchor.merkle` and :mod:`docanchor.errors`
only. It never imports web3, sqlmodel or fastapi, never reads the
environment and never performs I/O: the chain adapter fetches the on-chain
record, the block hash and the head number, and the functions here compare.
Every change to parsing or verification comes with new test vectors.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

import rfc8785

from docanchor import hashing, jsontext, merkle
from docanchor.errors import (
    InputError,
    MetadataError,
    ReceiptFormatError,
    VerificationError,
)
from docanchor.jsontext import JSONTextError
from docanchor.onchain import OnChainRecord
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


# --- member checks shared by the parser and the dataclass constructors -------


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


# --- the model ----------------------------------------------------------------


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
        document.update(copy.deepcopy(self.document.extra))

        proof: dict[str, Any] | None = None
        if self.proof is not None:
            proof = {
                "leaf_index": self.proof.leaf_index,
                "tree_size": self.proof.tree_size,
                "path": [element.hex() for element in self.proof.path],
            }
            proof.update(copy.deepcopy(self.proof.extra))

        batch: dict[str, Any] | None = None
        if self.batch is not None:
            batch = {"id": self.batch.id, "root": self.batch.root.hex()}
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
            anchor.update(copy.deepcopy(a.extra))

        out: dict[str, Any] = {
            "version": RECEIPT_VERSION,
            "status": self.status.value,
            "document": document,
            "proof": proof,
            "batch": batch,
            "anchor": anchor,
        }
        out.update(copy.deepcopy(self.extra))
        return out


# --- parsing (JSON edge) ------------------------------------------------------


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


# --- verification (spec section 6), pure -------------------------------------


def leaf_hash_of(receipt: Receipt) -> bytes:
    """The receipt's leaf hash, recomputed from salt and digests (spec 6 step 3)."""
    d = receipt.document
    return hashing.document_leaf_hash(d.salt, d.sha256, d.metadata_sha256)


@dataclass(frozen=True, eq=False)
class TrustedDeployment:
    """A deployment of the anchor contract: (chain id, contract address).

    Two deployments are equal when their chain ids are equal and their
    addresses are equal without regard to case (spec section 1); ``address``
    keeps the form it was given in, for messages.
    """

    chain_id: int
    address: str

    def __post_init__(self) -> None:
        if type(self.chain_id) is not int or not 1 <= self.chain_id <= UINT64_MAX:
            raise InputError(f"a chain id must be a positive integer, got {self.chain_id!r}")
        if not isinstance(self.address, str) or ADDRESS.fullmatch(self.address) is None:
            raise InputError(
                f"a contract address must be 0x followed by 40 hex characters, got {self.address!r}"
            )

    def _key(self) -> tuple[int, str]:
        return (self.chain_id, self.address.lower())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrustedDeployment):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def to_json(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "address": self.address}


def parse_trusted_contracts(text: str) -> frozenset[TrustedDeployment]:
    """Deployments from ``CHAIN_ID:0xADDRESS,CHAIN_ID:0xADDRESS,...`` text.

    Blanks around entries are ignored and an empty text is the empty set;
    anything else that is not a positive decimal chain id, a colon and a
    ``0x`` address raises :class:`InputError` naming the entry.
    """
    if not isinstance(text, str):
        raise InputError("trusted contracts must be text: CHAIN_ID:0xADDRESS,...")
    found: set[TrustedDeployment] = set()
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        chain_text, colon, address = entry.partition(":")
        chain_text, address = chain_text.strip(), address.strip()
        if not colon or not chain_text.isdecimal() or not chain_text.isascii():
            raise InputError(
                f"the entry {entry[:80]!r} is not CHAIN_ID:0xADDRESS "
                "(for example 31337:0x5FbDB2315678afecb367f032d93F642f64180aa3)"
            )
        try:
            found.add(TrustedDeployment(int(chain_text), address))
        except InputError as exc:
            raise InputError(f"the entry {entry[:80]!r}: {exc}") from None
    return frozenset(found)


# (public key, signature, message) -> whether the signature is valid. The
# cryptography lives in an adapter (docanchor.signing); the core only calls it.
SignatureVerifier = Callable[[bytes, bytes, bytes], bool]


@dataclass(frozen=True)
class TrustPolicy:
    """What a verifier trusts: deployments of the contract and receipt signing keys.

    ``deployments``: step 5 fails for any other (chain id, contract).
    ``signing_keys``: key id (SHA-256 of the raw public key, hex) -> raw
    Ed25519 public key; with ``verify_signature``, a receipt's ``signature``
    member is checked against them (the optional signature check).
    """

    deployments: frozenset[TrustedDeployment]
    signing_keys: Mapping[str, bytes] = field(default_factory=dict)
    verify_signature: SignatureVerifier | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.deployments, frozenset) or not all(
            isinstance(d, TrustedDeployment) for d in self.deployments
        ):
            raise InputError("trusted deployments must be a frozenset of TrustedDeployment")
        for key_id, public in self.signing_keys.items():
            if not isinstance(key_id, str) or type(public) is not bytes or len(public) != 32:
                raise InputError("signing keys must map key ids to 32-byte public keys")

    def trusts(self, receipt: Receipt) -> bool:
        """True when the receipt's anchor is in a trusted deployment."""
        a = receipt.anchor
        return a is not None and TrustedDeployment(a.chain_id, a.contract) in self.deployments


def trust_policy(
    deployments: Iterable[TrustedDeployment],
    signing_keys: Iterable[bytes] = (),
    verify_signature: SignatureVerifier | None = None,
) -> TrustPolicy:
    """A :class:`TrustPolicy` with each raw public key filed under its key id."""
    keys = {hashing.sha256(public).hex(): public for public in signing_keys}
    return TrustPolicy(frozenset(deployments), keys, verify_signature)


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

"""Request and response shapes of the HTTP API (pydantic), for validation and OpenAPI.

Requests are validated against these models; responses are built as plain
dicts on the hot paths and documented by these models. Hex digests at the
edge are strict: 64 lowercase hex characters, no ``0x``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from docanchor.hashing import HEX64, is_hex64

HEX64_PATTERN = f"^{HEX64.pattern}$"
MAX_BULK = 10_000


def _hex64(value: str) -> str:
    if not is_hex64(value):
        shown = value[:80]
        hint = ""
        if value.lower().removeprefix("0x") != value and is_hex64(value.lower().removeprefix("0x")):
            hint = " (write it in lowercase, without 0x)"
        raise ValueError(
            f"must be a SHA-256 digest as 64 lowercase hex characters{hint}, got {shown!r}"
        )
    return value


Hex64 = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": HEX64_PATTERN, "minLength": 64, "maxLength": 64},
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ),
    AfterValidator(_hex64),
]
Metadata = Annotated[
    dict[str, Any] | None,
    Field(
        description="A JSON object (at most 16 KiB in RFC 8785 form; integers within ±(2^53−1), "
        "no floating-point numbers). Known members: entity_ruc, reference, type.",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests -------------------------------------------------------------------


class DigestQuery(Strict):
    sha256: Hex64


class RegisterBody(Strict):
    sha256: Hex64
    metadata: Metadata = None


class BulkItem(Strict):
    sha256: Hex64
    metadata: Metadata = None


class BulkBody(Strict):
    documents: list[BulkItem] = Field(max_length=MAX_BULK)


class ReceiptCheckBody(Strict):
    receipt: dict[str, Any] = Field(
        description="A docanchor-receipt/1 receipt (JSON object). Parsed strictly: no "
        "duplicate member, no number with a fraction or exponent, no NaN, at most 64 levels."
    )
    sha256: Hex64 | None = Field(
        default=None, description="The document's SHA-256, to check it against the receipt too."
    )


# --- responses ------------------------------------------------------------------

Status = Literal["confirmed", "anchored", "sealed", "pending"]


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None


class AnchorSummary(BaseModel):
    tx_hash: str
    block_number: int
    block_hash: str
    timestamp: int
    chain_id: int
    contract: str
    seq: int


class RegistrationSummary(BaseModel):
    id: int
    status: Status
    entity_ruc: str | None
    reference: str | None
    type: str | None
    version: int | None
    registered_at: str
    batch_id: int | None
    anchor: AnchorSummary | None


class VersionSummary(BaseModel):
    entity_ruc: str | None
    reference: str
    version: int
    sha256: str
    status: Status
    registered_at: str
    is_this_document: bool


class StampedSummary(BaseModel):
    """A stamped PDF: the whole file's size and its original part's length."""

    size: int
    original_length: int


class VerifyResult(BaseModel):
    status: Literal["confirmed", "anchored", "sealed", "pending", "not_found"]
    sha256: str
    filename: str | None = None
    size: int | None = None
    receipts: list[dict[str, Any]]
    registrations: list[RegistrationSummary]
    versions: list[VersionSummary]
    stamped: StampedSummary | None = None


class CheckOut(BaseModel):
    step: int
    name: str
    ok: bool
    skipped: bool
    detail: str


class ReceiptCheckResult(BaseModel):
    valid: bool
    verdict: Literal["valid", "not_yet_confirmed", "not_valid", "cannot_check"] = Field(
        description="cannot_check: the node is on another chain than the receipt's anchor, "
        "so nothing could be read on chain (not the same as not_valid: a check that ran "
        "and failed)."
    )
    status: Status
    confirmations: int
    required_confirmations: int
    checks: list[CheckOut]


class BatchOut(BaseModel):
    id: int
    size: int
    root: str | None
    status: Literal["sealed", "anchored", "confirmed"]
    seq: int | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    timestamp: int | None
    chain_id: int | None
    contract: str | None
    anchorer: str | None
    gas_used: int | None
    sealed_at: str | None
    anchored_at: str | None
    confirmed_at: str | None
    first_index: int | None = Field(
        description="The log index of the batch's first leaf (null: version 1 batch)."
    )
    tree_size: int | None = Field(
        description="The checkpoint's tree size, first_index + size (null: version 1 batch)."
    )


class TxAttempt(BaseModel):
    """One entry of a batch's transaction log: a transaction sent, or a reorganisation."""

    kind: Literal["sent", "bump", "resent", "renonce", "reorg"] = Field(
        description="sent: the first transaction; bump: a replacement with the same nonce and "
        "higher fees; resent: signed again with its nonce after the node dropped it; "
        "renonce: signed again with a fresh nonce; reorg: a reorganisation took the anchor away."
    )
    at: str | None = None
    tx_hash: str | None = None
    nonce: int | None = None
    fees: dict[str, int] | None = Field(
        default=None, description="maxFeePerGas and maxPriorityFeePerGas, or gasPrice (wei)."
    )
    error: str | None = Field(default=None, description="The node's refusal, if any.")
    lost_tx_hash: str | None = None
    lost_block_number: int | None = None
    lost_block_hash: str | None = None


class BatchListed(BatchOut):
    """A batch as ``GET /v1/batches`` lists it: with its transaction log."""

    last_error: str | None = Field(
        description="Why a sealed batch is not anchored yet (a pending transaction, the fee "
        "cap, the node's refusal); null once anchored."
    )
    reanchored: bool = Field(
        description="True when a reorganisation took an earlier anchor of this batch away."
    )
    attempts: list[TxAttempt] = Field(
        description="Every transaction sent for the batch and every reorganisation, oldest first."
    )


class BatchDetail(BatchListed):
    confirmations: int | None = Field(
        description="Blocks from the anchoring block to the node's head (null: not anchored, "
        "or the node is unreachable)."
    )


class BatchPage(BaseModel):
    total: int
    offset: int
    limit: int
    batches: list[BatchListed]


class LeafPage(BaseModel):
    batch_id: int
    tree_size: int = Field(description="The size of the tree whose root is the batch's root.")
    first_index: int = Field(
        description="The log index of the batch's first leaf (0 for a batch of the "
        "version 1 scheme, whose tree is its own)."
    )
    compact_range: list[str] = Field(
        description="The log's compact range at first_index: appending the batch's leaves "
        "to it and folding gives the batch's root (log-v1 section 3)."
    )
    offset: int
    leaves: list[str] = Field(description="Leaf hashes SHA-256(0x00 ‖ leaf data), in order.")


class CheckpointOut(BaseModel):
    seq: int | None
    tree_size: int
    root: str
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    timestamp: int | None
    status: Literal["sealed", "anchored", "confirmed"]
    batch_id: int


class CheckpointPage(BaseModel):
    checkpoints: list[CheckpointOut]


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str] = Field(description="RFC 9162 section 2.1.4 consistency proof.")


class CompactRangeOut(BaseModel):
    size: int
    compact_range: list[str]


class LogLeavesOut(BaseModel):
    start: int
    end: int
    leaves: list[str]


class LogEntryOut(BaseModel):
    index: int
    leaf_hash: str
    sha256: str | None = None
    salt: str | None = None
    metadata_sha256: str | None = None
    metadata: dict[str, Any] | None = None
    withheld: bool | None = None


class LogEntriesOut(BaseModel):
    entries: list[LogEntryOut]


class PublicKey(BaseModel):
    alg: str
    key_id: str
    public_key: str
    public_key_hex: str


class KeyList(BaseModel):
    keys: list[PublicKey]


class DeploymentOut(BaseModel):
    chain_id: int
    address: str = Field(description="The DocumentAnchor contract (0x address).")
    current: bool = Field(description="True for the contract this service anchors in.")


class DeploymentList(BaseModel):
    deployments: list[DeploymentOut] = Field(
        description="Receipts anchored elsewhere fail step 5 of the receipt check."
    )
    signing_keys: list[PublicKey] = Field(description="Keys that sign this service's receipts.")


class DocumentOut(BaseModel):
    id: int
    sha256: str
    created: bool | None = None
    status: Status
    entity_ruc: str | None
    reference: str | None
    type: str | None
    version: int | None
    registered_at: str
    batch_id: int | None
    metadata: dict[str, Any]
    receipt: dict[str, Any]


class DocumentList(BaseModel):
    reference: str
    documents: list[DocumentOut]


class BulkDocument(BaseModel):
    id: int
    sha256: str
    created: bool
    status: Status
    receipt: dict[str, Any] | None = None


class BulkResult(BaseModel):
    created: int
    existing: int
    documents: list[BulkDocument]


class SealResult(BaseModel):
    batches: list[BatchOut]


class HealthCheck(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: Literal["ok", "fail"]
    checks: dict[str, HealthCheck]


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    DigestQuery,
    RegisterBody,
    BulkItem,
    BulkBody,
    ReceiptCheckBody,
)

"""The tables (SQLModel), their SQLAlchemy handles, and the row types the store returns.

Hex strings in the readable columns, 32-byte binary for digests (:class:`HexDigest` reads
them back as hex).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from docanchor.vocabulary import BatchStatus, DocumentStatus, utcnow


class Entity(SQLModel, table=True):
    """A state entity (identified by its RUC) that registers documents."""

    ruc: str = Field(primary_key=True, max_length=32)
    name: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """An API key; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    role: str = Field(max_length=16)
    entity_ruc: str | None = Field(default=None, max_length=32, index=True)
    label: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Batch(SQLModel, table=True):
    """A sealed set of documents, its Merkle root and what is known of its anchor.

    A batch of the log is a checkpoint: it added the leaves
    [``first_index``, ``tree_size``) and ``root`` is the log's root at
    ``tree_size``. A batch sealed before the log existed (an independent tree
    on a version 1 contract) has both NULL and ``root`` is its own tree's.

    Write-ahead: ``root`` and ``size`` exist before any transaction is sent, and
    ``tx_hash`` is written before the transaction is broadcast.
    """

    id: int | None = Field(default=None, primary_key=True)
    root: str | None = Field(default=None, max_length=64, unique=True)
    size: int = 0
    # A BatchStatus, stored as its text.
    status: str = Field(default=BatchStatus.SEALED, max_length=16, index=True)
    sealed_at: datetime = Field(default_factory=utcnow)
    tx_hash: str | None = Field(default=None, max_length=66)
    tx_sent_at: datetime | None = None
    anchor_attempts: int = 0
    chain_id: int | None = None
    contract: str | None = Field(default=None, max_length=42)
    seq: int | None = None
    block_number: int | None = None
    block_hash: str | None = Field(default=None, max_length=66)
    anchor_timestamp: int | None = None
    anchorer: str | None = Field(default=None, max_length=42)
    gas_used: int | None = None
    anchored_at: datetime | None = None
    confirmed_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    first_index: int | None = Field(default=None, sa_type=sa.BigInteger)
    tree_size: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    # Every transaction sent for this batch and what became of it, and the
    # reorganisations that took its anchor away: a JSON list, oldest first.
    tx_log: str | None = Field(default=None, sa_type=sa.Text)

    @property
    def in_log(self) -> bool:
        """True for a checkpoint of the log, False for a batch of the version 1 scheme."""
        return self.tree_size is not None


class LogTile(SQLModel, table=True):
    """The hashes of up to 256 nodes of one level of the log (tlog-tiles layout).

    Tile (``level``, ``idx``) holds the nodes of height 8·level with indices
    idx·256 … idx·256+255, 32 bytes each, as many as are complete; level 0
    holds the leaf hashes. Any node is computed from one tile, any proof from
    O(log n) tiles.
    """

    __tablename__ = "log_tile"

    level: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    idx: int = Field(primary_key=True, sa_type=sa.BigInteger)
    hashes: bytes = Field(sa_type=sa.LargeBinary)


class HexDigest(sa.types.TypeDecorator[str]):
    """A 32-byte value stored as binary (bytea, BLOB) and read as 64 hex characters.

    Binding accepts the hex text or the bytes. Half the size of hex text in
    the rows and in the unique index, and no text collation to compare.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return bytes.fromhex(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else bytes(value).hex()


class Document(SQLModel, table=True):
    """One registration of a document (a digest with its salt and metadata).

    ``sha256``, ``salt`` and ``metadata_sha256`` are 32-byte binary columns,
    read as hex through :class:`HexDigest`.
    """

    __table_args__ = (
        sa.UniqueConstraint("sha256", "entity_ruc", "metadata_sha256", name="uq_document_reg"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(sa_type=HexDigest)
    salt: str = Field(sa_type=HexDigest)
    metadata_json: str = Field(sa_type=sa.Text)
    metadata_sha256: str = Field(sa_type=HexDigest)
    entity_ruc: str = Field(default="", max_length=32)
    reference: str | None = Field(default=None, max_length=200, index=True)
    doc_type: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class PendingDocument(SQLModel, table=True):
    """A registration not yet in a batch: the queue that sealing empties.

    Sealing moves ids from here to :class:`BatchMember` and never rewrites the
    document rows themselves, so a batch of a million documents costs a million
    small inserts, not a million updates of wide, heavily indexed rows.
    """

    __tablename__ = "pending_document"

    document_id: int = Field(primary_key=True, foreign_key="document.id")


class BatchMember(SQLModel, table=True):
    """A document's place in its batch: the leaf index in the batch's tree."""

    __tablename__ = "batch_member"
    __table_args__ = (sa.UniqueConstraint("batch_id", "leaf_index", name="uq_batch_member_leaf"),)

    document_id: int = Field(primary_key=True, foreign_key="document.id")
    batch_id: int = Field(foreign_key="batch.id")
    leaf_index: int = Field(sa_type=sa.BigInteger)


class ServiceLock(SQLModel, table=True):
    """A lease that lets one process at a time run the anchoring loop."""

    __tablename__ = "service_lock"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    expires_at: datetime


class NewRegistration(NamedTuple):
    """A registration about to be inserted (32-byte digests and salt, canonical metadata)."""

    sha256: bytes
    salt: bytes
    metadata_json: str
    metadata_sha256: bytes
    entity_ruc: str
    reference: str | None
    doc_type: str | None


class DocumentRow(NamedTuple):
    """A row of the document table, read without the ORM (fast for bulk work)."""

    id: int
    sha256: str
    salt: str
    metadata_json: str
    metadata_sha256: str
    entity_ruc: str
    reference: str | None
    doc_type: str | None
    created_at: datetime
    batch_id: int | None
    leaf_index: int | None


_DOC: Final[sa.Table] = Document.__table__  # type: ignore[attr-defined]
_ENTITY: Final[sa.Table] = Entity.__table__  # type: ignore[attr-defined]
_MEMBER: Final[sa.Table] = BatchMember.__table__  # type: ignore[attr-defined]
_PENDING: Final[sa.Table] = PendingDocument.__table__  # type: ignore[attr-defined]
_TILE: Final[sa.Table] = LogTile.__table__  # type: ignore[attr-defined]
_BATCH: Final[sa.Table] = Batch.__table__  # type: ignore[attr-defined]
_BATCH_NAMES: Final = tuple(c.name for c in _BATCH.c)


class LogEntryRow(NamedTuple):
    """One registration at its place in the log (digests as hex)."""

    leaf_index: int
    salt: str
    sha256: str
    metadata_sha256: str
    metadata_json: str
    entity_ruc: str


class DocumentView(NamedTuple):
    """A registration with what its batch says about it."""

    document: DocumentRow
    batch: Batch | None
    version: int | None = None

    @property
    def status(self) -> DocumentStatus:
        return DocumentStatus.PENDING if self.batch is None else DocumentStatus(self.batch.status)

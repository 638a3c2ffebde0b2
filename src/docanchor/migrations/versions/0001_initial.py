"""Initial schema: entities, API keys, batches, documents, their batch membership
and pending queue, the service lease.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    # Hex digests compare byte by byte: PostgreSQL's "C" collation spares the
    # unique index locale-aware comparisons (several times faster to build).
    # SQLite compares bytes already.
    c_collation = "C" if op.get_bind().dialect.name == "postgresql" else None

    def text_key(length: int) -> sa.String:
        return sa.String(length, collation=c_collation)

    op.create_table(
        "entity",
        sa.Column("ruc", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("entity_ruc", sa.String(32), nullable=True),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_key_key_hash", "api_key", ["key_hash"], unique=True)
    op.create_index("ix_api_key_entity_ruc", "api_key", ["entity_ruc"])
    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("root", text_key(64), nullable=True, unique=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("tx_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anchor_attempts", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("contract", sa.String(42), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(66), nullable=True),
        sa.Column("anchor_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("anchorer", sa.String(42), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
    )
    op.create_index("ix_batch_status", "batch", ["status"])
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", text_key(64), nullable=False),
        sa.Column("salt", text_key(64), nullable=False),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("metadata_sha256", text_key(64), nullable=False),
        sa.Column("entity_ruc", text_key(32), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("doc_type", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sha256", "entity_ruc", "metadata_sha256", name="uq_document_reg"),
    )
    op.create_index("ix_document_reference", "document", ["reference"])
    # Pending documents and batch membership live apart from the wide document
    # rows, so that sealing a batch inserts small rows instead of rewriting them.
    op.create_table(
        "pending_document",
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("document.id"), primary_key=True),
    )
    op.create_table(
        "batch_member",
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("document.id"), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=False),
        sa.UniqueConstraint("batch_id", "leaf_index", name="uq_batch_member_leaf"),
    )
    op.create_table(
        "service_lock",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )

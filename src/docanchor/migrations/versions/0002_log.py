"""One append-only log: checkpoints on the batch rows, the log's tiles; binary digests.

Revision ID: 0002
Revises: 0001

A batch sealed from now on is a checkpoint of the log: ``first_index`` is the
log size before it, ``tree_size`` the size after it (its root is the log's
root at that size). Batches made before (independent trees, anchored on a
version 1 contract) keep ``first_index`` and ``tree_size`` NULL and are
served as before. A version 1 batch that was sealed but never anchored goes
back to the pending queue, so that its documents join the log; nothing is
lost.

The document's ``sha256``, ``salt`` and ``metadata_sha256`` become 32-byte
binary values (bytea on PostgreSQL; on SQLite, whose columns take any value,
the hex text of every row is replaced by its bytes). Every row is converted:
the registrations, their receipts and the version 1 roots are unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


DIGEST_COLUMNS = ("sha256", "salt", "metadata_sha256")


def _binary_digests() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for column in DIGEST_COLUMNS:
            op.execute(
                f"ALTER TABLE document ALTER COLUMN {column} TYPE bytea "
                f"USING decode({column}, 'hex')"
            )
        return
    # SQLite before 3.41 has no unhex(): the connection lends Python's.
    bind.connection.driver_connection.create_function(  # type: ignore[union-attr]
        "docanchor_unhex",
        1,
        lambda v: v if isinstance(v, bytes) else bytes.fromhex(v),
        deterministic=True,
    )
    op.execute(
        "UPDATE document SET sha256 = docanchor_unhex(sha256), salt = docanchor_unhex(salt), "
        "metadata_sha256 = docanchor_unhex(metadata_sha256)"
    )


def upgrade() -> None:
    _binary_digests()
    op.add_column("batch", sa.Column("first_index", sa.BigInteger(), nullable=True))
    op.add_column("batch", sa.Column("tree_size", sa.BigInteger(), nullable=True))
    op.create_index("ix_batch_tree_size", "batch", ["tree_size"], unique=True)
    # Tile (level, idx) holds the hashes of the nodes of height 8·level with
    # indices idx·256 .. idx·256+255 (tlog-tiles); level 0 holds the leaf hashes.
    op.create_table(
        "log_tile",
        sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
    )
    unanchored = "SELECT id FROM batch WHERE status = 'sealed'"
    op.execute(
        "INSERT INTO pending_document (document_id) SELECT document_id FROM batch_member "  # noqa: S608
        f"WHERE batch_id IN ({unanchored})"
    )
    op.execute(f"DELETE FROM batch_member WHERE batch_id IN ({unanchored})")  # noqa: S608
    op.execute("DELETE FROM batch WHERE status = 'sealed'")

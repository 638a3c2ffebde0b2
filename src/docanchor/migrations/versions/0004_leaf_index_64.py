"""A leaf's index in ``batch_member`` is a 64-bit integer.

Revision ID: 0004
Revises: 0003

Since the log (0002), ``batch_member.leaf_index`` holds a leaf's index in the
whole log, which outgrows a 32-bit integer after 2,147,483,647 leaves; the
log's sizes (``batch.first_index``, ``batch.tree_size``) are 64-bit already.
On PostgreSQL the column becomes ``bigint``, every row kept; SQLite's
integers are 64-bit whatever the declared type, so nothing changes there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column(
        "batch_member",
        "leaf_index",
        existing_type=sa.Integer(),
        type_=sa.BigInteger(),
        existing_nullable=False,
    )

"""The anchoring transactions of each batch: every attempt, its fees and its error.

Revision ID: 0003
Revises: 0002

``batch.tx_log`` holds a JSON list, oldest first: each transaction sent for
the batch (hash, nonce, fees, time, what it was: first send, fee bump,
re-sent after being dropped, re-signed after "nonce too low") with the error
the node gave, and each reorganisation that took the batch's anchor away.
Existing batches start with no entries; nothing else changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("batch", sa.Column("tx_log", sa.Text(), nullable=True))

"""The project's words, defined once: statuses, times as text, the zero address.

Pure core: standard library only. Every layer (the receipt, the store, the
service, the edges) speaks of statuses and times through these definitions,
so a status is spelled in one place and a time is written in one form.
Statuses are ``StrEnum`` members: they compare equal to the strings stored
in the database and written in JSON, so neither changes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

UINT64_MAX: Final = 2**64 - 1
# An Ethereum address; hashes and addresses compare without regard to case.
ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")
# The address the contract answers for an unknown root, and nobody's account.
ZERO_ADDRESS: Final = "0x" + "0" * 40


class DocumentStatus(StrEnum):
    """Where a registration stands; a receipt carries its document's status."""

    PENDING = "pending"  # registered, in no batch yet
    SEALED = "sealed"  # in a batch whose root is known, not on chain yet
    ANCHORED = "anchored"  # the batch's root is on chain
    CONFIRMED = "confirmed"  # ... and enough blocks have followed its block


class BatchStatus(StrEnum):
    """Where a batch stands: a batch exists only once it is sealed."""

    SEALED = "sealed"
    ANCHORED = "anchored"
    CONFIRMED = "confirmed"


class BatchAction(StrEnum):
    """What one anchoring or confirming pass did with a batch."""

    SEALED = "sealed"  # sealed from pending documents
    SENT = "sent"  # its transaction was broadcast
    PENDING = "pending"  # its transaction is still pending
    WAITING = "waiting"  # nothing was sent: fees above the cap, or a replacement not due yet
    ANCHORED = "anchored"  # its transaction was mined
    ADOPTED = "adopted"  # the chain already held its root: that anchor was recorded
    REANCHORED = "reanchored"  # anchored again after a reorganisation took its anchor away
    CONFIRMED = "confirmed"  # enough blocks followed its anchoring block
    REANCHOR = "reanchor"  # its anchor left the chain: back to sealed, to anchor again
    MOVED = "moved"  # a reorganisation put its anchor in another block


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def utc_text(value: datetime, *, timespec: str = "auto") -> str:
    """``value`` as ISO 8601 in UTC with a ``Z``: ``2026-03-01T12:00:00.250000Z``.

    A naive value is taken as UTC (the database columns hold naive UTC);
    an aware one is converted. ``timespec`` is ``datetime.isoformat``'s
    (``"seconds"``, ``"milliseconds"``, ...).
    """
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def utc_text_of_timestamp(timestamp: int) -> str:
    """A Unix timestamp (a block's, say) as :func:`utc_text` writes it."""
    return utc_text(datetime.fromtimestamp(timestamp, UTC))


def parse_utc_text(text: str) -> datetime:
    """An ISO 8601 time (a ``Z`` or an offset, or none: then UTC) as an aware UTC value.

    Raises ``ValueError`` for text that is not an ISO 8601 date or time.
    """
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


__all__ = [
    "ADDRESS",
    "UINT64_MAX",
    "ZERO_ADDRESS",
    "BatchAction",
    "BatchStatus",
    "DocumentStatus",
    "parse_utc_text",
    "utc_text",
    "utc_text_of_timestamp",
    "utcnow",
]

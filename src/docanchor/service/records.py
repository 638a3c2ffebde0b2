"""The records the service works on and the edges see, each with every field its state has.

The store's ``Batch`` row has optional columns: a sealed batch has no
transaction yet, and a batch sealed before the log existed (version 1) is not
a checkpoint of it. The service takes what a state guarantees from these
frozen records, each built from a row in one place, instead of checking the
row's columns where it uses them. A row that lacks what its state requires
was not written by the service (the database was altered): a
:class:`~docanchor.errors.StoreError`, never a half-made receipt or a
transaction for a root that is not there. Pure: no database, no chain.

The edges (API, CLI, presenters) see only these records: a :class:`BatchRecord`
for a batch, a :class:`Checkpoint` for a checkpoint of the log, and a
:class:`DocumentView` (a registration with its batch's record) for a document,
each built once from the store's rows (``BatchRecord.of``,
``Checkpoint.of_log``, :func:`document_views`).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from docanchor.errors import StoreError
from docanchor.receipt import AnchorPart
from docanchor.store import Batch, DocumentRow
from docanchor.store import DocumentView as StoredView
from docanchor.vocabulary import BatchStatus, DocumentStatus

# The statuses of a batch whose root is on chain.
ON_CHAIN: frozenset[str] = frozenset({BatchStatus.ANCHORED, BatchStatus.CONFIRMED})


def _altered(batch: Batch, what: str) -> StoreError:
    return StoreError(
        f"batch {batch.id} is stored without {what}; the database was altered (run docanchor audit)"
    )


@dataclass(frozen=True)
class SealedBatch:
    """Any stored batch: sealing gave it its id and its root."""

    id: int
    root: bytes

    @classmethod
    def of(cls, batch: Batch) -> SealedBatch:
        if batch.id is None or batch.root is None:
            raise _altered(batch, "its id or its root")
        return cls(batch.id, bytes.fromhex(batch.root))


@dataclass(frozen=True)
class AnchoredBatch:
    """A batch whose root is on chain (``anchored`` or ``confirmed``): where and when."""

    id: int
    root: bytes
    status: BatchStatus
    chain_id: int
    contract: str
    seq: int
    tx_hash: str
    block_number: int
    block_hash: str
    timestamp: int

    @classmethod
    def of(cls, batch: Batch) -> AnchoredBatch:
        """Precondition: ``batch.status`` is ``anchored`` or ``confirmed``."""
        if batch.status not in ON_CHAIN:
            raise StoreError(f"batch {batch.id} is {batch.status}, not anchored")
        sealed = SealedBatch.of(batch)
        if (
            batch.chain_id is None
            or batch.contract is None
            or batch.seq is None
            or batch.tx_hash is None
            or batch.block_number is None
            or batch.block_hash is None
            or batch.anchor_timestamp is None
        ):
            raise _altered(batch, f"a part of the anchor its status ({batch.status}) requires")
        return cls(
            id=sealed.id,
            root=sealed.root,
            status=BatchStatus(batch.status),
            chain_id=batch.chain_id,
            contract=batch.contract,
            seq=batch.seq,
            tx_hash=batch.tx_hash,
            block_number=batch.block_number,
            block_hash=batch.block_hash,
            timestamp=batch.anchor_timestamp,
        )

    def anchor_part(self) -> AnchorPart:
        """The receipt's ``anchor`` member (receipt-v1)."""
        return AnchorPart(
            chain_id=self.chain_id,
            contract=self.contract,
            seq=self.seq,
            tx_hash=self.tx_hash,
            block_number=self.block_number,
            block_hash=self.block_hash,
            timestamp=self.timestamp,
        )


@dataclass(frozen=True)
class Checkpoint:
    """A batch of the log: it added the leaves [``first_index``, ``tree_size``), and
    ``root`` is the log's root at ``tree_size``.

    ``tx_hash`` is the newest transaction sent for it (none before the first);
    ``anchor`` is where the chain holds it, once it is ``anchored`` or ``confirmed``.
    """

    batch_id: int
    root: bytes
    first_index: int
    tree_size: int
    status: BatchStatus = BatchStatus.SEALED
    tx_hash: str | None = None
    anchor: AnchoredBatch | None = None

    @classmethod
    def of(cls, batch: Batch) -> Checkpoint | None:
        """The checkpoint ``batch`` is; None for a version 1 batch (not in the log)."""
        if batch.tree_size is None:
            return None
        sealed = SealedBatch.of(batch)
        if batch.first_index is None:
            raise _altered(batch, "the log size before it (first_index)")
        return cls(
            sealed.id,
            sealed.root,
            batch.first_index,
            batch.tree_size,
            status=_status(batch),
            tx_hash=batch.tx_hash,
            anchor=AnchoredBatch.of(batch) if batch.status in ON_CHAIN else None,
        )

    @classmethod
    def of_log(cls, batch: Batch) -> Checkpoint:
        """The checkpoint ``batch`` is. Precondition: the store read it as one of the log."""
        checkpoint = cls.of(batch)
        if checkpoint is None:
            raise _altered(batch, "its log size (tree_size)")
        return checkpoint


def _status(batch: Batch) -> BatchStatus:
    try:
        return BatchStatus(batch.status)
    except ValueError:
        raise StoreError(
            f"batch {batch.id} has the unknown status {batch.status!r}; the database was altered"
        ) from None


def _attempts(tx_log: str | None) -> tuple[Mapping[str, Any], ...]:
    """The entries of a batch's transaction log (attempts and reorganisations), oldest first."""
    if not tx_log:
        return ()
    try:
        entries = json.loads(tx_log)
    except ValueError:
        return ()
    return tuple(e for e in entries if isinstance(e, dict)) if isinstance(entries, list) else ()


@dataclass(frozen=True)
class BatchRecord:
    """A stored batch as the edges show it, in whichever state it is.

    ``tx_hash``, ``chain_id`` and ``contract`` exist once a transaction was sent;
    ``anchor`` once the chain holds the root (``anchored`` or ``confirmed``);
    ``checkpoint`` for a batch of the log (None for a version 1 batch).
    ``attempts`` is the transaction log, oldest first.
    """

    id: int
    size: int
    root: bytes
    status: BatchStatus
    sealed_at: datetime
    tx_hash: str | None
    chain_id: int | None
    contract: str | None
    anchor: AnchoredBatch | None
    anchorer: str | None
    gas_used: int | None
    anchored_at: datetime | None
    confirmed_at: datetime | None
    last_error: str | None
    checkpoint: Checkpoint | None
    attempts: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, batch: Batch) -> BatchRecord:
        sealed = SealedBatch.of(batch)
        status = _status(batch)
        return cls(
            id=sealed.id,
            size=batch.size,
            root=sealed.root,
            status=status,
            sealed_at=batch.sealed_at,
            tx_hash=batch.tx_hash,
            chain_id=batch.chain_id,
            contract=batch.contract,
            anchor=AnchoredBatch.of(batch) if status in ON_CHAIN else None,
            anchorer=batch.anchorer,
            gas_used=batch.gas_used,
            anchored_at=batch.anchored_at,
            confirmed_at=batch.confirmed_at,
            last_error=batch.last_error,
            checkpoint=Checkpoint.of(batch),
            attempts=_attempts(batch.tx_log),
        )

    @property
    def in_log(self) -> bool:
        """True for a checkpoint of the log, False for a batch of the version 1 scheme."""
        return self.checkpoint is not None

    @property
    def sealed(self) -> SealedBatch:
        return SealedBatch(self.id, self.root)

    @property
    def reanchored(self) -> bool:
        """Whether a reorganisation took an earlier anchor of this batch away."""
        return any(e.get("kind") == "reorg" for e in self.attempts)


class DocumentView(NamedTuple):
    """A registration with the record of its batch (None while it is pending) and its
    version (the n-th registration of its entity and reference; None without one)."""

    document: DocumentRow
    batch: BatchRecord | None
    version: int | None = None

    @property
    def status(self) -> DocumentStatus:
        return DocumentStatus.PENDING if self.batch is None else DocumentStatus(self.batch.status)


class SharedRecords:
    """The records of batch rows the store shares between look-ups (bounded, thread-safe).

    The store's verify look-up gives the same ``Batch`` object for the same stored
    columns, and never changes it; a batch that changed is a new object. So the
    record of a row is built once for all the look-ups that read it, by the row's
    identity (the row is kept with its record, so the identity is not reused).
    Only for rows nothing changes: not for rows of an ORM session.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._items: OrderedDict[int, tuple[Batch, BatchRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, row: Batch) -> BatchRecord:
        key = id(row)
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] is row:
                self._items.move_to_end(key)
                return found[1]
        record = BatchRecord.of(row)
        with self._lock:
            self._items[key] = (row, record)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return record


def document_views(
    stored: Iterable[StoredView], shared: SharedRecords | None = None
) -> list[DocumentView]:
    """The store's views as records, each batch's record built once (once for all the
    calls that pass the same ``shared``, for rows the store shares)."""
    records: dict[int, BatchRecord] = {}
    out: list[DocumentView] = []
    for view in stored:
        row = view.batch
        record: BatchRecord | None = None
        if row is not None:
            record = records.get(row.id) if row.id is not None else None
            if record is None:
                record = BatchRecord.of(row) if shared is None else shared.of(row)
                records[record.id] = record
        out.append(DocumentView(view.document, record, view.version))
    return out

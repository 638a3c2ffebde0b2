"""A stored batch in the states where more of it is known, as records with every field set.

The store's ``Batch`` row has optional columns: a sealed batch has no
transaction yet, and a batch sealed before the log existed (version 1) is not
a checkpoint of it. The service takes what a state guarantees from these
frozen records, each built from a row in one place, instead of checking the
row's columns where it uses them. A row that lacks what its state requires
was not written by the service (the database was altered): a
:class:`~docanchor.errors.StoreError`, never a half-made receipt or a
transaction for a root that is not there. Pure: no database, no chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from docanchor.errors import StoreError
from docanchor.receipt import AnchorPart
from docanchor.store import Batch
from docanchor.vocabulary import BatchStatus

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
class Checkpoint:
    """A batch of the log: it added the leaves [``first_index``, ``tree_size``), and
    ``root`` is the log's root at ``tree_size``."""

    batch_id: int
    root: bytes
    first_index: int
    tree_size: int

    @classmethod
    def of(cls, batch: Batch) -> Checkpoint | None:
        """The checkpoint ``batch`` is; None for a version 1 batch (not in the log)."""
        if batch.tree_size is None:
            return None
        sealed = SealedBatch.of(batch)
        if batch.first_index is None:
            raise _altered(batch, "the log size before it (first_index)")
        return cls(sealed.id, sealed.root, batch.first_index, batch.tree_size)


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

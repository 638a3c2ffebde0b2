"""Look-ups: documents by digest and reference, batches by id and status.

Read-only over the store; never talks to the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from docanchor.errors import NotFoundError
from docanchor.service.base import ServiceBase
from docanchor.service.leaves import leaf_hash_of_row
from docanchor.service.records import (
    BatchRecord,
    Checkpoint,
    DocumentView,
    document_views,
)
from docanchor.service.registration import identifier
from docanchor.store import LookupRows
from docanchor.vocabulary import DocumentStatus

# A look-up's answer: the most advanced status among the registrations found.
STATUS_RANK: Final[Mapping[str, int]] = {
    "not_found": 0,
    DocumentStatus.PENDING: 1,
    DocumentStatus.SEALED: 2,
    DocumentStatus.ANCHORED: 3,
    DocumentStatus.CONFIRMED: 4,
}


class Lookups(ServiceBase):
    """Documents and batches read back from the store."""

    # --- look-ups ----------------------------------------------------------------

    def lookup(self, sha256: bytes) -> list[DocumentView]:
        return document_views(self.store.lookup_with_versions(sha256.hex())[0])

    def versions(self, reference: str, entity_ruc: str | None = None) -> list[DocumentView]:
        """Every registration under ``reference`` (in NFC, as stored), oldest first."""
        reference = identifier(reference, "the reference")
        if entity_ruc is not None:
            entity_ruc = identifier(entity_ruc, "the entity RUC")
        return document_views(self.store.by_reference(reference, entity_ruc))

    @staticmethod
    def best_status(views: Sequence[DocumentView]) -> str:
        best = "not_found"
        for view in views:
            if STATUS_RANK[view.status] > STATUS_RANK[best]:
                best = view.status
        return best

    def lookup_with_versions(
        self, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """The registrations of a digest, and every registration under their references."""
        return self.views_of_lookup(self.store.lookup_rows(sha256_hex), sha256_hex)

    def lookup_rows(self, sha256_hex: str) -> LookupRows:
        """The stored values a look-up of the digest reads (one statement): a cache key."""
        return self.store.lookup_rows(sha256_hex)

    def views_of_lookup(
        self, rows: LookupRows, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """:meth:`lookup_with_versions` from the rows :meth:`lookup_rows` read."""
        hits, family = self.store.views_of_lookup(rows, sha256_hex)
        # One record per batch across both lists: the hits are members of the family
        # when they have a reference, and their batches are the same rows.
        records = document_views([*hits, *family], self._lookup_records)
        return records[: len(hits)], records[len(hits) :]

    def versions_of(self, document_ids: Sequence[int]) -> dict[int, int]:
        """The version number of each document that has one (a reference), by id."""
        return self.store.versions_of(document_ids)

    # --- batches -----------------------------------------------------------------

    def batch(self, batch_id: int) -> BatchRecord:
        """The batch ``batch_id``; :class:`NotFoundError` when there is none."""
        batch = self.store.get_batch(batch_id)
        if batch is None:
            raise NotFoundError(f"there is no batch {batch_id}")
        return BatchRecord.of(batch)

    def batches(
        self,
        *,
        statuses: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[BatchRecord]:
        rows = self.store.batches(
            statuses=statuses, offset=offset, limit=limit, newest_first=newest_first
        )
        return [BatchRecord.of(b) for b in rows]

    def batches_of(self, batch_ids: Iterable[int | None]) -> dict[int, BatchRecord]:
        """The batches with these ids (none for ``None`` or an id that has no batch)."""
        found: dict[int, BatchRecord] = {}
        for batch_id in {i for i in batch_ids if i is not None}:
            batch = self.store.get_batch(batch_id)
            if batch is not None:
                found[batch_id] = BatchRecord.of(batch)
        return found

    def count_batches(self) -> int:
        return self.store.count_batches()

    def checkpoints(self, *, start: int = 0, limit: int | None = None) -> list[Checkpoint]:
        """The log's checkpoints from on-chain sequence ``start``, oldest first; those not
        anchored yet come last."""
        return [Checkpoint.of_log(b) for b in self.store.checkpoints(start=start, limit=limit)]

    def batch_leaf_hashes(self, batch_id: int, *, offset: int, limit: int) -> list[bytes]:
        """The leaf hashes of a batch's documents, in leaf order, from ``offset``."""
        rows = self.store.batch_leaves(batch_id, offset=offset, limit=limit)
        return [leaf_hash_of_row(*row) for row in rows]


def not_found(sha256: bytes) -> NotFoundError:
    return NotFoundError(f"no registration of the document with SHA-256 {sha256.hex()}")

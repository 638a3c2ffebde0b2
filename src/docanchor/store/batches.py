"""Batches: listing, reading and updating them, their leaves and members, and the counts of
documents by status.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from docanchor.errors import StoreError
from docanchor.store.connection import StoreConnection
from docanchor.store.tables import _DOC, _MEMBER, _PENDING, Batch
from docanchor.vocabulary import BatchStatus, DocumentStatus


class StoreBatches(StoreConnection):
    """Reading and updating batches."""

    def batches(
        self,
        *,
        statuses: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Batch]:
        with self.session() as session:
            query = select(Batch)
            if statuses is not None:
                query = query.where(col(Batch.status).in_(list(statuses)))
            query = query.order_by(col(Batch.id).desc() if newest_first else col(Batch.id))
            query = query.offset(offset)
            if limit is not None:
                query = query.limit(limit)
            return list(session.exec(query).all())

    def count_batches(self) -> int:
        with self.session() as session:
            return int(session.exec(select(func.count()).select_from(Batch)).one())

    def get_batch(self, batch_id: int) -> Batch | None:
        with self.session() as session:
            return session.get(Batch, batch_id)

    def update_batch(self, batch_id: int, **fields: Any) -> Batch:
        with self.session() as session:
            batch = session.get(Batch, batch_id)
            if batch is None:
                raise StoreError(f"batch {batch_id} vanished from the database")
            for name, value in fields.items():
                setattr(batch, name, value)
            session.add(batch)
            session.commit()
            return batch

    def batch_leaves(
        self, batch_id: int, offset: int = 0, limit: int | None = None
    ) -> list[tuple[str, str, str]]:
        """(salt, sha256, metadata_sha256) of a batch's documents in leaf order."""
        return list(self.iter_batch_leaves(batch_id, offset, limit))

    def iter_batch_leaves(
        self, batch_id: int, offset: int = 0, limit: int | None = None
    ) -> Iterator[tuple[str, str, str]]:
        """As :meth:`batch_leaves`, streamed: a million rows never sit in memory at once."""
        with self.session() as session:
            query = (
                sa.select(_DOC.c.salt, _DOC.c.sha256, _DOC.c.metadata_sha256)
                .select_from(_MEMBER.join(_DOC, _DOC.c.id == _MEMBER.c.document_id))
                .where(_MEMBER.c.batch_id == batch_id)
                .order_by(_MEMBER.c.leaf_index)
                .offset(offset)
            )
            if limit is not None:
                query = query.limit(limit)
            for r in session.execute(query, execution_options={"yield_per": 20_000}):
                yield (r[0], r[1], r[2])

    def batch_document_ids(self, batch_id: int) -> list[int]:
        with self.session() as session:
            rows = session.execute(
                sa.select(_MEMBER.c.document_id)
                .where(_MEMBER.c.batch_id == batch_id)
                .order_by(_MEMBER.c.leaf_index)
            )
            return [int(r[0]) for r in rows]

    def document_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(DocumentStatus, 0)
        with self.session() as session:
            pending = session.execute(sa.select(sa.func.count()).select_from(_PENDING))
            counts[DocumentStatus.PENDING] = int(pending.scalar_one())
            rows = session.exec(
                select(Batch.status, func.coalesce(func.sum(Batch.size), 0)).group_by(Batch.status)
            ).all()
            for status, total in rows:
                counts[status] = counts.get(status, 0) + int(total)
        return counts

    def batch_counts(self) -> tuple[dict[str, int], datetime | None]:
        """Batches by status (every status, 0 included) and the newest ``confirmed_at``."""
        counts: dict[str, int] = dict.fromkeys(BatchStatus, 0)
        with self.session() as session:
            rows = session.exec(select(Batch.status, func.count()).group_by(Batch.status)).all()
            last = session.exec(select(func.max(Batch.confirmed_at))).one()
        for status, n in rows:
            if status in counts:
                counts[str(status)] = int(n)
        return counts, last

"""Look-ups of registrations: by digest (with every version of the same reference), by
reference, and the views that join a registration to its batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from docanchor.errors import StoreError
from docanchor.store.connection import _CHUNK, StoreConnection, _describe
from docanchor.store.tables import (
    _BATCH,
    _BATCH_NAMES,
    _DOC,
    _MEMBER,
    Batch,
    DocumentRow,
    DocumentView,
)

# A document row with its place in a batch (NULL while it is pending).
_DOCS: Final = _DOC.outerjoin(_MEMBER, _MEMBER.c.document_id == _DOC.c.id)
_DOC_COLUMNS: Final = tuple(
    _MEMBER.c[name] if name in ("batch_id", "leaf_index") else _DOC.c[name]
    for name in DocumentRow._fields
)
_HITS = (
    sa.select(_DOC.c.entity_ruc, _DOC.c.reference)
    .where(_DOC.c.sha256 == sa.bindparam("sha256"), _DOC.c.reference.is_not(None))
    .distinct()
    .subquery()
)
_LOOKUP_WITH_VERSIONS: Final = sa.union_all(
    sa.select(
        *_DOC_COLUMNS,
        sa.func.row_number()
        .over(partition_by=(_DOC.c.entity_ruc, _DOC.c.reference), order_by=_DOC.c.id)
        .label("version"),
    ).select_from(
        _DOCS.join(
            _HITS,
            sa.and_(_DOC.c.entity_ruc == _HITS.c.entity_ruc, _DOC.c.reference == _HITS.c.reference),
        )
    ),
    sa.select(*_DOC_COLUMNS, sa.null().label("version"))
    .select_from(_DOCS)
    .where(_DOC.c.sha256 == sa.bindparam("sha256"), _DOC.c.reference.is_(None)),
).order_by("id")
_FAMILY: Final = _LOOKUP_WITH_VERSIONS.order_by(None).subquery("family")
# The verify look-up in one statement: the family of a digest with its batches.
_LOOKUP_ROWS: Final = (
    sa.select(*_FAMILY.c, *_BATCH.c)
    .select_from(_FAMILY.outerjoin(_BATCH, _BATCH.c.id == _FAMILY.c.batch_id))
    .order_by(_FAMILY.c.id)
)
LookupRows = tuple[tuple[Any, ...], ...]


class StoreLookups(StoreConnection):
    """Reading registrations and their batches."""

    def views(self, session: Session, documents: Iterable[DocumentRow]) -> list[DocumentView]:
        docs = list(documents)
        batch_ids = sorted({d.batch_id for d in docs if d.batch_id is not None})
        batches: dict[int, Batch] = {}
        for start in range(0, len(batch_ids), _CHUNK):
            for b in session.exec(
                select(Batch).where(col(Batch.id).in_(batch_ids[start : start + _CHUNK]))
            ).all():
                assert b.id is not None
                batches[b.id] = b
        return [
            DocumentView(d, batches.get(d.batch_id) if d.batch_id is not None else None)
            for d in docs
        ]

    def _select_rows(self, session: Session, *where: Any) -> list[DocumentRow]:
        result = session.execute(
            sa.select(*_DOC_COLUMNS).select_from(_DOCS).where(*where).order_by(_DOC.c.id)
        )
        return [DocumentRow(*r) for r in result]

    def by_reference(self, reference: str, entity_ruc: str | None = None) -> list[DocumentView]:
        with self.session() as session:
            where = [_DOC.c.reference == reference]
            if entity_ruc is not None:
                where.append(_DOC.c.entity_ruc == entity_ruc)
            docs = self._select_rows(session, *where)
            return self._with_versions(session, self.views(session, docs))

    def lookup_with_versions(
        self, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """The registrations of a digest, and every registration sharing an (entity,
        reference) with one of them, each with its version; two queries in all.

        For the public verify look-up, the hottest path of the API.
        """
        return self.views_of_lookup(self.lookup_rows(sha256_hex), sha256_hex)

    def lookup_rows(self, sha256_hex: str) -> LookupRows:
        """The rows behind :meth:`lookup_with_versions`, read in one statement without
        the ORM: each row is a document's columns, its version and its batch's columns.

        Every stored value a verify answer depends on is in them, so equal rows give
        an equal answer (the API keys a cache of answers on them).
        """
        try:
            with self.engine.connect() as conn:
                result = conn.execute(_LOOKUP_ROWS, {"sha256": sha256_hex})
                return tuple(tuple(r) for r in result)
        except OperationalError as exc:
            raise StoreError(f"database unavailable: {_describe(exc)}") from exc

    @staticmethod
    def views_of_lookup(
        rows: LookupRows, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """(registrations of the digest, versions of their references) from :meth:`lookup_rows`."""
        width = len(DocumentRow._fields)
        batches: dict[int, Batch] = {}
        family: list[DocumentView] = []
        for r in rows:
            doc = DocumentRow(*r[:width])
            batch: Batch | None = None
            if doc.batch_id is not None and r[width + 1] is not None:
                batch = batches.get(doc.batch_id)
                if batch is None:
                    # model_construct skips the per-attribute events of Batch(**...), a
                    # twentieth of the cost; it needs the mappers set up (a no-op once done).
                    sa.orm.configure_mappers()
                    batch = Batch.model_construct(
                        **dict(zip(_BATCH_NAMES, r[width + 1 :], strict=True))
                    )
                    batches[doc.batch_id] = batch
            family.append(DocumentView(doc, batch, r[width]))
        hits = [v for v in family if v.document.sha256 == sha256_hex]
        return hits, [v for v in family if v.version is not None]

    def _with_versions(self, session: Session, views: list[DocumentView]) -> list[DocumentView]:
        """Version n = the n-th registration of that (entity, reference)."""
        out: list[DocumentView] = []
        for view in views:
            doc = view.document
            version = None
            if doc.reference is not None:
                version = session.execute(
                    sa.select(sa.func.count())
                    .select_from(_DOC)
                    .where(
                        _DOC.c.entity_ruc == doc.entity_ruc,
                        _DOC.c.reference == doc.reference,
                        _DOC.c.id <= doc.id,
                    )
                ).scalar_one()
            out.append(DocumentView(doc, view.batch, version))
        return out

    def versions_of(self, document_ids: Sequence[int]) -> dict[int, int]:
        """Version numbers (n-th registration of its entity and reference) by document id."""
        wanted = set(document_ids)
        out: dict[int, int] = {}
        with self.session() as session:
            pairs: set[tuple[str, str]] = set()
            ids = sorted(wanted)
            for start in range(0, len(ids), _CHUNK):
                pairs.update(
                    (r[0], r[1])
                    for r in session.execute(
                        sa.select(_DOC.c.entity_ruc, _DOC.c.reference)
                        .where(_DOC.c.id.in_(ids[start : start + _CHUNK]))
                        .where(_DOC.c.reference.is_not(None))
                        .distinct()
                    )
                )
            for entity, reference in pairs:
                numbered = session.execute(
                    sa.select(_DOC.c.id, sa.func.row_number().over(order_by=_DOC.c.id)).where(
                        _DOC.c.entity_ruc == entity, _DOC.c.reference == reference
                    )
                )
                out.update((int(i), int(n)) for i, n in numbered if i in wanted)
        return out

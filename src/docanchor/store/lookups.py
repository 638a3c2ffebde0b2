"""Look-ups of registrations: by digest (with every version of the same reference), by
reference, and the views that join a registration to its batch.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from docanchor.errors import StoreError
from docanchor.store.connection import _CHUNK, StoreConnection, _describe, _first_line
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

# How many batches, by their columns as read, the verify look-up keeps converted.
_BATCH_CACHE_SIZE: Final = 1024

# Threads that keep a look-up connection of their own (the event loop's, which runs
# the SQLite look-ups, and the first thread-pool workers); others borrow from the pool.
_HELD_LOOKUP_CONNECTIONS: Final = 4


class _PreparedLookup:
    """The verify look-up (``_LOOKUP_ROWS``) compiled once for the engine's dialect,
    run through the driver on one connection per thread, kept between calls.

    :meth:`cursor` lends that connection to the other hot reads (a receipt's tiles,
    an API key). A read ends its transaction (SQLite's driver opens none for a
    SELECT; on PostgreSQL it is rolled back), so every call sees what is committed.
    A connection that fails is dropped, and the next call opens another.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        compiled = _LOOKUP_ROWS.compile(dialect=dialect)
        self._sql = str(compiled)
        self._positions = len(compiled.positiontup or ()) if compiled.positional else None
        self._processors = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in _LOOKUP_ROWS.selected_columns
        )
        self._rollback = dialect.name != "sqlite"
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self._batches: OrderedDict[tuple[Any, ...], Batch] = OrderedDict()

    def rows(self, sha256: bytes) -> LookupRows:
        params: Any = {"sha256": sha256} if self._positions is None else (sha256,) * self._positions
        held = getattr(self._local, "conn", None)
        if held is not None:
            try:
                return self._read(held, params)
            except self._engine.dialect.loaded_dbapi.Error:
                self._drop(held)  # a connection the server closed meanwhile: once more
        with self.cursor() as cursor:
            cursor.execute(self._sql, params)
            return tuple(tuple(r) for r in cursor.fetchall())

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        """A driver cursor on this thread's kept connection (or one borrowed from the
        pool when enough are kept), for reads only; the transaction ends after."""
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        conn = getattr(self._local, "conn", None)
        keep = conn is not None
        if conn is None:
            try:
                conn = self._engine.raw_connection()
            except OperationalError as exc:
                raise StoreError(f"database unavailable: {_describe(exc)}") from exc
            except dbapi_error as exc:
                raise StoreError(f"database unavailable: {_first_line(exc)}") from exc
            with self._lock:
                if len(self._opened) < _HELD_LOOKUP_CONNECTIONS:
                    self._opened.append(conn)
                    self._local.conn = conn
                    keep = True
        try:
            cursor = conn.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
            if self._rollback:
                conn.rollback()
        except dbapi_error as exc:
            self._drop(conn)
            keep = True  # invalidated by _drop, not given back to the pool
            raise StoreError(f"database unavailable: {_first_line(exc)}") from exc
        except BaseException:
            if self._rollback:
                with contextlib.suppress(Exception):
                    conn.rollback()
            raise
        finally:
            if not keep:
                conn.close()  # back to the pool

    def _read(self, conn: Any, params: Any) -> LookupRows:
        cursor = conn.cursor()
        try:
            cursor.execute(self._sql, params)
            found = tuple(tuple(r) for r in cursor.fetchall())
        finally:
            cursor.close()
        if self._rollback:
            conn.rollback()
        return found

    def convert(self, raw: tuple[Any, ...], start: int = 0) -> tuple[Any, ...]:
        """Columns ``start``... of a row as SQLAlchemy's types read them (hex digests,
        datetimes)."""
        return tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(self._processors[start : start + len(raw)], raw, strict=True)
        )

    def batch(self, raw: tuple[Any, ...], start: int) -> Batch:
        """The batch of columns ``raw`` (the row's columns from ``start``), as read.

        The same columns give the same (shared, never changed) ``Batch``: a batch's
        documents and look-ups repeated until it changes convert it once. Keyed on
        every column, so a batch that was anchored, confirmed or moved is read afresh.
        """
        with self._lock:
            found = self._batches.get(raw)
            if found is not None:
                self._batches.move_to_end(raw)
                return found
        # model_construct skips the per-attribute events of Batch(**...), a twentieth
        # of the cost; it needs the mappers set up (a no-op once done).
        sa.orm.configure_mappers()
        made = Batch.model_construct(
            **dict(zip(_BATCH_NAMES, self.convert(raw, start), strict=True))
        )
        with self._lock:
            self._batches[raw] = made
            while len(self._batches) > _BATCH_CACHE_SIZE:
                self._batches.popitem(last=False)
        return made

    def _drop(self, conn: Any) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._opened:
                self._opened.remove(conn)
        with contextlib.suppress(Exception):
            conn.invalidate()

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            with contextlib.suppress(Exception):
                conn.close()
        self._local = threading.local()


class StoreLookups(StoreConnection):
    """Reading registrations and their batches."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self._lookup: _PreparedLookup | None = None
        super().__init__(url, migrate=migrate)

    def close(self) -> None:
        if self._lookup is not None:
            self._lookup.close()
        super().close()

    def _lookups(self) -> _PreparedLookup:
        lookup = self._lookup
        if lookup is None:
            lookup = self._lookup = _PreparedLookup(self.engine)
        return lookup

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
        """The rows behind :meth:`lookup_with_versions`, read in one statement: each row
        is a document's columns, its version and its batch's columns, as the driver
        gives them (:meth:`views_of_lookup` converts them).

        Every stored value a verify answer depends on is in them, so equal rows give
        an equal answer (the API keys a cache of answers on them). The statement is
        compiled once and run on a connection of the calling thread's own, kept
        between calls (the hottest read of the API: no pool checkout, no statement
        cache look-up); each call is a transaction of its own.
        """
        return self._lookups().rows(bytes.fromhex(sha256_hex))

    def views_of_lookup(
        self, rows: LookupRows, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """(registrations of the digest, versions of their references) from :meth:`lookup_rows`."""
        lookup = self._lookups()
        width = len(DocumentRow._fields)
        batches: dict[int, Batch] = {}
        family: list[DocumentView] = []
        for raw in rows:
            r = lookup.convert(raw[: width + 1])
            doc = DocumentRow(*r[:width])
            batch: Batch | None = None
            if doc.batch_id is not None and raw[width + 1] is not None:
                batch = batches.get(doc.batch_id)
                if batch is None:
                    batch = batches[doc.batch_id] = lookup.batch(raw[width + 1 :], width + 1)
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

"""Registering documents, one or many thousands at once: one multi-row insert (``COPY``-like
``executemany`` on PostgreSQL), repeats recognised by their unique key, entity locks so
that concurrent registrations of one entity stay in order.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from docanchor.errors import RetryLaterError, StoreError
from docanchor.store.connection import _ATTEMPTS, _CHUNK, _RETRYABLE, _sqlstate
from docanchor.store.lookups import StoreLookups
from docanchor.store.tables import _DOC, DocumentRow, NewRegistration
from docanchor.vocabulary import utcnow

_StoredKey = tuple[int, bytes, bytes, bytes]  # id, sha256, metadata_sha256, salt


def _select_registrations(
    cursor: Any, mark: str, entity: str, digests: Sequence[bytes]
) -> list[_StoredKey]:
    """Stored (id, sha256, metadata_sha256, salt) of an entity's registrations of ``digests``."""
    out: list[_StoredKey] = []
    for start in range(0, len(digests), _CHUNK):
        chunk = digests[start : start + _CHUNK]
        marks = ", ".join([mark] * len(chunk))
        cursor.execute(
            "SELECT id, sha256, metadata_sha256, salt FROM document "  # noqa: S608
            f"WHERE entity_ruc = {mark} AND sha256 IN ({marks})",
            [entity, *chunk],
        )
        out.extend((r[0], bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in cursor.fetchall())
    return out


def _entity_lock_key(entity: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory lock of an entity's writes."""
    digest = hashlib.sha256(b"docanchor register " + entity.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _pg_insert(cursor: Any, values: Sequence[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY the rows into a temporary table, insert the new ones in order.

    COPY is an order of magnitude faster than row-by-row inserts; ``ord`` keeps
    the rows in the order given (their unique key's, so that concurrent inserts
    cannot deadlock), and so the ids and the leaf order of the next batch. The
    rows stay in ``document_in`` until :func:`_pg_stored_keys` or the commit.
    Returns how many rows were new.
    """
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS document_in (ord integer, sha256 bytea, salt bytea, "
        "metadata_json text, metadata_sha256 bytea, entity_ruc text, reference text, "
        "doc_type text, created_at timestamptz) ON COMMIT DELETE ROWS"
    )
    cursor.execute("TRUNCATE document_in")
    with cursor.copy(
        "COPY document_in (ord, sha256, salt, metadata_json, metadata_sha256, entity_ruc, "
        "reference, doc_type, created_at) FROM STDIN"
    ) as copy:
        for n, row in enumerate(values):
            copy.write_row((n, *row))
    cursor.execute(
        "WITH added AS (INSERT INTO document (sha256, salt, metadata_json, metadata_sha256, "
        "entity_ruc, reference, doc_type, created_at) SELECT sha256, salt, metadata_json, "
        "metadata_sha256, entity_ruc, reference, doc_type, created_at FROM document_in "
        "ORDER BY ord ON CONFLICT DO NOTHING RETURNING id) "
        "INSERT INTO pending_document (document_id) SELECT id FROM added"
    )
    return max(int(cursor.rowcount), 0)


def _pg_stored_keys(cursor: Any) -> list[_StoredKey]:
    """The stored (id, sha256, metadata_sha256, salt) of the rows last given to _pg_insert."""
    cursor.execute(
        "SELECT d.id, d.sha256, d.metadata_sha256, d.salt FROM document_in i JOIN document d "
        "ON d.sha256 = i.sha256 AND d.entity_ruc = i.entity_ruc "
        "AND d.metadata_sha256 = i.metadata_sha256"
    )
    return [(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in cursor.fetchall()]


class StoreRegistrations(StoreLookups):
    """Writing registrations (and answering repeats with the stored row)."""

    def register(
        self, items: Sequence[NewRegistration], *, now: datetime | None = None
    ) -> list[tuple[DocumentRow, bool]]:
        """Insert registrations idempotently; returns (document, created) per item.

        Items sharing entity, digest and metadata with an existing registration
        (or with an earlier item) return that registration with ``created=False``.
        Safe against concurrent writers: the unique constraint decides, and a
        registration counts as created only when the stored salt is ours.

        Bulk registration is the hot path (100,000 digests in seconds), so the
        rows go to the driver directly rather than through the ORM.
        """
        resolved = self._register(items, now=now, with_rows=True)
        out: list[tuple[DocumentRow, bool]] = []
        seen: set[tuple[str, bytes, bytes]] = set()
        for item in items:
            key = (item.entity_ruc, item.sha256, item.metadata_sha256)
            row, created = resolved[key]
            out.append((row, created and key not in seen))
            seen.add(key)
        return out

    def register_counts(
        self, items: Sequence[NewRegistration], *, now: datetime | None = None
    ) -> tuple[int, int]:
        """As :meth:`register`, reading nothing back: (created, already registered)."""
        created = self._register(items, now=now, with_rows=False)
        assert isinstance(created, int)
        return created, len(items) - created

    def _register(
        self, items: Sequence[NewRegistration], *, now: datetime | None, with_rows: bool
    ) -> Any:
        """:meth:`_register_once`, tried again when PostgreSQL aborts it as a deadlock
        or a serialization failure (the whole transaction was rolled back, so trying
        again is safe); :class:`RetryLaterError` when every attempt failed so."""
        for attempt in range(_ATTEMPTS):
            try:
                return self._register_once(items, now=now, with_rows=with_rows)
            except Exception as exc:
                state = _sqlstate(exc)
                if state not in _RETRYABLE:
                    # The rows go through the driver's own cursor: its errors are
                    # not SQLAlchemy's, and are StoreErrors here all the same.
                    if isinstance(exc, self.engine.dialect.loaded_dbapi.Error):
                        text = str(exc).strip().splitlines()
                        raise StoreError(
                            f"database error: {text[0] if text else type(exc).__name__}"
                        ) from exc
                    raise
                if attempt + 1 == _ATTEMPTS:
                    raise RetryLaterError(
                        f"the registration was aborted {_ATTEMPTS} times by concurrent "
                        f"writes (SQLSTATE {state}); nothing was stored"
                    ) from exc
                # Jitter, so that the transactions that collided do not collide again.
                time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise AssertionError("unreachable")

    def _register_once(
        self, items: Sequence[NewRegistration], *, now: datetime | None, with_rows: bool
    ) -> Any:
        created_at = now or utcnow()
        by_entity: dict[str, dict[tuple[bytes, bytes], NewRegistration]] = {}
        for item in items:
            by_entity.setdefault(item.entity_ruc, {}).setdefault(
                (item.sha256, item.metadata_sha256), item
            )
        dialect = self.engine.dialect
        mark = "?" if dialect.name == "sqlite" else "%s"
        created_value: Any = created_at
        if dialect.name == "sqlite":  # the text form SQLAlchemy's SQLite DateTime reads back
            created_value = created_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        # Only placeholders are spliced into these statements, never values.
        insert_sql = (
            "INSERT INTO document (sha256, salt, metadata_json, metadata_sha256, entity_ruc, "  # noqa: S608
            "reference, doc_type, created_at) VALUES (" + ", ".join([mark] * 8) + ") "
            "ON CONFLICT DO NOTHING"
        )
        resolved: dict[tuple[str, bytes, bytes], tuple[DocumentRow, bool]] = {}
        inserted = added = before = 0
        with self._write_gate, self.session() as session:
            cursor = session.connection().connection.cursor()
            # Registrations of one entity are written one transaction at a time
            # (on PostgreSQL, a transaction-level advisory lock per entity, taken
            # in entity order): two requests that carry the same documents in
            # different orders then cannot deadlock on the unique index, and the
            # rows keep the request's order, so ids, versions and the leaf order
            # of the next checkpoint follow the order in which they were sent.
            # Different entities never share a unique key and are not held up.
            for entity in sorted(by_entity):
                group = by_entity[entity]
                if self.dialect == "postgresql":
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_entity_lock_key(entity),))
                if entity:
                    # The entity's row, through the driver as the documents go (the ORM
                    # statement, built and compiled per call, was a fifth of a single
                    # registration's time).
                    cursor.execute(
                        f"INSERT INTO entity (ruc, created_at) VALUES ({mark}, {mark}) "  # noqa: S608
                        "ON CONFLICT DO NOTHING",
                        (entity, created_value),
                    )
                values = [
                    (
                        i.sha256,
                        i.salt,
                        i.metadata_json,
                        i.metadata_sha256,
                        i.entity_ruc,
                        i.reference,
                        i.doc_type,
                        created_value,
                    )
                    for i in group.values()
                ]
                if self.dialect == "postgresql":
                    inserted += _pg_insert(cursor, values)
                else:
                    # Take SQLite's write lock first: from here on no other writer runs,
                    # so the ids above the current maximum are exactly the ones added.
                    cursor.execute("UPDATE service_lock SET name = name WHERE 1 = 0")
                    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM document")
                    before = cursor.fetchone()[0]  # type: ignore[index]
                    cursor.executemany(insert_sql, values)
                    added = max(cursor.rowcount, 0)
                    inserted += added
                    cursor.execute(
                        "INSERT INTO pending_document (document_id) "
                        "SELECT id FROM document WHERE id > ?",
                        (before,),
                    )
                if not with_rows:
                    continue
                if self.dialect == "postgresql":
                    stored = _pg_stored_keys(cursor)
                elif added == len(values):
                    # Every row is new: under the write lock they took the ids above
                    # the old maximum, one by one in the order given. Read back in one
                    # range scan of the primary key; each salt is checked against ours.
                    cursor.execute(
                        "SELECT id, salt FROM document WHERE id > ? ORDER BY id", (before,)
                    )
                    fetched = cursor.fetchall()
                    ours = list(group.values())
                    if len(fetched) == len(ours) and all(
                        r[1] == n.salt for r, n in zip(fetched, ours, strict=True)
                    ):
                        for (doc_id, _), new in zip(fetched, ours, strict=True):
                            resolved[(entity, new.sha256, new.metadata_sha256)] = (
                                DocumentRow(
                                    doc_id,
                                    new.sha256.hex(),
                                    new.salt.hex(),
                                    new.metadata_json,
                                    new.metadata_sha256.hex(),
                                    entity,
                                    new.reference,
                                    new.doc_type,
                                    created_at,
                                    None,
                                    None,
                                ),
                                True,
                            )
                        continue
                    stored = _select_registrations(
                        cursor, mark, entity, sorted({k[0] for k in group})
                    )
                else:
                    stored = _select_registrations(
                        cursor, mark, entity, sorted({k[0] for k in group})
                    )
                others: list[int] = []
                for doc_id, sha, msha, salt in stored:
                    mine = group.get((sha, msha))
                    if mine is None:
                        continue
                    if salt == mine.salt:
                        row = DocumentRow(
                            doc_id,
                            sha.hex(),
                            salt.hex(),
                            mine.metadata_json,
                            msha.hex(),
                            entity,
                            mine.reference,
                            mine.doc_type,
                            created_at,
                            None,
                            None,
                        )
                        resolved[(entity, sha, msha)] = (row, True)
                    else:
                        others.append(doc_id)
                for start in range(0, len(others), _CHUNK):
                    for row in self._select_rows(
                        session, _DOC.c.id.in_(others[start : start + _CHUNK])
                    ):
                        key = (
                            entity,
                            bytes.fromhex(row.sha256),
                            bytes.fromhex(row.metadata_sha256),
                        )
                        resolved[key] = (row, False)
            cursor.close()
            session.commit()
        return resolved if with_rows else inserted

"""Migration 0004: ``batch_member.leaf_index`` becomes 64-bit. A database at 0003 keeps
every row, and then takes leaf indices beyond 2**31 (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import sqlalchemy as sa

from docanchor.migrations import upgrade
from docanchor.service import DocAnchorService
from docanchor.store import SCHEMA_HEAD, Store

BIG = 2**31 + 5  # beyond a 32-bit integer
MEMBERS = "SELECT document_id, batch_id, leaf_index FROM batch_member ORDER BY document_id"


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _set_leaf_index(url: str, document_id: int, value: int) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE batch_member SET leaf_index = :v WHERE document_id = :d"),
                {"v": value, "d": document_id},
            )
    finally:
        engine.dispose()


def _leaf_index_type(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        columns = sa.inspect(engine).get_columns("batch_member")
        return str(next(c["type"] for c in columns if c["name"] == "leaf_index")).upper()
    finally:
        engine.dispose()


def test_a_0003_database_is_upgraded_keeping_its_rows(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    upgrade(engine, "0003")
    engine.dispose()
    # Rows written at 0003: two sealed batches of the log (five members).
    old = Store(database_url, migrate=False)
    assert old.schema_revision() == "0003"
    service = DocAnchorService(store=old)
    for start, count in ((0, 3), (3, 2)):
        digests = [
            hashlib.sha256(f"orden {n}".encode()).digest() for n in range(start, start + count)
        ]
        old.register_counts(service.prepare_registrations(digests, {"type": "oc"}, entity_ruc="1"))
        assert service.seal() is not None
    old.close()
    before = _rows(database_url, MEMBERS)
    documents = _rows(
        database_url, "SELECT id, sha256, salt, metadata_json FROM document ORDER BY id"
    )
    batches = _rows(database_url, "SELECT id, root, first_index, tree_size FROM batch ORDER BY id")
    assert [r[2] for r in before] == [0, 1, 2, 3, 4]
    if database_url.startswith("postgresql"):
        assert _leaf_index_type(database_url) == "INTEGER"
        with pytest.raises(sa.exc.DataError):  # out of range for a 32-bit integer
            _set_leaf_index(database_url, before[0][0], BIG)

    store = Store(database_url)  # migrates to the head
    assert store.schema_revision() == SCHEMA_HEAD == "0004"
    store.close()
    assert _rows(database_url, MEMBERS) == before
    assert (
        _rows(database_url, "SELECT id, sha256, salt, metadata_json FROM document ORDER BY id")
        == documents
    )
    assert (
        _rows(database_url, "SELECT id, root, first_index, tree_size FROM batch ORDER BY id")
        == batches
    )
    if database_url.startswith("postgresql"):
        assert _leaf_index_type(database_url) == "BIGINT"
    _set_leaf_index(database_url, before[-1][0], BIG)
    assert _rows(database_url, MEMBERS)[-1] == (before[-1][0], before[-1][1], BIG)


def test_a_new_database_has_64_bit_leaf_indices(database_url: str) -> None:
    Store(database_url).close()
    if database_url.startswith("postgresql"):
        assert _leaf_index_type(database_url) == "BIGINT"
    else:
        assert _leaf_index_type(database_url) in {"INTEGER", "BIGINT"}

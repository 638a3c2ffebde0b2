"""Database URLs for tests: a fresh SQLite file always, and a fresh PostgreSQL
schema too when DOCANCHOR_TEST_DATABASE_URL is set (``.ci/run`` sets it).

Every test that takes ``database_url`` runs once per available database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

PG_ENV = "DOCANCHOR_TEST_DATABASE_URL"


def database_kinds() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


def _with_search_path(url: str, schema: str) -> str:
    """``url`` with ``schema`` as its search path; its connections are named after the
    schema too (``application_name``), so the fixture can end the ones left open."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}&application_name={schema}"


@contextmanager
def fresh_database_url(kind: str, folder: Path, prefix: str = "t_") -> Iterator[str]:
    """An empty database of ``kind``: a SQLite file in ``folder``, or a PostgreSQL
    schema of its own (dropped afterwards) on DOCANCHOR_TEST_DATABASE_URL."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'docanchor.sqlite3'}"
        return
    base = os.environ[PG_ENV]
    schema = prefix + secrets.token_hex(6)
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(base, schema)
    finally:
        with engine.begin() as conn:
            # Connections a test left open (a store it did not close, a server's pool)
            # would hold server slots until garbage collection: the suite's workers share
            # one server and its max_connections.
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": schema},
            )
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=database_kinds())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind under test."""
    with fresh_database_url(request.param, tmp_path) as url:
        yield url

"""Database URLs for tests: a fresh SQLite file always, and a fresh PostgreSQL
schema too when DOCANCHOR_TEST_DATABASE_URL is set (``.ci/run`` sets it).

Every test that takes ``database_url`` runs once per available database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

PG_ENV = "DOCANCHOR_TEST_DATABASE_URL"


def database_kinds() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=database_kinds())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind under test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'docanchor.sqlite3'}"
        return
    base = os.environ[PG_ENV]
    schema = "t_" + secrets.token_hex(6)
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(base, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

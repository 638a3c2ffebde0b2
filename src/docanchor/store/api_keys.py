"""API keys: only a key's SHA-256 is stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlmodel import col, select

from docanchor.store.lookups import StoreLookups
from docanchor.store.tables import ApiKey


class _KeyStatement:
    """The look-up of a key by its hash, written once for the dialect, with the
    converters of its columns (SQLAlchemy's types, run without SQLAlchemy)."""

    def __init__(self, dialect: Dialect) -> None:
        keys = ApiKey.__table__  # type: ignore[attr-defined]
        mark = "?" if dialect.name == "sqlite" else "%s"
        self._columns = tuple(c.name for c in keys.c)
        self.sql = f"SELECT {', '.join(self._columns)} FROM api_key WHERE key_hash = {mark}"  # noqa: S608
        self._processors = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in keys.c
        )

    def values(self, raw: Sequence[Any]) -> dict[str, Any]:
        """A row of :attr:`sql` by column name, as SQLAlchemy's types read it."""
        return {
            name: value if process is None or value is None else process(value)
            for name, process, value in zip(self._columns, self._processors, raw, strict=True)
        }


class StoreApiKeys(StoreLookups):
    """Adding, finding, listing and revoking API keys."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self._key_statement: _KeyStatement | None = None
        super().__init__(url, migrate=migrate)

    def add_api_key(self, key: ApiKey) -> ApiKey:
        with self.session() as session:
            if key.entity_ruc:
                self._ensure_entity(session, key.entity_ruc)
            session.add(key)
            session.commit()
            session.refresh(key)
            return key

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash. Runs on every authenticated request: a statement
        compiled once, run on the thread's kept read connection, and
        ``model_construct`` (the row is trusted), not an ORM session."""
        statement = self._key_statement
        if statement is None:
            statement = self._key_statement = _KeyStatement(self.engine.dialect)
        with self._lookups().cursor() as cursor:
            cursor.execute(statement.sql, (key_hash,))
            row = cursor.fetchone()
        if row is None:
            return None
        return ApiKey.model_construct(**statement.values(row))

    def api_keys(self) -> list[ApiKey]:
        with self.session() as session:
            return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())

    def revoke_api_key(self, key_id: int, now: datetime) -> ApiKey | None:
        with self.session() as session:
            key = session.get(ApiKey, key_id)
            if key is None:
                return None
            if key.revoked_at is None:
                key.revoked_at = now
                session.add(key)
                session.commit()
            return key

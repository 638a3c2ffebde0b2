"""API keys: only a key's SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from docanchor.errors import StoreError
from docanchor.store.connection import StoreConnection, _describe
from docanchor.store.tables import ApiKey


class StoreApiKeys(StoreConnection):
    """Adding, finding, listing and revoking API keys."""

    def add_api_key(self, key: ApiKey) -> ApiKey:
        with self.session() as session:
            if key.entity_ruc:
                self._ensure_entity(session, key.entity_ruc)
            session.add(key)
            session.commit()
            session.refresh(key)
            return key

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash. Runs on every authenticated request: a core
        query and ``model_construct`` (the row is trusted), not an ORM session."""
        table = ApiKey.__table__  # type: ignore[attr-defined]
        try:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(table).where(table.c.key_hash == key_hash)).first()
        except OperationalError as exc:
            raise StoreError(f"database unavailable: {_describe(exc)}") from exc
        return None if row is None else ApiKey.model_construct(**row._mapping)

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

"""Leases (``service_lock``): one process at a time runs an anchoring pass, across processes
that share a database.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from docanchor.store.connection import StoreConnection
from docanchor.store.tables import ServiceLock


class StoreLeases(StoreConnection):
    """Taking and releasing named leases."""

    def try_lock(self, name: str, holder: str, *, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``holder``; False if another holds it."""
        from datetime import timedelta

        expires = now + timedelta(seconds=ttl_seconds)
        table = ServiceLock.__table__  # type: ignore[attr-defined]
        with self.session() as session:
            result = session.execute(
                sa.update(table)
                .where(
                    table.c.name == name,
                    sa.or_(table.c.holder == holder, table.c.expires_at < now),
                )
                .values(holder=holder, expires_at=expires)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                session.commit()
                return True
            try:
                session.execute(
                    sa.insert(table).values(name=name, holder=holder, expires_at=expires)
                )
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
                return False

    def unlock(self, name: str, holder: str) -> None:
        table = ServiceLock.__table__  # type: ignore[attr-defined]
        with self.session() as session:
            session.execute(sa.delete(table).where(table.c.name == name, table.c.holder == holder))
            session.commit()

"""Alembic migrations of the docanchor schema, applied when a store opens.

``upgrade(engine)`` runs them programmatically (no alembic.ini needed). On
PostgreSQL an advisory lock makes concurrent starts wait for one another.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

_HERE = Path(__file__).resolve().parent
_MIGRATION_LOCK = 6372060


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

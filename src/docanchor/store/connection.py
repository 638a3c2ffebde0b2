"""Opening a database: the engine (SQLite with WAL, or PostgreSQL), migrations, sessions
with retries of deadlocks and serialisation failures, and the errors they raise.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session

from docanchor.errors import ConfigError, RetryLaterError, StoreError
from docanchor.store.tables import _ENTITY
from docanchor.vocabulary import utcnow

SCHEMA_HEAD: Final = "0004"
_CHUNK: Final = 500
# PostgreSQL's deadlock_detected and serialization_failure: the transaction was
# rolled back and may be tried again as it was.
_RETRYABLE: Final = frozenset({"40P01", "40001"})
_ATTEMPTS: Final = 5


def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=False
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-131072")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(
        "DOCANCHOR_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, "
        f"got {url.split(':', 1)[0]}:…"
    )


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, looked for through the chain of causes
    (the driver's own error, SQLAlchemy's wrapping of it, a StoreError above both)."""
    seen: BaseException | None = exc
    while seen is not None:
        for candidate in (seen, getattr(seen, "orig", None)):
            state = getattr(candidate, "sqlstate", None)
            if isinstance(state, str):
                return state
        seen = seen.__cause__
    return None


def _describe(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _first_line(exc: BaseException) -> str:
    """The first line of a driver's own error (not SQLAlchemy's), for a StoreError."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _WriteGate:
    """Registrations into one SQLite file, one at a time across threads and processes.

    SQLite lets one writer in; the others wait in its busy handler, which polls
    with sleeps of up to 100 ms, so under concurrent registrations (the workers
    of ``serve --workers N``) most of the time went to sleeping after the lock was
    free. Here a waiting writer blocks on a lock of a file beside the database
    (``flock``) and a thread lock, and wakes as soon as the writer before it is
    done. Nothing for PostgreSQL, an in-memory database, or without ``flock``.
    """

    def __init__(self, url: str) -> None:
        self._path: str | None = None
        if url.startswith("sqlite") and "///" in url:
            path = url.split("///", 1)[1].split("?", 1)[0]
            if path and path != ":memory:":
                self._path = path + "-write.lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._path is None:
            return
        self._thread_lock.acquire()
        try:
            import fcntl

            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass  # no file lock: SQLite's own busy handler still keeps writers apart

    def __exit__(self, *exc: object) -> None:
        if self._path is None:
            return
        try:
            if self._fd is not None:
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_UN)
        except (ImportError, OSError):
            pass
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


_OPEN_STORES: weakref.WeakSet[StoreConnection] = weakref.WeakSet()


def close_all_stores() -> None:
    """Close every store's connections (the CLI does so when a command ends)."""
    for store in list(_OPEN_STORES):
        store.close()


class StoreConnection:
    """One database, its engine and its sessions. Thread-safe; one per process."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = _engine_for(url)
        _OPEN_STORES.add(self)
        self._migrate_lock = threading.Lock()
        self._write_gate = _WriteGate(url)
        if migrate:
            self.migrate()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def _mark(self) -> str:
        """The driver's placeholder in statements sent to a raw cursor."""
        return "?" if self.dialect == "sqlite" else "%s"

    def close(self) -> None:
        self._write_gate.close()
        self.engine.dispose()

    def schema_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError as exc:
            raise StoreError(f"cannot open the database: {_describe(exc)}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {_describe(exc)}") from exc

    def migrate(self) -> None:
        """Bring the schema to the newest revision (cheap when it already is)."""
        with self._migrate_lock:
            if self.schema_revision() == SCHEMA_HEAD:
                return
            from docanchor.migrations import upgrade  # alembic is slow to import

            try:
                upgrade(self.engine)
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot migrate the database: {_describe(exc)}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except OperationalError as exc:
            state = _sqlstate(exc)
            if state in _RETRYABLE:
                raise RetryLaterError(
                    f"the transaction was aborted by a concurrent one (SQLSTATE {state}); "
                    "nothing was stored"
                ) from exc
            raise StoreError(f"database unavailable: {_describe(exc)}") from exc

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreError(f"database unavailable: {_describe(exc)}") from exc

    def _ensure_entity(self, session: Session, ruc: str) -> None:
        insert = sqlite_insert(_ENTITY) if self.dialect == "sqlite" else pg_insert(_ENTITY)
        session.execute(insert.values(ruc=ruc, created_at=utcnow()).on_conflict_do_nothing())

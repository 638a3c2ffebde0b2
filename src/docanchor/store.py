"""Persistence: the SQLModel tables and the queries the service needs.

SQLite (a file in the data dir, WAL) by default, PostgreSQL through a
``postgresql+psycopg://`` URL. The schema is created and upgraded by the
Alembic migrations in ``docanchor/migrations``, applied when a :class:`Store`
opens a database.

Hex strings in the columns (readable with any SQL client), bytes everywhere
else. This module imports the pure core only and never talks to the chain.

A document's status is not stored: it is ``pending`` while its id is in the
``pending_document`` queue and its batch's status afterwards (``batch_member``
holds its batch and leaf index), so one update moves a whole batch and
sealing never rewrites a document row.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col, func, select

from docanchor import merkle
from docanchor.errors import ConfigError, InputError, RetryLaterError, StoreError
from docanchor.hashing import DIGEST_SIZE

SCHEMA_HEAD: Final = "0003"
STATUSES: Final = ("pending", "sealed", "anchored", "confirmed")
BATCH_STATUSES: Final = ("sealed", "anchored", "confirmed")
_CHUNK: Final = 500
# PostgreSQL's deadlock_detected and serialization_failure: the transaction was
# rolled back and may be tried again as it was.
_RETRYABLE: Final = frozenset({"40P01", "40001"})
_ATTEMPTS: Final = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- tables -------------------------------------------------------------------


class Entity(SQLModel, table=True):
    """A state entity (identified by its RUC) that registers documents."""

    ruc: str = Field(primary_key=True, max_length=32)
    name: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """An API key; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    role: str = Field(max_length=16)
    entity_ruc: str | None = Field(default=None, max_length=32, index=True)
    label: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Batch(SQLModel, table=True):
    """A sealed set of documents, its Merkle root and what is known of its anchor.

    A batch of the log is a checkpoint: it added the leaves
    [``first_index``, ``tree_size``) and ``root`` is the log's root at
    ``tree_size``. A batch sealed before the log existed (an independent tree
    on a version 1 contract) has both NULL and ``root`` is its own tree's.

    Write-ahead: ``root`` and ``size`` exist before any transaction is sent, and
    ``tx_hash`` is written before the transaction is broadcast.
    """

    id: int | None = Field(default=None, primary_key=True)
    root: str | None = Field(default=None, max_length=64, unique=True)
    size: int = 0
    status: str = Field(default="sealed", max_length=16, index=True)
    sealed_at: datetime = Field(default_factory=utcnow)
    tx_hash: str | None = Field(default=None, max_length=66)
    tx_sent_at: datetime | None = None
    anchor_attempts: int = 0
    chain_id: int | None = None
    contract: str | None = Field(default=None, max_length=42)
    seq: int | None = None
    block_number: int | None = None
    block_hash: str | None = Field(default=None, max_length=66)
    anchor_timestamp: int | None = None
    anchorer: str | None = Field(default=None, max_length=42)
    gas_used: int | None = None
    anchored_at: datetime | None = None
    confirmed_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    first_index: int | None = Field(default=None, sa_type=sa.BigInteger)
    tree_size: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    # Every transaction sent for this batch and what became of it, and the
    # reorganisations that took its anchor away: a JSON list, oldest first.
    tx_log: str | None = Field(default=None, sa_type=sa.Text)

    @property
    def in_log(self) -> bool:
        """True for a checkpoint of the log, False for a batch of the version 1 scheme."""
        return self.tree_size is not None


class LogTile(SQLModel, table=True):
    """The hashes of up to 256 nodes of one level of the log (tlog-tiles layout).

    Tile (``level``, ``idx``) holds the nodes of height 8·level with indices
    idx·256 … idx·256+255, 32 bytes each, as many as are complete; level 0
    holds the leaf hashes. Any node is computed from one tile, any proof from
    O(log n) tiles.
    """

    __tablename__ = "log_tile"

    level: int = Field(primary_key=True, sa_type=sa.SmallInteger)
    idx: int = Field(primary_key=True, sa_type=sa.BigInteger)
    hashes: bytes = Field(sa_type=sa.LargeBinary)


class HexDigest(sa.types.TypeDecorator[str]):
    """A 32-byte value stored as binary (bytea, BLOB) and read as 64 hex characters.

    Binding accepts the hex text or the bytes. Half the size of hex text in
    the rows and in the unique index, and no text collation to compare.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return bytes.fromhex(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else bytes(value).hex()


class Document(SQLModel, table=True):
    """One registration of a document (a digest with its salt and metadata).

    ``sha256``, ``salt`` and ``metadata_sha256`` are 32-byte binary columns,
    read as hex through :class:`HexDigest`.
    """

    __table_args__ = (
        sa.UniqueConstraint("sha256", "entity_ruc", "metadata_sha256", name="uq_document_reg"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(sa_type=HexDigest)
    salt: str = Field(sa_type=HexDigest)
    metadata_json: str = Field(sa_type=sa.Text)
    metadata_sha256: str = Field(sa_type=HexDigest)
    entity_ruc: str = Field(default="", max_length=32)
    reference: str | None = Field(default=None, max_length=200, index=True)
    doc_type: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class PendingDocument(SQLModel, table=True):
    """A registration not yet in a batch: the queue that sealing empties.

    Sealing moves ids from here to :class:`BatchMember` and never rewrites the
    document rows themselves, so a batch of a million documents costs a million
    small inserts, not a million updates of wide, heavily indexed rows.
    """

    __tablename__ = "pending_document"

    document_id: int = Field(primary_key=True, foreign_key="document.id")


class BatchMember(SQLModel, table=True):
    """A document's place in its batch: the leaf index in the batch's tree."""

    __tablename__ = "batch_member"
    __table_args__ = (sa.UniqueConstraint("batch_id", "leaf_index", name="uq_batch_member_leaf"),)

    document_id: int = Field(primary_key=True, foreign_key="document.id")
    batch_id: int = Field(foreign_key="batch.id")
    leaf_index: int


class ServiceLock(SQLModel, table=True):
    """A lease that lets one process at a time run the anchoring loop."""

    __tablename__ = "service_lock"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    expires_at: datetime


# --- values handed to the service -----------------------------------------------


class NewRegistration(NamedTuple):
    """A registration about to be inserted (32-byte digests and salt, canonical metadata)."""

    sha256: bytes
    salt: bytes
    metadata_json: str
    metadata_sha256: bytes
    entity_ruc: str
    reference: str | None
    doc_type: str | None


class DocumentRow(NamedTuple):
    """A row of the document table, read without the ORM (fast for bulk work)."""

    id: int
    sha256: str
    salt: str
    metadata_json: str
    metadata_sha256: str
    entity_ruc: str
    reference: str | None
    doc_type: str | None
    created_at: datetime
    batch_id: int | None
    leaf_index: int | None


_DOC: Final[sa.Table] = Document.__table__  # type: ignore[attr-defined]
_ENTITY: Final[sa.Table] = Entity.__table__  # type: ignore[attr-defined]
_MEMBER: Final[sa.Table] = BatchMember.__table__  # type: ignore[attr-defined]
_PENDING: Final[sa.Table] = PendingDocument.__table__  # type: ignore[attr-defined]
_TILE: Final[sa.Table] = LogTile.__table__  # type: ignore[attr-defined]
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
_BATCH: Final[sa.Table] = Batch.__table__  # type: ignore[attr-defined]
_BATCH_NAMES: Final = tuple(c.name for c in _BATCH.c)
_FAMILY: Final = _LOOKUP_WITH_VERSIONS.order_by(None).subquery("family")
# The verify look-up in one statement: the family of a digest with its batches.
_LOOKUP_ROWS: Final = (
    sa.select(*_FAMILY.c, *_BATCH.c)
    .select_from(_FAMILY.outerjoin(_BATCH, _BATCH.c.id == _FAMILY.c.batch_id))
    .order_by(_FAMILY.c.id)
)
LookupRows = tuple[tuple[Any, ...], ...]


class LogEntryRow(NamedTuple):
    """One registration at its place in the log (digests as hex)."""

    leaf_index: int
    salt: str
    sha256: str
    metadata_sha256: str
    metadata_json: str
    entity_ruc: str


class DocumentView(NamedTuple):
    """A registration with what its batch says about it."""

    document: DocumentRow
    batch: Batch | None
    version: int | None = None

    @property
    def status(self) -> str:
        return "pending" if self.batch is None else self.batch.status


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


class TileLevelCache:
    """The :func:`merkle.tile_levels` of recently read tiles (bounded, thread-safe).

    An entry is used only for the very bytes it was computed from: every proof
    still reads its tiles, and a tile that grew, or was altered, is computed
    afresh. What it saves is rehashing the inner nodes of the same tiles on
    every receipt (up to 255 hashes per tile).
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, int], tuple[bytes, tuple[bytes, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def levels(self, key: tuple[int, int], tile: bytes) -> tuple[bytes, ...]:
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] == tile:
                self._items.move_to_end(key)
                return found[1]
        levels = merkle.tile_levels(tile)
        with self._lock:
            self._items[key] = (tile, levels)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return levels


class _TileSource:
    """A :data:`merkle.NodeSource` over the log's tiles: each tile read at most once.

    Reads through the driver's cursor: a proof costs a handful of primary-key
    look-ups, and the ORM's per-statement overhead would be most of its time.
    With a :class:`TileLevelCache`, the nodes of a tile read before with the same
    bytes are not rehashed.
    """

    def __init__(
        self,
        cursor: Any,
        mark: str,
        tiles: dict[tuple[int, int], bytes],
        cache: TileLevelCache | None = None,
    ) -> None:
        self._cursor = cursor
        self._sql = f"SELECT hashes FROM log_tile WHERE level = {mark} AND idx = {mark}"  # noqa: S608
        self._tiles = dict(tiles)
        self._cache = cache

    def __call__(self, height: int, index: int) -> bytes:
        level = height // merkle.TILE_HEIGHT
        key = (level, (index << (height % merkle.TILE_HEIGHT)) >> merkle.TILE_HEIGHT)
        tile = self._tiles.get(key)
        if tile is None:
            self._cursor.execute(self._sql, key)
            stored = self._cursor.fetchone()
            if stored is None:
                raise StoreError(f"the log's tile {key} is missing")
            tile = self._tiles[key] = bytes(stored[0])
        try:
            if self._cache is None or height % merkle.TILE_HEIGHT == 0:
                return merkle.node_from_tile(height, index, tile)
            return merkle.node_from_levels(height, index, self._cache.levels(key, tile))
        except InputError as exc:
            raise StoreError(f"the log's tile {key} is short: {exc}") from exc


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _describe(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# Threads that keep a look-up connection of their own (the event loop's, which runs
# the SQLite look-ups, and the first thread-pool workers); others borrow from the pool.
_HELD_LOOKUP_CONNECTIONS: Final = 4


class _PreparedLookup:
    """The verify look-up (``_LOOKUP_ROWS``) compiled once for the engine's dialect,
    run through the driver on one connection per thread, kept between calls.

    A read ends its transaction (SQLite's driver opens none for a SELECT; on
    PostgreSQL it is rolled back), so every call sees what is committed. A
    connection that fails is dropped, and the next call opens another.
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
        # The key of an authenticated request, by the SHA-256 of its secret.
        keys = ApiKey.__table__  # type: ignore[attr-defined]
        mark = "?" if dialect.name == "sqlite" else "%s"
        self._key_columns = tuple(c.name for c in keys.c)
        self.api_key_sql = (
            f"SELECT {', '.join(self._key_columns)} FROM api_key WHERE key_hash = {mark}"  # noqa: S608
        )
        self._key_processors = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in keys.c
        )
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

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

    def api_key_values(self, raw: Sequence[Any]) -> dict[str, Any]:
        """A row of ``api_key_sql`` by column name, as SQLAlchemy's types read it."""
        return {
            name: value if process is None or value is None else process(value)
            for name, process, value in zip(
                self._key_columns, self._key_processors, raw, strict=True
            )
        }

    def convert(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        """A row as SQLAlchemy's types read it (hex digests, datetimes)."""
        return tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(self._processors, raw, strict=True)
        )

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


_OPEN_STORES: weakref.WeakSet[Store] = weakref.WeakSet()


def close_all_stores() -> None:
    """Close every store's connections (the CLI does so when a command ends)."""
    for store in list(_OPEN_STORES):
        store.close()


class Store:
    """Database access for the service. Thread-safe; one per process."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = _engine_for(url)
        _OPEN_STORES.add(self)
        self._migrate_lock = threading.Lock()
        self._tile_levels = TileLevelCache()
        self._lookup: _PreparedLookup | None = None
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
        if self._lookup is not None:
            self._lookup.close()
        self._write_gate.close()
        self.engine.dispose()

    # --- schema -----------------------------------------------------------------

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

    # --- registrations -------------------------------------------------------------

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
                    # Every row is new: they are the rows above the old maximum id,
                    # read back in one range scan of the primary key.
                    cursor.execute(
                        "SELECT id, sha256, metadata_sha256, salt FROM document WHERE id > ?",
                        (before,),
                    )
                    stored = [
                        (r[0], bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in cursor.fetchall()
                    ]
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

    def _ensure_entity(self, session: Session, ruc: str) -> None:
        insert = sqlite_insert(_ENTITY) if self.dialect == "sqlite" else pg_insert(_ENTITY)
        session.execute(insert.values(ruc=ruc, created_at=utcnow()).on_conflict_do_nothing())

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

    def by_sha256(self, sha256_hex: str) -> list[DocumentView]:
        with self.session() as session:
            docs = self._select_rows(session, _DOC.c.sha256 == sha256_hex)
            return self._with_versions(session, self.views(session, docs))

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

    def _lookups(self) -> _PreparedLookup:
        lookup = self._lookup
        if lookup is None:
            lookup = self._lookup = _PreparedLookup(self.engine)
        return lookup

    def views_of_lookup(
        self, rows: LookupRows, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """(registrations of the digest, versions of their references) from :meth:`lookup_rows`."""
        lookup = self._lookups()
        width = len(DocumentRow._fields)
        batches: dict[int, Batch] = {}
        family: list[DocumentView] = []
        for raw in rows:
            r = lookup.convert(raw)
            doc = DocumentRow(*r[:width])
            batch: Batch | None = None
            if doc.batch_id is not None and r[width + 1] is not None:
                batch = batches.get(doc.batch_id)
                if batch is None:
                    # model_construct skips the per-attribute events of Batch(**...), a
                    # twentieth of the cost; it needs the mappers set up (a no-op once done).
                    sa.orm.configure_mappers()
                    batch = Batch.model_construct(
                        **dict(zip(_BATCH_NAMES, r[width + 1 :], strict=True))
                    )
                    batches[doc.batch_id] = batch
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

    # --- batches ---------------------------------------------------------------

    def seal_pending(
        self,
        *,
        limit: int,
        now: datetime,
        leaf_hashes_of: Callable[[Iterable[tuple[bytes, bytes, bytes]]], list[bytes]],
    ) -> Batch | None:
        """Append up to ``limit`` pending documents (oldest first) to the log as one batch.

        One transaction: the batch row is created, the documents get the batch
        and their index in the log, the leaf hashes (``leaf_hashes_of``
        receives the stored (salt, sha256, metadata_sha256) bytes in leaf order) are
        written to the log's tiles, and the batch becomes the checkpoint of the
        new size with the root read back from the tiles. So the checkpoint
        always describes exactly the rows of the log.
        """
        batch_table = _BATCH
        with self.session() as session:
            if self.dialect == "postgresql":
                # Two sealers must not interleave; the second waits, then finds
                # nothing pending (or only what arrived since).
                session.execute(sa.text("SELECT pg_advisory_xact_lock(6372061)"))
            else:
                # Take SQLite's write lock now rather than on the first UPDATE.
                session.execute(sa.text("UPDATE service_lock SET name = name WHERE 1 = 0"))
            if session.execute(sa.select(_PENDING.c.document_id).limit(1)).first() is None:
                return None
            first = self._log_size(session)
            batch_id = session.execute(
                sa.insert(batch_table)
                .values(
                    size=0, status="sealed", sealed_at=now, anchor_attempts=0, first_index=first
                )
                .returning(batch_table.c.id)
            ).scalar_one()
            session.execute(
                sa.text(
                    "INSERT INTO batch_member (document_id, batch_id, leaf_index) "
                    "SELECT document_id, :b, :first + row_number() OVER (ORDER BY document_id) - 1 "
                    "FROM (SELECT document_id FROM pending_document "
                    "      ORDER BY document_id LIMIT :n) AS picked"
                ),
                {"b": batch_id, "n": limit, "first": first},
            )
            session.execute(
                sa.text(
                    "DELETE FROM pending_document WHERE document_id IN "
                    "(SELECT document_id FROM batch_member WHERE batch_id = :b)"
                ),
                {"b": batch_id},
            )
            # The driver's cursor, in chunks: a million rows through the ORM's result
            # objects would cost more than hashing them.
            cursor = session.connection().connection.cursor()
            cursor.execute(
                "SELECT d.salt, d.sha256, d.metadata_sha256 FROM batch_member m "  # noqa: S608
                "JOIN document d ON d.id = m.document_id "
                f"WHERE m.batch_id = {self._mark} ORDER BY m.leaf_index",
                (batch_id,),
            )
            leaves = []
            while chunk := cursor.fetchmany(50_000):
                if chunk and type(chunk[0][0]) is not bytes:  # psycopg may hand out memoryview
                    chunk = [(bytes(a), bytes(b), bytes(c)) for a, b, c in chunk]
                leaves += leaf_hashes_of(chunk)
            cursor.close()
            size = len(leaves)
            written = self._append_tiles(session, first, leaves)
            del leaves
            tree_size = first + size
            cursor = session.connection().connection.cursor()
            root = merkle.fold_compact_range(
                merkle.compact_range(tree_size, _TileSource(cursor, self._mark, written))
            )
            cursor.close()
            session.execute(
                sa.update(batch_table)
                .where(batch_table.c.id == batch_id)
                .values(root=root.hex(), size=size, tree_size=tree_size)
            )
            session.commit()
            batch = session.get(Batch, batch_id)
            assert batch is not None
            return batch

    # --- the log ------------------------------------------------------------------

    @staticmethod
    def _log_size(session: Session) -> int:
        size = session.execute(sa.select(sa.func.max(_BATCH.c.tree_size))).scalar_one()
        return int(size or 0)

    def log_size(self) -> int:
        """The number of leaves in the log (the size of its newest checkpoint)."""
        with self.session() as session:
            return self._log_size(session)

    def _append_tiles(
        self, session: Session, size: int, leaves: list[bytes]
    ) -> dict[tuple[int, int], bytes]:
        """Write the tiles that appending ``leaves`` to the log of ``size`` changes."""
        edge: dict[int, bytes] = {}
        level = 0
        while True:
            count = size >> (merkle.TILE_HEIGHT * level)
            if count % merkle.TILE_WIDTH:
                stored = session.execute(
                    sa.select(_TILE.c.hashes).where(
                        _TILE.c.level == level, _TILE.c.idx == count // merkle.TILE_WIDTH
                    )
                ).scalar_one_or_none()
                if stored is None:
                    raise StoreError(f"the log's tile at level {level} is missing")
                edge[level] = bytes(stored)
            if count < merkle.TILE_WIDTH:
                break
            level += 1
        updates = merkle.tile_updates(size, edge, leaves)
        cursor = session.connection().connection.cursor()
        mark = "?" if self.dialect == "sqlite" else "%s"
        cursor.executemany(
            f"INSERT INTO log_tile (level, idx, hashes) VALUES ({mark}, {mark}, {mark}) "  # noqa: S608
            "ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
            updates,
        )
        cursor.close()
        return {(level, idx): content for level, idx, content in updates}

    @contextmanager
    def log_nodes(self) -> Iterator[merkle.NodeSource]:
        """A node source over the stored tiles (one connection, tiles read once each).

        Only nodes of complete subtrees may be asked for (those below a
        checkpoint's size are).
        """
        with self._lookups().cursor() as cursor:
            yield _TileSource(cursor, self._mark, {}, self._tile_levels)

    def log_leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes [start, end) of the log, from its level-0 tiles."""
        if not 0 <= start <= end:
            raise StoreError(f"bad leaf range {start}..{end}")
        if start == end:
            return []
        first, last = start // merkle.TILE_WIDTH, (end - 1) // merkle.TILE_WIDTH
        with self.session() as session:
            tiles = session.execute(
                sa.select(_TILE.c.hashes)
                .where(_TILE.c.level == 0, _TILE.c.idx.between(first, last))
                .order_by(_TILE.c.idx)
            ).scalars()
            packed = b"".join(bytes(t) for t in tiles)
        offset = first * merkle.TILE_WIDTH
        size = DIGEST_SIZE
        leaves = [packed[(i - offset) * size : (i - offset + 1) * size] for i in range(start, end)]
        if leaves and len(leaves[-1]) != size:
            raise StoreError(f"the log holds fewer than {end} leaves")
        return leaves

    def log_entries(self, start: int, end: int) -> list[LogEntryRow]:
        """The registrations at log indices [start, end), in index order.

        Looks up the batches that overlap the range first, so the member rows
        are found through the (batch, leaf index) unique index.
        """
        if not 0 <= start <= end:
            raise StoreError(f"bad leaf range {start}..{end}")
        if start == end:
            return []
        with self.session() as session:
            batch_ids = list(
                session.execute(
                    sa.select(_BATCH.c.id).where(
                        _BATCH.c.first_index < sa.literal(end, sa.BigInteger),
                        _BATCH.c.tree_size > sa.literal(start, sa.BigInteger),
                    )
                ).scalars()
            )
            if not batch_ids:
                return []
            rows = session.execute(
                sa.select(
                    _MEMBER.c.leaf_index,
                    _DOC.c.salt,
                    _DOC.c.sha256,
                    _DOC.c.metadata_sha256,
                    _DOC.c.metadata_json,
                    _DOC.c.entity_ruc,
                )
                .select_from(_MEMBER.join(_DOC, _DOC.c.id == _MEMBER.c.document_id))
                .where(
                    _MEMBER.c.batch_id.in_(batch_ids),
                    _MEMBER.c.leaf_index >= start,
                    _MEMBER.c.leaf_index < end,
                )
                .order_by(_MEMBER.c.leaf_index)
            ).all()
        return [LogEntryRow(*r) for r in rows]

    def checkpoints(self, *, start: int = 0, limit: int | None = None) -> list[Batch]:
        """The log's checkpoints, oldest first, from on-chain sequence ``start``
        (checkpoints not anchored yet, which have no sequence, come last)."""
        with self.session() as session:
            query = (
                select(Batch)
                .where(col(Batch.tree_size).is_not(None))
                # A BigInteger literal: the model's seq is a plain int, the column 64-bit.
                .where(
                    sa.or_(
                        col(Batch.seq).is_(None),
                        col(Batch.seq) >= sa.literal(start, sa.BigInteger),
                    )
                )
                .order_by(col(Batch.tree_size))
            )
            if limit is not None:
                query = query.limit(limit)
            return list(session.exec(query).all())

    def checkpoint_at(self, tree_size: int) -> Batch | None:
        """The checkpoint of this size, if the log has one."""
        with self.session() as session:
            return session.exec(select(Batch).where(col(Batch.tree_size) == tree_size)).first()

    def checkpoint_before(self, tree_size: int) -> Batch | None:
        """The newest checkpoint smaller than ``tree_size``."""
        with self.session() as session:
            return session.exec(
                select(Batch)
                .where(col(Batch.tree_size) < tree_size)
                .order_by(col(Batch.tree_size).desc())
                .limit(1)
            ).first()

    def batches(
        self,
        *,
        statuses: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Batch]:
        with self.session() as session:
            query = select(Batch)
            if statuses is not None:
                query = query.where(col(Batch.status).in_(list(statuses)))
            query = query.order_by(col(Batch.id).desc() if newest_first else col(Batch.id))
            query = query.offset(offset)
            if limit is not None:
                query = query.limit(limit)
            return list(session.exec(query).all())

    def count_batches(self) -> int:
        with self.session() as session:
            return int(session.exec(select(func.count()).select_from(Batch)).one())

    def get_batch(self, batch_id: int) -> Batch | None:
        with self.session() as session:
            return session.get(Batch, batch_id)

    def update_batch(self, batch_id: int, **fields: Any) -> Batch:
        with self.session() as session:
            batch = session.get(Batch, batch_id)
            if batch is None:
                raise StoreError(f"batch {batch_id} vanished from the database")
            for name, value in fields.items():
                setattr(batch, name, value)
            session.add(batch)
            session.commit()
            return batch

    def batch_leaves(
        self, batch_id: int, offset: int = 0, limit: int | None = None
    ) -> list[tuple[str, str, str]]:
        """(salt, sha256, metadata_sha256) of a batch's documents in leaf order."""
        return list(self.iter_batch_leaves(batch_id, offset, limit))

    def iter_batch_leaves(
        self, batch_id: int, offset: int = 0, limit: int | None = None
    ) -> Iterator[tuple[str, str, str]]:
        """As :meth:`batch_leaves`, streamed: a million rows never sit in memory at once."""
        with self.session() as session:
            query = (
                sa.select(_DOC.c.salt, _DOC.c.sha256, _DOC.c.metadata_sha256)
                .select_from(_MEMBER.join(_DOC, _DOC.c.id == _MEMBER.c.document_id))
                .where(_MEMBER.c.batch_id == batch_id)
                .order_by(_MEMBER.c.leaf_index)
                .offset(offset)
            )
            if limit is not None:
                query = query.limit(limit)
            for r in session.execute(query, execution_options={"yield_per": 20_000}):
                yield (r[0], r[1], r[2])

    def batch_document_ids(self, batch_id: int) -> list[int]:
        with self.session() as session:
            rows = session.execute(
                sa.select(_MEMBER.c.document_id)
                .where(_MEMBER.c.batch_id == batch_id)
                .order_by(_MEMBER.c.leaf_index)
            )
            return [int(r[0]) for r in rows]

    def document_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        with self.session() as session:
            pending = session.execute(sa.select(sa.func.count()).select_from(_PENDING))
            counts["pending"] = int(pending.scalar_one())
            rows = session.exec(
                select(Batch.status, func.coalesce(func.sum(Batch.size), 0)).group_by(Batch.status)
            ).all()
            for status, total in rows:
                counts[status] = counts.get(status, 0) + int(total)
        return counts

    # --- API keys ----------------------------------------------------------------

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
        lookups = self._lookups()
        with lookups.cursor() as cursor:
            cursor.execute(lookups.api_key_sql, (key_hash,))
            row = cursor.fetchone()
        if row is None:
            return None
        return ApiKey.model_construct(**lookups.api_key_values(row))

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

    # --- the anchoring loop's lease ---------------------------------------------------

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

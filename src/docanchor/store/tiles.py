"""The log's storage: sealing pending documents into a checkpoint, the C2SP tiles that hold
the tree's nodes, and reading leaves, entries, nodes and checkpoints back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from docanchor import merkle
from docanchor.errors import InputError, StoreError
from docanchor.hashing import DIGEST_SIZE
from docanchor.store.lookups import StoreLookups
from docanchor.store.tables import _BATCH, _DOC, _MEMBER, _PENDING, _TILE, Batch, LogEntryRow
from docanchor.vocabulary import BatchStatus


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


class StoreLog(StoreLookups):
    """The append-only log: sealing, tiles, leaves and checkpoints."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self._tile_levels = TileLevelCache()
        super().__init__(url, migrate=migrate)

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
                    size=0,
                    status=BatchStatus.SEALED,
                    sealed_at=now,
                    anchor_attempts=0,
                    first_index=first,
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
            # The digests are read as raw bytes and written as hex here, once per
            # row, rather than through HexDigest's per-value result processor.
            raw = sa.LargeBinary
            rows = session.execute(
                sa.select(
                    _MEMBER.c.leaf_index,
                    sa.type_coerce(_DOC.c.salt, raw),
                    sa.type_coerce(_DOC.c.sha256, raw),
                    sa.type_coerce(_DOC.c.metadata_sha256, raw),
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
            return [
                LogEntryRow(index, salt.hex(), sha256.hex(), metadata_sha256.hex(), meta, ruc)
                for index, salt, sha256, metadata_sha256, meta, ruc in rows
            ]

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

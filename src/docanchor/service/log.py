"""The append-only log (log-v1): checkpoints, consistency proofs, compact ranges, entries.

Proofs are computed by ``docanchor.merkle`` from the store's tiles; this
module checks the ranges asked for and reads.
"""

from __future__ import annotations

import json
from typing import Any

from docanchor import merkle
from docanchor.errors import LogRangeError
from docanchor.service.base import ServiceBase
from docanchor.service.records import BatchRecord, Checkpoint
from docanchor.store import LogEntryRow


class LogReads(ServiceBase):
    """The log's public and auditor reads."""

    def batch_page(self, *, offset: int = 0, limit: int = 100) -> tuple[int, list[BatchRecord]]:
        """The number of batches, and ``limit`` of them from ``offset``, newest first."""
        rows = self.store.batches(offset=offset, limit=limit, newest_first=True)
        return self.store.count_batches(), [BatchRecord.of(b) for b in rows]

    def checkpoint(self, tree_size: int) -> Checkpoint:
        """The checkpoint of this size; :class:`InputError` when the log has none."""
        batch = self.store.checkpoint_at(tree_size) if tree_size > 0 else None
        if batch is None:
            raise LogRangeError(f"{tree_size} is not the size of a checkpoint of the log")
        return Checkpoint.of_log(batch)

    def consistency(self, first: int, second: int) -> tuple[Checkpoint, Checkpoint, list[bytes]]:
        """The RFC 9162 consistency proof between two checkpoint sizes ``first <= second``."""
        if first > second:
            raise LogRangeError(f"first size {first} is larger than second size {second}")
        old, new = self.checkpoint(first), self.checkpoint(second)
        with self.store.log_nodes() as node:
            proof = merkle.log_consistency_proof(first, second, node)
        return old, new, proof

    def compact_range(self, size: int) -> list[bytes]:
        """The compact range of the log at a checkpoint size (0 allowed)."""
        if size != 0:
            self.checkpoint(size)
        with self.store.log_nodes() as node:
            return merkle.compact_range(size, node)

    def log_leaves(self, start: int, end: int, *, limit: int = 100_000) -> list[bytes]:
        """Leaf hashes [start, end) of the log; at most ``limit`` a call."""
        if start < 0 or end < start:
            raise LogRangeError(f"the leaf range {start}..{end} is reversed")
        if end - start > limit:
            raise LogRangeError(f"at most {limit} leaves a call, asked for {end - start}")
        size = self.store.log_size()
        if end > size:
            raise LogRangeError(f"the log holds {size} leaves; {end} is beyond its end")
        return self.store.log_leaves(start, end)

    def log_entry_rows(
        self, start: int, end: int, *, limit: int = 100_000
    ) -> tuple[list[bytes], dict[int, LogEntryRow]]:
        """The leaf hashes [start, end) and the registrations stored at those indices."""
        hashes = self.log_leaves(start, end, limit=limit)
        return hashes, {r.leaf_index: r for r in self.store.log_entries(start, end)}

    def log_entries(
        self, start: int, end: int, *, entity_ruc: str | None = None, limit: int = 100_000
    ) -> list[dict[str, Any]]:
        """Openings of the log's leaves [start, end) (log-v1 section 5), at most ``limit``.

        With ``entity_ruc`` only that entity's leaves are opened; the others
        come back as ``{"index", "leaf_hash", "withheld": true}``.
        """
        hashes, rows = self.log_entry_rows(start, end, limit=limit)
        entries: list[dict[str, Any]] = []
        for index, leaf in enumerate(hashes, start):
            row = rows.get(index)
            if row is None or (entity_ruc is not None and row.entity_ruc != entity_ruc):
                entries.append({"index": index, "leaf_hash": leaf.hex(), "withheld": True})
                continue
            entries.append(
                {
                    "index": index,
                    "leaf_hash": leaf.hex(),
                    "sha256": row.sha256,
                    "salt": row.salt,
                    "metadata_sha256": row.metadata_sha256,
                    "metadata": json.loads(row.metadata_json),
                }
            )
        return entries

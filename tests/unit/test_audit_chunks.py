"""The period audit over a fake chain and an in-memory log, with openings asked for in
small chunks (several in flight): every proven leaf is opened once, whatever the chunk
and checkpoint boundaries, and the openings of a range that fails are not used."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from docanchor import audit, hashing, merkle
from docanchor.audit import ListedCheckpoint, audit_period

SIZES = [5, 12, 20, 33, 41]  # checkpoint sizes; the first is the base, before the period
T0 = 1_800_000_000


@dataclass(frozen=True)
class Event:
    seq: int
    root: bytes
    tree_size: int
    block_number: int


@dataclass(frozen=True)
class Record:
    seq: int
    tree_size: int
    timestamp: int
    block_number: int


class FakeChain:
    def __init__(self, leaves: list[bytes]) -> None:
        self.events = [
            Event(seq, merkle.root_of(leaves[:size]), size, 10 + seq)
            for seq, size in enumerate(SIZES)
        ]

    def scan_anchored(self, from_block: int) -> list[Event]:
        return list(self.events)

    def get_anchor(self, root: bytes) -> Record | None:
        for e in self.events:
            if e.root == root:
                return Record(e.seq, e.tree_size, T0 + 60 * e.seq, e.block_number)
        return None


class Log:
    def __init__(self, n: int) -> None:
        self.entries: list[dict[str, Any]] = []
        self.leaves: list[bytes] = []
        for i in range(n):
            salt = hashlib.sha256(b"salt%d" % i).digest()
            doc = hashlib.sha256(b"doc%d" % i).digest()
            meta = {"entity_ruc": "1", "type": "oc", "n": i}
            digest = hashing.metadata_digest(meta)
            leaf = hashing.document_leaf_hash(salt, doc, digest)
            self.leaves.append(leaf)
            self.entries.append(
                {
                    "index": i,
                    "leaf_hash": leaf.hex(),
                    "salt": salt.hex(),
                    "sha256": doc.hex(),
                    "metadata_sha256": digest.hex(),
                    "metadata": meta,
                }
            )
        self.asked: list[tuple[int, int]] = []
        self.lock = threading.Lock()
        self.bad_leaf: int | None = None

    def checkpoints(self) -> list[ListedCheckpoint]:
        return [
            ListedCheckpoint(seq, size, merkle.root_of(self.leaves[:size]).hex(), 10 + seq)
            for seq, size in enumerate(SIZES)
        ]

    def compact_range(self, size: int) -> list[bytes]:
        return merkle.extend_compact_range([], 0, self.leaves[:size])

    def leaves_of(self, start: int, end: int) -> list[bytes]:
        got = list(self.leaves[start:end])
        if self.bad_leaf is not None and start <= self.bad_leaf < end:
            got[self.bad_leaf - start] = hashing.leaf_hash(b"forged")
        return got

    def entries_of(self, start: int, end: int) -> list[Mapping[str, Any]]:
        with self.lock:
            self.asked.append((start, end))
        return self.entries[start:end]


class Source:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.checkpoints = log.checkpoints
        self.compact_range = log.compact_range
        self.leaves = log.leaves_of
        self.entries = log.entries_of


def run(log: Log) -> audit.PeriodReport:
    return audit_period(
        chain=FakeChain(log.leaves),
        source=Source(log),
        start_time=datetime.fromtimestamp(T0 + 1, UTC),
        end_time=datetime.fromtimestamp(T0 + 3600, UTC),
    )


@pytest.mark.parametrize("chunk", [1, 3, 7, 16, 100])
def test_every_proven_leaf_is_opened_once(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(audit, "OPEN_CHUNK", chunk)
    log = Log(SIZES[-1])
    report = run(log)
    assert report.complete, report.findings
    assert (report.start, report.end, report.opened) == (5, 41, 36)
    assert [r["index"] for r in report.registrations] == list(range(5, 41))
    assert sorted(log.asked) == [(a, min(a + chunk, 41)) for a in range(5, 41, chunk)]


@pytest.mark.parametrize("chunk", [4, 9])
def test_a_failed_range_is_neither_opened_nor_withheld(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(audit, "OPEN_CHUNK", chunk)
    log = Log(SIZES[-1])
    log.bad_leaf = 25  # in the range 20..33 of checkpoint 3
    report = run(log)
    assert [f.kind for f in report.findings] == ["range_mismatch"]
    assert report.unproven == 13 and report.opened == 36 - 13
    indices = [r["index"] for r in report.registrations]
    assert indices == [*range(5, 20), *range(33, 41)]
    assert report.withheld == [] and report.mismatched == []


def test_an_altered_opening_in_a_later_chunk_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "OPEN_CHUNK", 4)
    log = Log(SIZES[-1])
    log.entries[38] = {**log.entries[38], "metadata": {"entity_ruc": "1", "type": "x", "n": 38}}
    del log.entries[30]["salt"]
    report = run(log)
    assert report.mismatched == [30, 38] and report.opened == 34
    assert {f.kind for f in report.findings} == {"opening_mismatch"}

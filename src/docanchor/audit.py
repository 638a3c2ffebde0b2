"""The period audit (log-v1 section 4): is this the whole record of a period, unaltered?

A period [from, to) is the range of leaves between the last checkpoint
anchored before it and the last one anchored in it. The checkpoints, their
roots, sizes and times come from the chain only (the contract's ``Anchored``
events and ``getAnchor``); the log's compact range, leaves and openings come
from a :class:`LogSource` (the local store, or a remote service that is not
trusted) and are believed only as far as the pure core confirms them: the
compact range must fold to the anchored root, the leaves must range-check to
each anchored root in turn, and each opening must hash to its leaf.

This module orchestrates; it never hashes or folds by itself (``merkle`` and
``hashing`` do), and never talks to a database or a node except through the
source and the chain it is given.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NamedTuple, Protocol

from docanchor import hashing, merkle
from docanchor.errors import DocAnchorError, VerificationError
from docanchor.onchain import AnchoredEvent, OnChainRecord
from docanchor.vocabulary import utc_text, utc_text_of_timestamp

CHUNK: Final = 100_000  # leaves or openings a request (log-v1 section 5)
OPEN_CHUNK: Final = 20_000  # openings a request: small enough to overlap fetching and checking
AHEAD: Final = 2  # requests for openings in flight while the audit checks
SHOWN: Final = 10  # leaf indices named in one finding's text


class ListedCheckpoint(NamedTuple):
    """A checkpoint as a log source lists it (believed only where the chain agrees)."""

    seq: int
    tree_size: int
    root: str
    block_number: int | None


class LogSource(Protocol):
    """What the audit asks of a log: the local store or a service over HTTP.

    Malformed answers raise :class:`VerificationError`; a source that cannot
    be asked at all raises another :class:`DocAnchorError`.
    """

    def checkpoints(self) -> list[ListedCheckpoint]: ...

    def compact_range(self, size: int) -> list[bytes]: ...

    def leaves(self, start: int, end: int) -> list[bytes]: ...

    def entries(self, start: int, end: int) -> list[Mapping[str, Any]]: ...


class AnchorChain(Protocol):
    """The verifier's own node, pointed at the trusted deployment (whose code the
    caller has checked)."""

    def scan_anchored(self, from_block: int) -> Sequence[AnchoredEvent]: ...

    def get_anchor(self, root: bytes) -> OnChainRecord | None: ...


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ChainCheckpoint:
    """A checkpoint as the chain holds it: its event and its ``getAnchor`` record."""

    seq: int
    tree_size: int
    root: bytes
    block_number: int
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "block_number": self.block_number,
            "timestamp": self.timestamp,
            "time": utc_text_of_timestamp(self.timestamp),
        }


@dataclass(frozen=True)
class PeriodFinding:
    kind: str
    detail: str
    seq: int | None = None
    leaves: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "seq": self.seq,
            "leaves": list(self.leaves),
        }


@dataclass
class PeriodReport:
    start_time: datetime
    end_time: datetime
    entity: str | None = None
    checkpoints: list[ChainCheckpoint] = field(default_factory=list)
    base: ChainCheckpoint | None = None
    start: int = 0
    end: int = 0
    opened: int = 0
    withheld: list[int] = field(default_factory=list)
    mismatched: list[int] = field(default_factory=list)
    unproven: int = 0
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    findings: list[PeriodFinding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Every checkpoint is the chain's, every leaf range-checked, no opening altered,
        and (unless the audit is of one entity) no opening withheld."""
        return not self.findings

    @property
    def complete(self) -> bool:
        """Valid, with every leaf of the period opened: the exit-0 verdict."""
        return self.valid and not self.withheld and not self.mismatched

    def to_json(self) -> dict[str, Any]:
        seqs = [c.seq for c in self.checkpoints]
        return {
            "period": {"from": utc_text(self.start_time), "to": utc_text(self.end_time)},
            "entity": self.entity,
            "checkpoints": {
                "first_seq": seqs[0] if seqs else None,
                "last_seq": seqs[-1] if seqs else None,
                "count": len(seqs),
                "base": None if self.base is None else self.base.to_json(),
                "list": [c.to_json() for c in self.checkpoints],
            },
            "leaves": {
                "start": self.start,
                "end": self.end,
                "opened": self.opened,
                "withheld": len(self.withheld),
                "mismatched": len(self.mismatched),
                "unproven": self.unproven,
                "withheld_indices": self.withheld,
                "mismatched_indices": self.mismatched,
            },
            "entities": self.entities,
            "registrations": self.registrations,
            "findings": [f.to_json() for f in self.findings],
            "valid": self.valid,
            "complete": self.complete,
        }


def indices(indices: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:SHOWN])
    more = len(indices) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _chunks(start: int, end: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    for a in range(start, end, size):
        yield a, min(a + size, end)


def chain_checkpoints(chain: AnchorChain, report: PeriodReport) -> list[ChainCheckpoint]:
    """Every checkpoint of the trusted deployment, oldest first, each event confirmed
    by ``getAnchor`` (its time is the anchoring block's, as the contract recorded it)."""
    found: list[ChainCheckpoint] = []
    for event in sorted(chain.scan_anchored(0), key=lambda e: e.seq):
        record = chain.get_anchor(event.root)
        if record is None or (record.seq, record.tree_size, record.block_number) != (
            event.seq,
            event.tree_size,
            event.block_number,
        ):
            report.findings.append(
                PeriodFinding(
                    "chain_record_mismatch",
                    f"checkpoint {event.seq}: the contract's record of root "
                    f"{event.root.hex()} does not match its Anchored event",
                    seq=event.seq,
                )
            )
            continue
        found.append(
            ChainCheckpoint(
                seq=event.seq,
                tree_size=event.tree_size,
                root=event.root,
                block_number=event.block_number,
                timestamp=record.timestamp,
            )
        )
    return found


def audit_period(
    *,
    chain: AnchorChain,
    source: LogSource,
    start_time: datetime,
    end_time: datetime,
    entity: str | None = None,
    progress: Progress | None = None,
) -> PeriodReport:
    """Audit the period [start_time, end_time) of the log (log-v1 section 4).

    Preconditions: both times are timezone-aware and ``start_time < end_time``.
    """
    report = PeriodReport(start_time=start_time, end_time=end_time, entity=entity)
    first, last = int(start_time.timestamp()), int(end_time.timestamp())
    on_chain = chain_checkpoints(chain, report)
    before = [c for c in on_chain if c.timestamp < first]
    inside = [c for c in on_chain if first <= c.timestamp < last]
    report.base = before[-1] if before else None
    report.checkpoints = inside
    report.start = report.base.tree_size if report.base else 0
    report.end = inside[-1].tree_size if inside else report.start
    _check_listing(source, on_chain, inside, report)
    if not inside:
        return report
    with ThreadPoolExecutor(max_workers=AHEAD) as pool:
        # The openings are asked for now, while the ranges are checked: the
        # source's time (a remote service's) and the checking overlap.
        top = max(c.tree_size for c in inside)  # report.end, unless the history is inconsistent
        openings = _Prefetch(pool, source, list(_chunks(report.start, top, OPEN_CHUNK)))
        proven = _check_ranges(source, inside, report)
        _open(openings, proven, report, progress)
    if report.withheld and entity is None:
        report.findings.append(
            PeriodFinding(
                "withheld",
                f"the service withheld the openings of {len(report.withheld)} leaves: "
                f"{indices(report.withheld)}",
                leaves=tuple(report.withheld[:SHOWN]),
            )
        )
    return report


def _check_ranges(
    source: LogSource, inside: Sequence[ChainCheckpoint], report: PeriodReport
) -> list[tuple[int, list[bytes]]]:
    """Range-check the leaves up to each checkpoint of the period in turn: the
    (first index, leaves) of each range that checks."""
    compact = _base_range(source, report)
    proven: list[tuple[int, list[bytes]]] = []
    size = report.start
    for checkpoint in inside:
        count = checkpoint.tree_size - size
        if count <= 0:
            report.findings.append(
                PeriodFinding(
                    "inconsistent_history",
                    f"checkpoint {checkpoint.seq} has {checkpoint.tree_size} leaves, not more "
                    f"than the {size} before it",
                    seq=checkpoint.seq,
                )
            )
            continue
        leaves: list[bytes] | None = None
        if compact is not None:
            leaves, compact = _range_check(source, compact, size, checkpoint, report)
        if leaves is None:
            report.unproven += count
            compact = _anchored_range(source, checkpoint, report)
        else:
            proven.append((size, leaves))
        size = checkpoint.tree_size
    return proven


def _check_listing(
    source: LogSource,
    on_chain: Sequence[ChainCheckpoint],
    inside: Sequence[ChainCheckpoint],
    report: PeriodReport,
) -> None:
    """The source's list of checkpoints must be the chain's: none invented, none hidden."""
    by_seq = {c.seq: c for c in on_chain}
    listed: set[int] = set()
    for item in source.checkpoints():
        listed.add(item.seq)
        held = by_seq.get(item.seq)
        if held is None or (held.tree_size, held.root.hex()) != (item.tree_size, item.root):
            report.findings.append(
                PeriodFinding(
                    "checkpoint_not_on_chain",
                    f"checkpoint {item.seq} (size {item.tree_size}, root {item.root}) as the "
                    "service lists it is not what the chain holds"
                    + (
                        ""
                        if held is None
                        else f" (the chain: size {held.tree_size}, root {held.root.hex()})"
                    ),
                    seq=item.seq,
                )
            )
    for checkpoint in inside:
        if checkpoint.seq not in listed:
            report.findings.append(
                PeriodFinding(
                    "checkpoint_hidden",
                    f"checkpoint {checkpoint.seq} (size {checkpoint.tree_size}) is on the chain "
                    "but the service does not list it",
                    seq=checkpoint.seq,
                )
            )


def _base_range(source: LogSource, report: PeriodReport) -> list[bytes] | None:
    """The compact range at the period's start, checked against the anchored root."""
    if report.base is None:
        return []
    return _anchored_range(source, report.base, report)


def _anchored_range(
    source: LogSource, checkpoint: ChainCheckpoint, report: PeriodReport
) -> list[bytes] | None:
    """The compact range at ``checkpoint``, once it folds to the anchored root; None,
    with a finding, when it does not. Also where a period starts again after a failed
    range."""
    try:
        compact = source.compact_range(checkpoint.tree_size)
        merkle.verify_range(compact, checkpoint.tree_size, [], checkpoint.root)
    except VerificationError as exc:
        report.findings.append(
            PeriodFinding(
                "compact_range_mismatch",
                f"checkpoint {checkpoint.seq}: the compact range at size "
                f"{checkpoint.tree_size} does not fold to the anchored root "
                f"{checkpoint.root.hex()}: {exc}",
                seq=checkpoint.seq,
            )
        )
        return None
    return compact


def _range_check(
    source: LogSource,
    compact: list[bytes],
    size: int,
    checkpoint: ChainCheckpoint,
    report: PeriodReport,
) -> tuple[list[bytes] | None, list[bytes] | None]:
    """The leaves [size, checkpoint size), range-checked to the anchored root, and the
    compact range after them; (None, None) with a finding when they do not check."""
    leaves: list[bytes] = []
    try:
        for a, b in _chunks(size, checkpoint.tree_size):
            chunk = source.leaves(a, b)
            if len(chunk) != b - a:
                raise VerificationError(f"asked for leaves {a}..{b}, got {len(chunk)} hashes")
            leaves += chunk
        extended = merkle.extend_compact_range(compact, size, leaves)
        calculated = merkle.fold_compact_range(extended)
        if not hmac.compare_digest(calculated, checkpoint.root):
            raise VerificationError(f"they give root {calculated.hex()}")
    except VerificationError as exc:
        report.findings.append(
            PeriodFinding(
                "range_mismatch",
                f"checkpoint {checkpoint.seq}: leaves {size}..{checkpoint.tree_size} as the "
                f"service gives them are not the log's (anchored root "
                f"{checkpoint.root.hex()}): {exc}",
                seq=checkpoint.seq,
            )
        )
        return None, None
    return leaves, extended


class _Prefetch:
    """The openings of consecutive chunks, asked for ``AHEAD`` at a time, in order."""

    def __init__(
        self, pool: ThreadPoolExecutor, source: LogSource, chunks: list[tuple[int, int]]
    ) -> None:
        self.pool, self.source, self.chunks = pool, source, chunks
        self.pending: deque[Future[list[Mapping[str, Any]]]] = deque()
        self.asked = 0
        while self.asked < min(AHEAD, len(chunks)):
            self._ask()

    def _ask(self) -> None:
        a, b = self.chunks[self.asked]
        self.pending.append(self.pool.submit(self.source.entries, a, b))
        self.asked += 1

    def __iter__(self) -> Iterator[tuple[int, int, Sequence[Mapping[str, Any]]]]:
        for a, b in self.chunks:
            answer = self.pending.popleft().result()
            if self.asked < len(self.chunks):
                self._ask()
            yield a, b, answer


def _open(
    openings: _Prefetch,
    proven: Sequence[tuple[int, list[bytes]]],
    report: PeriodReport,
    progress: Progress | None,
) -> None:
    """Open each range-checked leaf with the source's opening, recomputed here (the
    openings of leaves whose range did not check are not looked at)."""
    total = sum(len(leaves) for _, leaves in proven)
    done = 0
    for a, b, answer in openings:
        for start, leaves in proven:
            lo, hi = max(a, start), min(b, start + len(leaves))
            if lo >= hi:
                continue
            _check_openings(answer, lo, hi, leaves[lo - start : hi - start], report)
            done += hi - lo
            if progress is not None:
                progress(done, total)


def _check_openings(
    answer: Sequence[Mapping[str, Any]],
    a: int,
    b: int,
    leaves: Sequence[bytes],
    report: PeriodReport,
) -> None:
    by_index: dict[int, Mapping[str, Any]] = {}
    for entry in answer:
        index = entry.get("index")
        if type(index) is int and a <= index < b and index not in by_index:
            by_index[index] = entry
    for index in range(a, b):
        found = by_index.get(index)
        if found is None or found.get("withheld") is True:
            report.withheld.append(index)
            continue
        leaf = leaves[index - a]
        reason = None if opens(found, leaf) else opening_problem(found, leaf)
        if reason is not None:
            report.mismatched.append(index)
            report.findings.append(
                PeriodFinding(
                    "opening_mismatch",
                    f"leaf {index}: the service's opening {reason}",
                    leaves=(index,),
                )
            )
            continue
        report.opened += 1
        _count(found, index, report)


def opens(entry: Mapping[str, Any], leaf: bytes) -> bool:
    """Whether ``entry`` opens ``leaf``, checked the fast way.

    True only where :func:`opening_problem` finds no problem; False says
    nothing more, and that function then names the problem.
    """
    data = hashing.hex64_concat(
        entry.get("salt"), entry.get("sha256"), entry.get("metadata_sha256")
    )
    if data is None or hashing.leaf_hash(data) != leaf:
        return False
    metadata = entry.get("metadata")
    if type(metadata) is not dict:
        return False
    try:
        return hashing.metadata_digest(metadata) == data[2 * hashing.DIGEST_SIZE :]
    except DocAnchorError:
        return False


def opening_problem(entry: Mapping[str, Any], leaf: bytes) -> str | None:
    """Why ``entry`` does not open ``leaf`` (receipt-v1 section 3), or None when it does."""
    try:
        salt = hashing.parse_hex64(entry.get("salt"), "salt")
        sha256 = hashing.parse_hex64(entry.get("sha256"), "sha256")
        metadata_sha256 = hashing.parse_hex64(entry.get("metadata_sha256"), "metadata_sha256")
        metadata = entry.get("metadata")
        if not isinstance(metadata, Mapping):
            return "has no metadata object"
        digest = hashing.metadata_digest(metadata)
    except DocAnchorError as exc:
        return f"is malformed: {exc}"
    if digest != metadata_sha256:
        return f"has metadata that hash to {digest.hex()}, not {metadata_sha256.hex()}"
    calculated = hashing.document_leaf_hash(salt, sha256, metadata_sha256)
    if calculated != leaf:
        return f"hashes to leaf {calculated.hex()}, not the log's {leaf.hex()}"
    return None


def _count(entry: Mapping[str, Any], index: int, report: PeriodReport) -> None:
    metadata: Mapping[str, Any] = entry["metadata"]
    ruc = metadata.get("entity_ruc")
    ruc = ruc if isinstance(ruc, str) else ""
    if report.entity is not None and ruc != report.entity:
        return
    kind = metadata.get("type")
    kind = kind if isinstance(kind, str) else ""
    tally = report.entities.get(ruc)
    if tally is None:
        tally = report.entities[ruc] = {"registrations": 0, "by_type": {}}
    tally["registrations"] += 1
    by_type = tally["by_type"]
    by_type[kind] = by_type.get(kind, 0) + 1
    report.registrations.append({"index": index, "sha256": entry["sha256"], "metadata": metadata})


__all__ = [
    "AnchorChain",
    "ChainCheckpoint",
    "ListedCheckpoint",
    "LogSource",
    "PeriodFinding",
    "PeriodReport",
    "audit_period",
    "chain_checkpoints",
    "indices",
    "opening_problem",
    "opens",
]

"""The audits: the log's history and the database against the chain, and a period's
record (log-v1 section 4) of this database or of a remote service.

The service fetches; the pure core (``docanchor.merkle``, ``docanchor.audit``)
checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from docanchor import merkle
from docanchor.audit import ListedCheckpoint, PeriodReport, Progress, audit_period
from docanchor.errors import StoreError, VerificationError
from docanchor.merkle import verify_consistency
from docanchor.onchain import AnchoredEvent
from docanchor.receipt import TrustedDeployment
from docanchor.service.anchoring import Anchoring
from docanchor.service.leaves import leaf_hashes_of_rows, root_of_rows
from docanchor.service.log import LogReads
from docanchor.service.ports import AuditorChain, RemoteLogSource
from docanchor.service.records import Checkpoint, SealedBatch
from docanchor.vocabulary import BatchStatus


@dataclass
class AuditFinding:
    kind: str  # "missing_on_chain", "unknown_on_chain", "root_mismatch", "record_mismatch"
    detail: str
    batch_id: int | None = None
    root: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "batch_id": self.batch_id,
            "root": self.root,
        }


@dataclass
class AuditReport:
    events: int = 0
    batches_checked: int = 0
    findings: list[AuditFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "batches_checked": self.batches_checked,
            "findings": [f.to_json() for f in self.findings],
        }


class Audits(Anchoring, LogReads):
    """The audits over this database and the chain."""

    def verify_log(self, *, from_block: int = 0) -> AuditReport:
        """Check, from the chain's ``Anchored`` events and the log's public proofs, that
        every anchored checkpoint is the log's root at its size and extends the one before.
        """
        self.check_contract()
        events = sorted(self.chain.scan_anchored(from_block), key=lambda e: e.seq)
        report = AuditReport(events=len(events))
        report.findings += self._history_findings(events)
        return report

    def audit_period(
        self,
        start_time: datetime,
        end_time: datetime,
        *,
        entity: str | None = None,
        progress: Progress | None = None,
    ) -> PeriodReport:
        """The period audit of log-v1 section 4 over this database's log and the chain."""
        self.check_contract()
        return audit_period(
            chain=self.chain,
            source=LocalLogSource(self),
            start_time=start_time,
            end_time=end_time,
            entity=entity,
            progress=progress,
        )

    def _history_findings(self, events: Sequence[AnchoredEvent]) -> list[AuditFinding]:
        findings: list[AuditFinding] = []
        previous: AnchoredEvent | None = None
        with self.store.log_nodes() as node:
            for event in events:
                root_hex = event.root.hex()
                try:
                    found = merkle.fold_compact_range(merkle.compact_range(event.tree_size, node))
                except StoreError as exc:
                    findings.append(
                        AuditFinding(
                            "log_too_short",
                            f"checkpoint {event.seq} (size {event.tree_size}) is beyond the "
                            f"stored log: {exc}",
                            root=root_hex,
                        )
                    )
                    previous = event
                    continue
                if found != event.root:
                    findings.append(
                        AuditFinding(
                            "compact_range_mismatch",
                            f"checkpoint {event.seq}: the log's compact range at size "
                            f"{event.tree_size} folds to {found.hex()}, not the anchored root "
                            f"{root_hex}",
                            root=root_hex,
                        )
                    )
                if previous is not None:
                    detail = None
                    if event.tree_size <= previous.tree_size:
                        detail = (
                            f"checkpoint {event.seq} has {event.tree_size} leaves, not more "
                            f"than checkpoint {previous.seq}'s {previous.tree_size}"
                        )
                    else:
                        proof = merkle.log_consistency_proof(
                            previous.tree_size, event.tree_size, node
                        )
                        try:
                            verify_consistency(
                                previous.tree_size,
                                event.tree_size,
                                proof,
                                previous.root,
                                event.root,
                            )
                        except VerificationError as exc:
                            detail = (
                                f"checkpoint {event.seq} (size {event.tree_size}) does not "
                                f"extend checkpoint {previous.seq} (size {previous.tree_size}): "
                                f"{exc}"
                            )
                    if detail is not None:
                        findings.append(AuditFinding("inconsistent_history", detail, root=root_hex))
                previous = event
        return findings

    def audit(self, *, from_block: int = 0) -> AuditReport:
        """Match every ``Anchored`` event with the database, check that every checkpoint
        extends the one before, and recompute every root from the stored documents."""
        chain = self.chain
        self.check_contract()
        report = AuditReport()
        events = sorted(chain.scan_anchored(from_block), key=lambda e: e.seq)
        report.events = len(events)
        report.findings += self._history_findings(events)
        by_root = {e.root.hex(): e for e in events}
        batches = self.store.batches()
        known_roots = set()
        for batch in batches:
            report.batches_checked += 1
            if batch.root is None:
                continue
            known_roots.add(batch.root)
            sealed = SealedBatch.of(batch)
            checkpoint = Checkpoint.of(batch)
            if checkpoint is not None:
                # Range check: the documents' leaves appended to the compact range
                # before the batch must give the checkpoint's root.
                with self.store.log_nodes() as node:
                    before = merkle.compact_range(checkpoint.first_index, node)
                recomputed = merkle.root_from_range(
                    before,
                    checkpoint.first_index,
                    leaf_hashes_of_rows(self.store.iter_batch_leaves(sealed.id)),
                )
            else:
                recomputed = root_of_rows(self.store.iter_batch_leaves(sealed.id))
            if recomputed.hex() != batch.root:
                report.findings.append(
                    AuditFinding(
                        "root_mismatch",
                        f"batch {batch.id}: its stored documents give root {recomputed.hex()}, "
                        f"not its recorded root {batch.root}",
                        batch.id,
                        batch.root,
                    )
                )
            if batch.status in (BatchStatus.ANCHORED, BatchStatus.CONFIRMED) and self._ours(batch):
                event = by_root.get(batch.root)
                if event is None:
                    if (batch.block_number or 0) >= from_block:
                        report.findings.append(
                            AuditFinding(
                                "missing_on_chain",
                                f"batch {batch.id} is recorded as {batch.status} at block "
                                f"{batch.block_number}, but the chain has no Anchored event "
                                "for its root",
                                batch.id,
                                batch.root,
                            )
                        )
                    continue
                mismatches = [
                    name
                    for name, ours, theirs in (
                        ("seq", batch.seq, event.seq),
                        ("tree size", batch.tree_size or batch.size, event.tree_size),
                        ("block number", batch.block_number, event.block_number),
                        ("transaction", (batch.tx_hash or "").lower(), event.tx_hash.lower()),
                    )
                    if ours != theirs
                ]
                if mismatches:
                    report.findings.append(
                        AuditFinding(
                            "record_mismatch",
                            f"batch {batch.id}: {', '.join(mismatches)} differ from the chain",
                            batch.id,
                            batch.root,
                        )
                    )
        for root_hex, event in by_root.items():
            if root_hex not in known_roots:
                report.findings.append(
                    AuditFinding(
                        "unknown_on_chain",
                        f"the chain holds root {root_hex} (seq {event.seq}, block "
                        f"{event.block_number}) that no batch in this database has",
                        None,
                        root_hex,
                    )
                )
        return report


class LocalLogSource:
    """The period audit's view of this database's log (see :mod:`docanchor.audit`)."""

    def __init__(self, service: LogReads) -> None:
        self.service = service

    def checkpoints(self) -> list[ListedCheckpoint]:
        return [
            ListedCheckpoint(b.seq, b.tree_size, b.root, b.block_number)
            for b in self.service.store.checkpoints()
            if b.seq is not None and b.tree_size is not None and b.root is not None
        ]

    def compact_range(self, size: int) -> list[bytes]:
        return self.service.compact_range(size)

    def leaves(self, start: int, end: int) -> list[bytes]:
        return self.service.log_leaves(start, end)

    def entries(self, start: int, end: int) -> list[Mapping[str, Any]]:
        return list(self.service.log_entries(start, end))


def audit_remote_period(
    chain: AuditorChain,
    source: RemoteLogSource,
    start_time: datetime,
    end_time: datetime,
    *,
    trusted: frozenset[TrustedDeployment],
    entity: str | None = None,
    progress: Progress | None = None,
) -> PeriodReport:
    """The period audit of log-v1 section 4 of another service's log (``source``),
    trusting only ``chain`` (the auditor's own node) and ``trusted`` (the deployments
    the auditor's settings trust on that node's chain).

    The contract the service claims to anchor in is read only once it is one of
    ``trusted``, on the node's chain, holding code; anything else refuses the audit
    before it starts."""
    claimed = source.current_deployment()
    if claimed.chain_id != chain.chain_id:
        raise VerificationError(
            f"the service anchors on chain {claimed.chain_id} ({claimed.address}), but the "
            f"node at --rpc-url is on chain {chain.chain_id}: point --rpc-url at a node of "
            f"chain {claimed.chain_id}"
        )
    if claimed not in trusted:
        raise VerificationError(
            f"the service anchors in {claimed.address} on chain {claimed.chain_id}, which "
            "is not a trusted deployment (trusted: "
            + (", ".join(sorted(f"{d.chain_id}:{d.address}" for d in trusted)) or "none")
            + "); add it to DOCANCHOR_TRUSTED_CONTRACTS only if you trust it"
        )
    chain.use_contract(claimed.address)
    chain.check_contract()
    return audit_period(
        chain=chain,
        source=source,
        start_time=start_time,
        end_time=end_time,
        entity=entity,
        progress=progress,
    )

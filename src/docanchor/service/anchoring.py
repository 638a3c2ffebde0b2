"""Sealing, the transaction manager, confirmations and reorganisations.

Anchoring is write-ahead: a batch holds its root and size before any
transaction exists, and the transaction hash is stored before the
transaction is broadcast. Every pass starts by asking the chain what it
already holds (``getAnchor(root)``), so a crash at any point is recovered by
running the pass again, and a root is never anchored twice (the contract
refuses a second anchor of a root, too).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from docanchor import merkle
from docanchor.errors import (
    ChainError,
    ContractRevertError,
    FeeCapError,
    NonceTooLowError,
    UnderpricedError,
)
from docanchor.onchain import MinedAnchor, OnChainRecord
from docanchor.service.base import ServiceBase
from docanchor.service.leaves import leaf_hashes_of_stored
from docanchor.service.records import AnchoredBatch, BatchRecord, Checkpoint, SealedBatch
from docanchor.store import Batch
from docanchor.vocabulary import BatchAction, BatchStatus, parse_utc_text, utc_text

ANCHOR_LOCK = "anchoring"
# What a pass reports for a batch whose transaction it is still waiting for.
_IDLE_ACTIONS: Final = frozenset({BatchAction.PENDING, BatchAction.WAITING, BatchAction.SENT})


@dataclass(frozen=True)
class WaitProgress:
    """Where ``wait_until_confirmed`` stands after one round."""

    waiting: int
    confirmations: int | None  # the fewest among anchored batches; None when none is
    required: int
    head: int
    waited: float


@dataclass(frozen=True)
class BatchReport:
    """What a pass did to one batch, and the batch's record after it."""

    batch: BatchRecord
    action: BatchAction


def _report(batch: Batch, action: BatchAction) -> BatchReport:
    return BatchReport(BatchRecord.of(batch), action)


def tx_log_of(batch: Batch) -> list[dict[str, Any]]:
    """The batch's transaction log (attempts and reorganisations), oldest first."""
    if not batch.tx_log:
        return []
    try:
        entries = json.loads(batch.tx_log)
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _since_last_reorg(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attempts after the last reorganisation: the ones before it lost their anchor."""
    reorgs = [i for i, e in enumerate(entries) if e.get("kind") == "reorg"]
    return entries[reorgs[-1] + 1 :] if reorgs else entries


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_utc_text(text)
    except ValueError:
        return None


class Anchoring(ServiceBase):
    """Sealing, anchoring and confirming batches."""

    def seal(self, *, now: datetime | None = None) -> BatchRecord | None:
        """Seal all pending documents, up to ``batch_max``, into one batch (None when
        nothing is pending)."""
        batch = self.store.seal_pending(
            limit=self.batch_max, now=now or self.clock.now(), leaf_hashes_of=leaf_hashes_of_stored
        )
        return None if batch is None else BatchRecord.of(batch)

    def seal_all(self, *, now: datetime | None = None) -> list[BatchRecord]:
        sealed: list[BatchRecord] = []
        while (batch := self.seal(now=now)) is not None:
            sealed.append(batch)
        return sealed

    def check_contract(self) -> None:
        """Once per pass: the node still serves the chain, and the contract has code."""
        self.chain.verify_identity()
        self.chain.check_contract()

    def anchor_batch(self, batch: Batch, *, now: datetime | None = None) -> BatchReport:
        """Bring one sealed batch on chain, or adopt the anchor the chain already holds.

        The transaction manager: the chain is asked first whether the root is
        anchored (by any of the batch's transactions, or by another process);
        then whether one of the batch's transactions was mined. A transaction
        still pending is waited for at most ``tx_policy.pending_wait`` seconds;
        after ``bump_after`` seconds, or as soon as its max fee is under the
        base fee, it is replaced with the same nonce and higher fees. A
        transaction the node no longer knows (dropped) is signed again with
        its nonce; one whose nonce another transaction used is signed again
        with a fresh nonce. Every transaction is recorded in the batch's
        ``tx_log`` before it is broadcast, with the node's error if it had one.
        """
        chain = self.chain
        now = now or self.clock.now()  # one time for the whole decision
        sealed = SealedBatch.of(batch)
        batch_id = sealed.id
        root = sealed.root
        record = chain.get_anchor(root)
        if record is not None:
            return self._report_anchored(self._adopt(batch, record, now=now), BatchAction.ADOPTED)
        self._checkpoint_to_anchor(batch)
        sent = [e for e in _since_last_reorg(tx_log_of(batch)) if e.get("tx_hash")]
        if batch.tx_hash and not any(e["tx_hash"] == batch.tx_hash for e in sent):
            # Sent before this log existed (or by a process that crashed): no nonce known.
            sent.append({"kind": "sent", "tx_hash": batch.tx_hash, "nonce": None, "fees": {}})
        if not sent:
            return self._send(batch, kind="sent", now=now)
        hashes = [str(e["tx_hash"]) for e in sent]
        mined = self._mined_among(hashes, wait=self.tx_policy.pending_wait)
        if mined is not None:
            return self._report_anchored(self._await(batch, mined, now=now), BatchAction.ANCHORED)
        last = sent[-1]
        nonce = last.get("nonce") if isinstance(last.get("nonce"), int) else None
        fees = {str(k): int(v) for k, v in dict(last.get("fees") or {}).items()}
        if chain.transaction_known(str(last["tx_hash"])):
            base_fee = chain.base_fee()
            underpriced = base_fee is not None and fees.get("maxFeePerGas", base_fee) < base_fee
            sent_at = _parse_iso(last.get("at"))
            age = None if sent_at is None else ((now or self.clock.now()) - sent_at).total_seconds()
            due = age is None or age >= self.tx_policy.bump_after
            if nonce is None or not (underpriced or due):
                waited = "" if age is None else f" for {age:.0f} s"
                batch = self.store.update_batch(
                    batch_id,
                    last_error=f"transaction {last['tx_hash']} is pending{waited}; "
                    "the next pass checks it again",
                )
                return _report(batch, BatchAction.PENDING)
            if len(sent) >= self.tx_policy.max_attempts:
                batch = self.store.update_batch(
                    batch_id,
                    last_error=f"transaction {last['tx_hash']} is still pending after "
                    f"{len(sent)} transactions (DOCANCHOR_TX_MAX_ATTEMPTS); no more fee bumps, "
                    "the next pass checks it again",
                )
                return _report(batch, BatchAction.PENDING)
            return self._send(
                batch, kind="bump", nonce=nonce, fee_floor=self._bumped(fees), now=now
            )
        # The node does not know the transaction and it was not mined.
        if nonce is not None and chain.account_nonce() <= nonce:
            # Dropped from the pool: signed again with its nonce (byte for byte the same
            # transaction unless the fees rose since).
            return self._send(batch, kind="resent", nonce=nonce, fee_floor=fees, now=now)
        # Its nonce was used by another transaction of the account (a replacement sent
        # by someone else) or it never reached the node: a fresh nonce.
        return self._send(batch, kind="renonce", now=now)

    def _bumped(self, fees: Mapping[str, int]) -> dict[str, int]:
        factor = 100 + self.tx_policy.bump_percent
        return {k: (v * factor + 99) // 100 for k, v in fees.items()}

    def _mined_among(self, hashes: Sequence[str], *, wait: float) -> str | None:
        """The first of ``hashes`` that is mined, polling up to ``wait`` seconds."""
        deadline = self.clock.monotonic() + wait
        delay = 0.05
        while True:
            for tx_hash in reversed(hashes):
                if self.chain.transaction_receipt(tx_hash) is not None:
                    return tx_hash
            if self.clock.monotonic() >= deadline:
                return None
            self.clock.sleep(min(delay, max(0.0, deadline - self.clock.monotonic())))
            delay = min(delay * 2, 1.0)

    def _log_attempt(self, batch: Batch, entry: dict[str, Any], **fields: Any) -> Batch:
        batch_id = SealedBatch.of(batch).id
        entries = tx_log_of(batch)
        entries.append(entry)
        return self.store.update_batch(batch_id, tx_log=json.dumps(entries), **fields)

    def _set_attempt_error(self, batch: Batch, tx_hash: str, error: str) -> Batch:
        batch_id = SealedBatch.of(batch).id
        entries = tx_log_of(batch)
        for entry in entries:
            if entry.get("tx_hash") == tx_hash:
                entry["error"] = error[:500]
        return self.store.update_batch(
            batch_id, tx_log=json.dumps(entries), last_error=error[:1000]
        )

    def _send(
        self,
        batch: Batch,
        *,
        kind: str,
        nonce: int | None = None,
        fee_floor: dict[str, int] | None = None,
        now: datetime | None = None,
    ) -> BatchReport:
        """Sign, record (write-ahead), broadcast, then wait briefly for the transaction."""
        chain = self.chain
        checkpoint = self._checkpoint_to_anchor(batch)
        batch_id, tree_size = checkpoint.batch_id, checkpoint.tree_size
        root = checkpoint.root
        shortfall = chain.fee_cap_shortfall()
        if shortfall is not None:
            base_fee, cap = shortfall
            batch = self.store.update_batch(
                batch_id,
                last_error=f"waiting for the base fee ({base_fee / 1e9:g} gwei) to fall under "
                f"DOCANCHOR_MAX_FEE_GWEI ({cap / 1e9:g} gwei); nothing was sent, the next "
                "pass tries again",
            )
            return _report(batch, BatchAction.WAITING)
        for _ in range(3):
            try:
                prepared = chain.prepare_anchor(
                    root,
                    tree_size,
                    self._consistency_for(checkpoint),
                    nonce=nonce,
                    fee_floor=fee_floor,
                )
            except FeeCapError as exc:
                batch = self.store.update_batch(batch_id, last_error=str(exc)[:1000])
                return _report(batch, BatchAction.WAITING)
            sent_at = now or self.clock.now()
            entry = {
                "kind": kind,
                "tx_hash": prepared.tx_hash,
                "nonce": prepared.nonce,
                "fees": dict(prepared.fees),
                "at": utc_text(sent_at),
                "error": None,
            }
            # A transaction sent again after a reorganisation is a new attempt, even when
            # its bytes equal the lost one's (same nonce and fees).
            known = any(
                e.get("tx_hash") == prepared.tx_hash for e in _since_last_reorg(tx_log_of(batch))
            )
            fields: dict[str, Any] = {
                "tx_hash": prepared.tx_hash,
                "tx_sent_at": sent_at,
                "anchor_attempts": batch.anchor_attempts + 1,
                "chain_id": chain.chain_id,
                "contract": chain.contract_address,
                "last_error": None,
            }
            if known:  # the same bytes again (a dropped transaction, unchanged fees)
                batch = self.store.update_batch(batch_id, **fields)
            else:
                batch = self._log_attempt(batch, entry, **fields)
            try:
                chain.broadcast(prepared)
            except NonceTooLowError as exc:
                batch = self._set_attempt_error(batch, prepared.tx_hash, str(exc))
                # Another transaction used the nonce: maybe one of ours that anchored the root.
                record = chain.get_anchor(root)
                if record is not None:
                    return self._report_anchored(
                        self._adopt(batch, record, now=now), BatchAction.ADOPTED
                    )
                hashes = [str(e["tx_hash"]) for e in tx_log_of(batch) if e.get("tx_hash")]
                mined = self._mined_among(hashes, wait=0)
                if mined is not None:
                    return self._report_anchored(
                        self._await(batch, mined, now=now), BatchAction.ANCHORED
                    )
                nonce, kind = None, "renonce"
                continue
            except UnderpricedError as exc:
                # Recorded; the next pass bumps from these fees.
                batch = self._set_attempt_error(batch, prepared.tx_hash, str(exc))
                return _report(batch, BatchAction.PENDING)
            except ContractRevertError as exc:
                if exc.error_name == "RootAlreadyAnchored":
                    record = chain.get_anchor(root)
                    if record is not None:
                        return self._report_anchored(
                            self._adopt(batch, record, now=now), BatchAction.ADOPTED
                        )
                self._set_attempt_error(batch, prepared.tx_hash, str(exc))
                raise
            except ChainError as exc:
                self._set_attempt_error(batch, prepared.tx_hash, str(exc))
                raise
            hashes = [str(e["tx_hash"]) for e in tx_log_of(batch) if e.get("tx_hash")]
            mined = self._mined_among(hashes, wait=self.tx_policy.pending_wait)
            if mined is not None:
                return self._report_anchored(
                    self._await(batch, mined, now=now), BatchAction.ANCHORED
                )
            return _report(batch, BatchAction.SENT)
        raise ChainError(
            f"batch {batch.id}: the node answered 'nonce too low' three times in a row; "
            "another sender keeps using the anchoring account. The next pass tries again"
        )

    def _report_anchored(self, batch: Batch, action: BatchAction) -> BatchReport:
        """``action``, or "reanchored" when the batch's earlier anchor left the chain."""
        if any(e.get("kind") == "reorg" for e in tx_log_of(batch)):
            return _report(batch, BatchAction.REANCHORED)
        return _report(batch, action)

    def _checkpoint_to_anchor(self, batch: Batch) -> Checkpoint:
        """The checkpoint ``batch`` is; a version 1 batch cannot be anchored any more."""
        checkpoint = Checkpoint.of(batch)
        if checkpoint is None:
            raise ChainError(
                f"batch {batch.id} is a version 1 batch, not a checkpoint of the log; "
                "the version 2 contract cannot anchor it"
            )
        return checkpoint

    def _consistency_for(self, checkpoint: Checkpoint) -> list[bytes]:
        """The proof from the chain's latest checkpoint to this one (empty for the first).

        After a reorganisation this is the checkpoint before the lost one, so
        a checkpoint that left the chain is anchored again with a proof from
        its predecessor.
        """
        latest = self.chain.latest()
        if latest is None:
            return []
        if latest.tree_size >= checkpoint.tree_size:
            raise ChainError(
                f"batch {checkpoint.batch_id}: the chain's latest checkpoint has "
                f"{latest.tree_size} leaves, not fewer than this checkpoint's "
                f"{checkpoint.tree_size}; it can no longer be anchored"
            )
        ours = self.store.checkpoint_at(latest.tree_size)
        if ours is None or ours.root != latest.root.hex():
            raise ChainError(
                f"the chain's latest checkpoint (size {latest.tree_size}, root "
                f"{latest.root.hex()}) is not a checkpoint of this log"
            )
        with self.store.log_nodes() as node:
            return merkle.log_consistency_proof(latest.tree_size, checkpoint.tree_size, node)

    def _await(self, batch: Batch, tx_hash: str, *, now: datetime | None) -> Batch:
        sealed = SealedBatch.of(batch)
        try:
            mined = self.chain.wait_for_anchor(tx_hash, self.tx_timeout)
        except ContractRevertError as exc:
            record = self.chain.get_anchor(sealed.root)
            if record is not None:
                return self._adopt(batch, record, now=now)
            self.store.update_batch(sealed.id, last_error=str(exc)[:1000])
            raise
        return self._record_mined(batch, mined, now=now)

    def _record_mined(self, batch: Batch, mined: MinedAnchor, *, now: datetime | None) -> Batch:
        batch_id = SealedBatch.of(batch).id
        chain = self.chain
        return self.store.update_batch(
            batch_id,
            status=BatchStatus.ANCHORED,
            tx_hash=mined.tx_hash,
            seq=mined.seq,
            block_number=mined.block_number,
            block_hash=mined.block_hash,
            anchor_timestamp=mined.timestamp,
            anchorer=mined.anchorer,
            gas_used=mined.gas_used,
            chain_id=chain.chain_id,
            contract=chain.contract_address,
            anchored_at=now or self.clock.now(),
            confirmed_at=None,
            last_error=None,
        )

    def _adopt(self, batch: Batch, record: OnChainRecord, *, now: datetime | None) -> Batch:
        """Record an anchor found on chain (after a crash, or sent by another process)."""
        sealed = SealedBatch.of(batch)
        chain = self.chain
        expected_size = batch.tree_size if batch.tree_size is not None else batch.size
        if record.tree_size != expected_size:
            raise ChainError(
                f"batch {batch.id}: its root is anchored on chain with tree size "
                f"{record.tree_size}, but the batch's tree has {expected_size} leaves"
            )
        tx_hash = batch.tx_hash
        block_hash = chain.block_hash(record.block_number)
        for event in chain.scan_anchored(record.block_number, record.block_number):
            if event.root == sealed.root:
                tx_hash = event.tx_hash
                block_hash = event.block_hash
                break
        if block_hash is None or tx_hash is None:
            raise ChainError(
                f"batch {batch.id}: the chain holds its anchor at block {record.block_number}, "
                "but the node cannot show that block or its transaction"
            )
        return self.store.update_batch(
            sealed.id,
            status=BatchStatus.ANCHORED,
            tx_hash=tx_hash,
            seq=record.seq,
            block_number=record.block_number,
            block_hash=block_hash,
            anchor_timestamp=record.timestamp,
            anchorer=record.anchorer,
            chain_id=chain.chain_id,
            contract=chain.contract_address,
            anchored_at=batch.anchored_at or now or self.clock.now(),
            confirmed_at=None,
            last_error=None,
        )

    def anchor_all(self, *, now: datetime | None = None) -> list[BatchReport]:
        """Seal what is pending and anchor every sealed batch (the crash-recovery path too)."""
        self.check_contract()
        return self._anchor_all(now=now)

    def _anchor_all(self, *, now: datetime | None) -> list[BatchReport]:
        reports = [BatchReport(b, BatchAction.SEALED) for b in self.seal_all(now=now)]
        # Oldest first: the contract takes each checkpoint only after the one before.
        for batch in self.store.checkpoints():
            if batch.status == BatchStatus.SEALED:
                reports.append(self.anchor_batch(batch, now=now))
        return reports

    def confirm(self, *, now: datetime | None = None) -> list[BatchReport]:
        """Move anchored batches to confirmed, and catch reorganisations and resets.

        A batch whose anchoring block is no longer canonical goes back to
        ``sealed`` (unless the chain holds its root in another block, which is
        then recorded) and is anchored again with the same root.
        """
        self.check_contract()
        return self._confirm(now=now)

    def _confirm(self, *, now: datetime | None) -> list[BatchReport]:
        chain = self.chain
        head = chain.head_number()
        reports: list[BatchReport] = []
        # Batches anchored through another deployment (another chain or contract,
        # after a change of configuration) are that deployment's business: their
        # receipts stay valid there, and nothing here re-anchors them.
        to_check = [b for b in self.store.batches(statuses=[BatchStatus.ANCHORED]) if self._ours(b)]
        confirmed = [
            b for b in self.store.batches(statuses=[BatchStatus.CONFIRMED]) if self._ours(b)
        ]
        if confirmed and not self._still_on_chain(AnchoredBatch.of(confirmed[-1])):
            # The newest confirmed anchor is gone: re-examine every confirmed batch.
            to_check = confirmed + to_check
        for batch in to_check:
            anchored = AnchoredBatch.of(batch)
            if not self._still_on_chain(anchored):
                reports.append(self._handle_lost(batch, now=now))
                continue
            if (
                anchored.status == BatchStatus.ANCHORED
                and head - anchored.block_number + 1 >= self.confirmations
            ):
                batch = self.store.update_batch(
                    anchored.id, status=BatchStatus.CONFIRMED, confirmed_at=now or self.clock.now()
                )
                reports.append(_report(batch, BatchAction.CONFIRMED))
        return reports

    def _ours(self, batch: Batch) -> bool:
        chain = self.chain
        return batch.chain_id == chain.chain_id and (batch.contract or "").lower() == (
            chain.contract_address.lower()
        )

    def _still_on_chain(self, anchored: AnchoredBatch) -> bool:
        return self.chain.block_hash(anchored.block_number) == anchored.block_hash

    def _handle_lost(self, batch: Batch, *, now: datetime | None) -> BatchReport:
        sealed = SealedBatch.of(batch)
        record = self.chain.get_anchor(sealed.root)
        if record is not None:
            # Re-included in another block by the reorganisation.
            return _report(self._adopt(batch, record, now=now), BatchAction.MOVED)
        entries = tx_log_of(batch)
        entries.append(
            {
                "kind": "reorg",
                "at": utc_text(now or self.clock.now()),
                "lost_tx_hash": batch.tx_hash,
                "lost_block_number": batch.block_number,
                "lost_block_hash": batch.block_hash,
                "was": batch.status,
            }
        )
        batch = self.store.update_batch(
            sealed.id,
            tx_log=json.dumps(entries),
            status=BatchStatus.SEALED,
            tx_hash=None,
            seq=None,
            block_number=None,
            block_hash=None,
            anchor_timestamp=None,
            anchorer=None,
            gas_used=None,
            anchored_at=None,
            confirmed_at=None,
            last_error=f"a reorganisation took the anchor away (block {batch.block_number} "
            "is no longer on the chain); anchoring again",
        )
        return _report(batch, BatchAction.REANCHOR)

    def run_once(self, *, now: datetime | None = None) -> list[BatchReport]:
        """One pass: confirm (catching reorganisations), seal, anchor, confirm.

        The node's chain id and the contract's code are checked once, at the
        start of the pass, not before each of its steps.
        """
        self.check_contract()
        reports = self._confirm(now=now)
        reports += self._anchor_all(now=now)
        reports += self._confirm(now=now)
        return reports

    def wait_until_confirmed(
        self,
        *,
        timeout: float,
        poll: float = 1.0,
        on_progress: Callable[[WaitProgress], None] | None = None,
    ) -> list[BatchReport]:
        """Confirm (and anchor) until no batch is waiting, or raise ChainError at the deadline.

        Returns the reports of what happened meanwhile (re-anchorings after a
        reorganisation among them). ``on_progress`` hears, after each round,
        how many batches wait, the fewest confirmations among the anchored
        ones, the head and the seconds waited.
        """
        started = self.clock.monotonic()
        deadline = started + timeout
        reports: list[BatchReport] = []
        while True:
            reports += self.confirm()
            # A sealed checkpoint is anchored here; an anchored batch of another
            # deployment is never confirmed here, so it is not waited for.
            waiting = [
                b
                for b in self.store.batches(statuses=[BatchStatus.SEALED, BatchStatus.ANCHORED])
                if self._ours(b) or (b.in_log and b.status == BatchStatus.SEALED)
            ]
            head = self.chain.head_number()
            anchored = [b.block_number for b in waiting if b.block_number is not None]
            if on_progress is not None:
                on_progress(
                    WaitProgress(
                        waiting=len(waiting),
                        confirmations=min((head - n + 1 for n in anchored), default=None),
                        required=self.confirmations,
                        head=head,
                        waited=self.clock.monotonic() - started,
                    )
                )
            if not waiting:
                return reports
            if self.clock.monotonic() >= deadline:
                raise ChainError(
                    f"{len(waiting)} batch(es) still wait for {self.confirmations} confirmations "
                    f"after {timeout:.0f} s"
                )
            acted = False
            for batch in self.store.checkpoints():
                if batch.status == BatchStatus.SEALED:
                    report = self.anchor_batch(batch)
                    reports.append(report)
                    acted = acted or report.action not in _IDLE_ACTIONS
            if not acted:
                self.clock.sleep(max(0.0, min(poll, deadline - self.clock.monotonic())))

    def run_locked(
        self, *, ttl_seconds: float, now: datetime | None = None
    ) -> list[BatchReport] | None:
        """``run_once`` if this process holds the anchoring lease; None otherwise."""
        if not self.store.try_lock(
            ANCHOR_LOCK, self.holder, now=self.clock.now(), ttl_seconds=ttl_seconds
        ):
            return None
        return self.run_once(now=now)

    def release(self) -> None:
        self.store.unlock(ANCHOR_LOCK, self.holder)

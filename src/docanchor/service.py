"""The use cases: register, seal, anchor, confirm, receipts, look-ups, audit, verify.

Orchestrates the pure core with two adapters handed in as keyword arguments:
a :class:`~docanchor.store.Store` and a chain client (anything that fulfils
:class:`ChainPort`; ``docanchor.chain.ChainClient`` in production, a devnet in
tests). This module never imports web3 and never reads the environment.

Anchoring is write-ahead: a batch holds its root and size before any
transaction exists, and the transaction hash is stored before the
transaction is broadcast. Every pass starts by asking the chain what it
already holds (``getAnchor(root)``), so a crash at any point is recovered by
running the pass again, and a root is never anchored twice (the contract
refuses a second anchor of a root, too).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from docanchor import hashing
from docanchor.errors import (
    ChainError,
    ChainResetError,
    ContractRevertError,
    InputError,
    NotFoundError,
    VerificationError,
)
from docanchor.merkle import MerkleTree
from docanchor.receipt import (
    AnchorPart,
    BatchPart,
    DocumentPart,
    OnChainRecord,
    ProofPart,
    Receipt,
    ReceiptStatus,
    ReceiptVerification,
    evaluate_receipt,
)
from docanchor.store import Batch, DocumentView, NewRegistration, Store, utcnow

ZERO_ADDRESS = "0x" + "00" * 20
STATUS_RANK = {"not_found": 0, "pending": 1, "sealed": 2, "anchored": 3, "confirmed": 4}
ANCHOR_LOCK = "anchoring"


# --- what the service needs from a chain -----------------------------------------


class AnchorInfo(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def tree_size(self) -> int: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def block_number(self) -> int: ...

    @property
    def anchorer(self) -> str: ...


class MinedAnchor(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def tx_hash(self) -> str: ...

    @property
    def block_number(self) -> int: ...

    @property
    def block_hash(self) -> str: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def anchorer(self) -> str: ...

    @property
    def gas_used(self) -> int | None: ...


class AnchoredEventInfo(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def root(self) -> bytes: ...

    @property
    def tree_size(self) -> int: ...

    @property
    def anchorer(self) -> str: ...

    @property
    def tx_hash(self) -> str: ...

    @property
    def block_number(self) -> int: ...

    @property
    def block_hash(self) -> str: ...


class PreparedAnchor(Protocol):
    @property
    def tx_hash(self) -> str: ...


class ChainPort(Protocol):
    """The chain operations the service relies on (``docanchor.chain.ChainClient``)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def contract_address(self) -> str: ...

    def head_number(self) -> int: ...

    def block_hash(self, number: int) -> str | None: ...

    def contract_has_code(self) -> bool: ...

    def get_anchor(self, root: bytes) -> AnchorInfo | None: ...

    def prepare_anchor(
        self, root: bytes, tree_size: int, consistency: Sequence[bytes]
    ) -> PreparedAnchor: ...

    def broadcast(self, prepared: Any) -> str: ...

    def transaction_known(self, tx_hash: str) -> bool: ...

    def wait_for_anchor(self, tx_hash: str, timeout: float) -> MinedAnchor: ...

    def scan_anchored(
        self, from_block: int, to_block: int | None = None
    ) -> Sequence[AnchoredEventInfo]: ...


class ChainReader(Protocol):
    """What the trustless receipt check needs: any node, any contract address."""

    @property
    def chain_id(self) -> int: ...

    def head_number(self) -> int: ...

    def block_hash(self, number: int) -> str | None: ...

    def get_anchor_at(self, contract: str, root: bytes) -> AnchorInfo | None: ...


class Signer(Protocol):
    def sign(self, receipt_json: dict[str, Any]) -> dict[str, Any]: ...


# --- results -----------------------------------------------------------------


class Registration(NamedTuple):
    view: DocumentView
    created: bool


@dataclass(frozen=True)
class BatchReport:
    batch: Batch
    action: str  # "sealed", "sent", "anchored", "adopted", "confirmed", "reanchor", ...

    def to_json(self) -> dict[str, Any]:
        return batch_json(self.batch)


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


def batch_json(batch: Batch) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat().replace("+00:00", "Z")

    return {
        "id": batch.id,
        "size": batch.size,
        "root": batch.root,
        "status": batch.status,
        "seq": batch.seq,
        "tx_hash": batch.tx_hash,
        "block_number": batch.block_number,
        "block_hash": batch.block_hash,
        "timestamp": batch.anchor_timestamp,
        "chain_id": batch.chain_id,
        "contract": batch.contract,
        "anchorer": batch.anchorer,
        "gas_used": batch.gas_used,
        "sealed_at": iso(batch.sealed_at),
        "anchored_at": iso(batch.anchored_at),
        "confirmed_at": iso(batch.confirmed_at),
        "last_error": batch.last_error,
    }


def leaf_hash_of_row(salt_hex: str, sha256_hex: str, metadata_sha256_hex: str) -> bytes:
    return hashing.leaf_hash(bytes.fromhex(salt_hex + sha256_hex + metadata_sha256_hex))


def root_of_rows(rows: Iterable[tuple[str, str, str]]) -> bytes:
    return MerkleTree([leaf_hash_of_row(*r) for r in rows]).root


def metadata_for(
    metadata: Mapping[str, Any] | None, entity_ruc: str | None
) -> tuple[dict[str, Any], str]:
    """The metadata object to register and the registering entity.

    The entity is ``entity_ruc`` when given (and then must agree with any
    ``entity_ruc`` in the metadata, which it fills in when absent), else the
    metadata's ``entity_ruc``, else none (the empty string).
    """
    meta = dict(metadata or {})
    named = meta.get("entity_ruc")
    if named is not None and not isinstance(named, str):
        raise InputError("metadata entity_ruc must be a string")
    if entity_ruc:
        if named is not None and named != entity_ruc:
            raise InputError(
                f"metadata names entity {named}, but the registration is for entity {entity_ruc}"
            )
        meta["entity_ruc"] = entity_ruc
        return meta, entity_ruc
    return meta, named or ""


def _text_member(meta: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"metadata {key} must be a string")
    if len(value) > limit:
        raise InputError(f"metadata {key} is longer than {limit} characters")
    return value


class DocAnchorService:
    """docanchor's use cases over a store and (optionally) a chain."""

    def __init__(
        self,
        *,
        store: Store,
        chain: ChainPort | None = None,
        signer: Signer | None = None,
        confirmations: int = 1,
        batch_max: int = 1_000_000,
        tx_timeout: float = 120.0,
        tree_cache_size: int = 4,
    ) -> None:
        self.store = store
        self._chain = chain
        self.signer = signer
        self.confirmations = confirmations
        self.batch_max = batch_max
        self.tx_timeout = tx_timeout
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()
        self._tree_cache_size = tree_cache_size
        self._tree_lock = threading.Lock()
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{id(self):x}"

    @property
    def chain(self) -> ChainPort:
        if self._chain is None:
            raise ChainError("no blockchain node is configured for this operation")
        return self._chain

    # --- registration ------------------------------------------------------------

    def prepare_registrations(
        self,
        digests: Sequence[bytes],
        metadata: Mapping[str, Any] | None = None,
        *,
        entity_ruc: str | None = None,
    ) -> list[NewRegistration]:
        """Registrations of many documents sharing one metadata object, each with its own salt."""
        meta, entity = metadata_for(metadata, entity_ruc)
        canonical = hashing.canonical_metadata(meta)
        metadata_json = canonical.decode("utf-8")
        metadata_sha256 = hashing.sha256(canonical).hex()
        entity = _text_member({"entity_ruc": entity}, "entity_ruc", 32) or ""
        reference = _text_member(meta, "reference", 200)
        doc_type = _text_member(meta, "type", 100)
        # One call to the CSPRNG for the whole list: 32 fresh bytes per registration.
        salts = os.urandom(hashing.SALT_SIZE * len(digests)).hex()
        step = 2 * hashing.SALT_SIZE
        out: list[NewRegistration] = []
        append = out.append
        for n, digest in enumerate(digests):
            if len(digest) != hashing.DIGEST_SIZE:
                raise InputError("a document digest is 32 bytes (64 hex characters)")
            append(
                NewRegistration(
                    digest.hex(),
                    salts[n * step : (n + 1) * step],
                    metadata_json,
                    metadata_sha256,
                    entity,
                    reference,
                    doc_type,
                )
            )
        return out

    def prepare_registration(
        self,
        sha256: bytes,
        metadata: Mapping[str, Any] | None = None,
        *,
        entity_ruc: str | None = None,
    ) -> NewRegistration:
        return self.prepare_registrations([sha256], metadata, entity_ruc=entity_ruc)[0]

    def register(
        self,
        sha256: bytes,
        metadata: Mapping[str, Any] | None = None,
        *,
        entity_ruc: str | None = None,
    ) -> Registration:
        return self.register_many(
            [self.prepare_registration(sha256, metadata, entity_ruc=entity_ruc)]
        )[0]

    def register_many(
        self, items: Sequence[NewRegistration], *, now: datetime | None = None
    ) -> list[Registration]:
        results = self.store.register(items, now=now)
        return [Registration(DocumentView(doc, None), created) for doc, created in results]

    # --- look-ups ----------------------------------------------------------------

    def lookup(self, sha256: bytes) -> list[DocumentView]:
        return self.store.by_sha256(sha256.hex())

    def versions(self, reference: str, entity_ruc: str | None = None) -> list[DocumentView]:
        return self.store.by_reference(reference, entity_ruc)

    @staticmethod
    def best_status(views: Sequence[DocumentView]) -> str:
        best = "not_found"
        for view in views:
            if STATUS_RANK[view.status] > STATUS_RANK[best]:
                best = view.status
        return best

    # --- receipts ---------------------------------------------------------------

    def tree_for(self, batch: Batch) -> MerkleTree:
        """The batch's tree, rebuilt from its stored rows (cached, checked against its root)."""
        assert batch.id is not None
        with self._tree_lock:
            tree = self._trees.get(batch.id)
            if tree is not None:
                self._trees.move_to_end(batch.id)
                return tree
        rows = self.store.iter_batch_leaves(batch.id)
        tree = MerkleTree([leaf_hash_of_row(*r) for r in rows])
        if batch.root is None or tree.root.hex() != batch.root:
            raise VerificationError(
                f"batch {batch.id}: the documents stored for it no longer give its root "
                f"{batch.root}; the database was altered (run docanchor audit)"
            )
        with self._tree_lock:
            self._trees[batch.id] = tree
            while len(self._trees) > self._tree_cache_size:
                self._trees.popitem(last=False)
        return tree

    def receipt(self, view: DocumentView) -> Receipt:
        doc = view.document
        batch = view.batch
        metadata = json.loads(doc.metadata_json)
        document = DocumentPart(
            sha256=bytes.fromhex(doc.sha256),
            salt=bytes.fromhex(doc.salt),
            metadata_sha256=bytes.fromhex(doc.metadata_sha256),
            metadata=metadata,
        )
        if batch is None or batch.root is None or doc.leaf_index is None:
            return Receipt(ReceiptStatus.PENDING, document, None, None, None, {})
        tree = self.tree_for(batch)
        assert batch.id is not None
        proof = ProofPart(doc.leaf_index, tree.size, tuple(tree.inclusion_proof(doc.leaf_index)))
        batch_part = BatchPart(batch.id, bytes.fromhex(batch.root))
        if batch.status in ("anchored", "confirmed"):
            assert batch.chain_id is not None and batch.contract is not None
            assert batch.seq is not None and batch.tx_hash is not None
            assert batch.block_number is not None and batch.block_hash is not None
            assert batch.anchor_timestamp is not None
            anchor = AnchorPart(
                chain_id=batch.chain_id,
                contract=batch.contract,
                seq=batch.seq,
                tx_hash=batch.tx_hash,
                block_number=batch.block_number,
                block_hash=batch.block_hash,
                timestamp=batch.anchor_timestamp,
            )
            return Receipt(ReceiptStatus(batch.status), document, proof, batch_part, anchor, {})
        return Receipt(ReceiptStatus.SEALED, document, proof, batch_part, None, {})

    def receipt_json(self, view: DocumentView) -> dict[str, Any]:
        data = self.receipt(view).to_json()
        return self.signer.sign(data) if self.signer is not None else data

    # --- sealing and anchoring ----------------------------------------------------------

    def seal(self, *, now: datetime | None = None) -> Batch | None:
        """Seal all pending documents, up to ``batch_max``, into one batch."""
        return self.store.seal_pending(
            limit=self.batch_max, now=now or utcnow(), root_of=root_of_rows
        )

    def seal_all(self, *, now: datetime | None = None) -> list[Batch]:
        sealed: list[Batch] = []
        while (batch := self.seal(now=now)) is not None:
            sealed.append(batch)
        return sealed

    def check_contract(self) -> None:
        chain = self.chain
        if not chain.contract_has_code():
            raise ChainResetError(
                f"there is no contract code at {chain.contract_address} on chain {chain.chain_id}: "
                "the chain was reset or this is another chain; nothing is confirmed on it. "
                "Deploy again (docanchor deploy) and run docanchor anchor to re-anchor."
            )

    def anchor_batch(self, batch: Batch, *, now: datetime | None = None) -> BatchReport:
        """Bring one sealed batch on chain, or adopt the anchor the chain already holds."""
        chain = self.chain
        assert batch.id is not None and batch.root is not None
        root = bytes.fromhex(batch.root)
        record = chain.get_anchor(root)
        if record is not None:
            return BatchReport(self._adopt(batch, record, now=now), "adopted")
        if batch.tx_hash and chain.transaction_known(batch.tx_hash):
            # Sent before (maybe by a process that crashed): wait for that one.
            return BatchReport(self._await(batch, batch.tx_hash, now=now), "anchored")
        # Each batch is still a tree of its own, so there is no consistency
        # proof to give: the empty proof that the contract (version 2) accepts
        # for the first checkpoint only. A later batch is refused on chain
        # until batches become checkpoints of one log.
        prepared = chain.prepare_anchor(root, batch.size, ())
        batch_id = batch.id
        batch = self.store.update_batch(
            batch_id,
            tx_hash=prepared.tx_hash,
            tx_sent_at=now or utcnow(),
            anchor_attempts=batch.anchor_attempts + 1,
            chain_id=chain.chain_id,
            contract=chain.contract_address,
            last_error=None,
        )
        try:
            chain.broadcast(prepared)
        except ContractRevertError as exc:
            if exc.error_name == "RootAlreadyAnchored":
                record = chain.get_anchor(root)
                if record is not None:
                    return BatchReport(self._adopt(batch, record, now=now), "adopted")
            self.store.update_batch(batch_id, last_error=str(exc)[:1000])
            raise
        return BatchReport(self._await(batch, prepared.tx_hash, now=now), "anchored")

    def _await(self, batch: Batch, tx_hash: str, *, now: datetime | None) -> Batch:
        assert batch.id is not None and batch.root is not None
        try:
            mined = self.chain.wait_for_anchor(tx_hash, self.tx_timeout)
        except ContractRevertError as exc:
            record = self.chain.get_anchor(bytes.fromhex(batch.root))
            if record is not None:
                return self._adopt(batch, record, now=now)
            self.store.update_batch(batch.id, last_error=str(exc)[:1000])
            raise
        return self._record_mined(batch, mined, now=now)

    def _record_mined(self, batch: Batch, mined: MinedAnchor, *, now: datetime | None) -> Batch:
        assert batch.id is not None
        chain = self.chain
        return self.store.update_batch(
            batch.id,
            status="anchored",
            tx_hash=mined.tx_hash,
            seq=mined.seq,
            block_number=mined.block_number,
            block_hash=mined.block_hash,
            anchor_timestamp=mined.timestamp,
            anchorer=mined.anchorer,
            gas_used=mined.gas_used,
            chain_id=chain.chain_id,
            contract=chain.contract_address,
            anchored_at=now or utcnow(),
            confirmed_at=None,
            last_error=None,
        )

    def _adopt(self, batch: Batch, record: AnchorInfo, *, now: datetime | None) -> Batch:
        """Record an anchor found on chain (after a crash, or sent by another process)."""
        assert batch.id is not None and batch.root is not None
        chain = self.chain
        if record.tree_size != batch.size:
            raise ChainError(
                f"batch {batch.id}: its root is anchored on chain with tree size "
                f"{record.tree_size}, but the batch has {batch.size} documents"
            )
        tx_hash = batch.tx_hash
        block_hash = chain.block_hash(record.block_number)
        root = bytes.fromhex(batch.root)
        for event in chain.scan_anchored(record.block_number, record.block_number):
            if event.root == root:
                tx_hash = event.tx_hash
                block_hash = event.block_hash
                break
        if block_hash is None or tx_hash is None:
            raise ChainError(
                f"batch {batch.id}: the chain holds its anchor at block {record.block_number}, "
                "but the node cannot show that block or its transaction"
            )
        return self.store.update_batch(
            batch.id,
            status="anchored",
            tx_hash=tx_hash,
            seq=record.seq,
            block_number=record.block_number,
            block_hash=block_hash,
            anchor_timestamp=record.timestamp,
            anchorer=record.anchorer,
            chain_id=chain.chain_id,
            contract=chain.contract_address,
            anchored_at=batch.anchored_at or now or utcnow(),
            confirmed_at=None,
            last_error=None,
        )

    def anchor_all(self, *, now: datetime | None = None) -> list[BatchReport]:
        """Seal what is pending and anchor every sealed batch (the crash-recovery path too)."""
        self.check_contract()
        reports = [BatchReport(b, "sealed") for b in self.seal_all(now=now)]
        for batch in self.store.batches(statuses=["sealed"]):
            reports.append(self.anchor_batch(batch, now=now))
        return reports

    def confirm(self, *, now: datetime | None = None) -> list[BatchReport]:
        """Move anchored batches to confirmed, and catch reorganisations and resets.

        A batch whose anchoring block is no longer canonical goes back to
        ``sealed`` (unless the chain holds its root in another block, which is
        then recorded) and is anchored again with the same root.
        """
        chain = self.chain
        self.check_contract()
        head = chain.head_number()
        reports: list[BatchReport] = []
        # Batches anchored through another deployment (another chain or contract,
        # after a change of configuration) are that deployment's business: their
        # receipts stay valid there, and nothing here re-anchors them.
        to_check = [b for b in self.store.batches(statuses=["anchored"]) if self._ours(b)]
        confirmed = [b for b in self.store.batches(statuses=["confirmed"]) if self._ours(b)]
        if confirmed and not self._still_on_chain(confirmed[-1]):
            # The newest confirmed anchor is gone: re-examine every confirmed batch.
            to_check = confirmed + to_check
        for batch in to_check:
            assert batch.id is not None and batch.block_number is not None
            if not self._still_on_chain(batch):
                reports.append(self._handle_lost(batch, now=now))
                continue
            if batch.status == "anchored" and head - batch.block_number + 1 >= self.confirmations:
                batch = self.store.update_batch(
                    batch.id, status="confirmed", confirmed_at=now or utcnow()
                )
                reports.append(BatchReport(batch, "confirmed"))
        return reports

    def _ours(self, batch: Batch) -> bool:
        chain = self.chain
        return batch.chain_id == chain.chain_id and (batch.contract or "").lower() == (
            chain.contract_address.lower()
        )

    def _still_on_chain(self, batch: Batch) -> bool:
        assert batch.block_number is not None
        return self.chain.block_hash(batch.block_number) == batch.block_hash

    def _handle_lost(self, batch: Batch, *, now: datetime | None) -> BatchReport:
        assert batch.id is not None and batch.root is not None
        record = self.chain.get_anchor(bytes.fromhex(batch.root))
        if record is not None:
            # Re-included in another block by the reorganisation.
            return BatchReport(self._adopt(batch, record, now=now), "moved")
        batch = self.store.update_batch(
            batch.id,
            status="sealed",
            tx_hash=None,
            seq=None,
            block_number=None,
            block_hash=None,
            anchor_timestamp=None,
            anchorer=None,
            gas_used=None,
            anchored_at=None,
            confirmed_at=None,
            last_error="the anchoring block is no longer on the chain; anchoring again",
        )
        return BatchReport(batch, "reanchor")

    def run_once(self, *, now: datetime | None = None) -> list[BatchReport]:
        """One pass: confirm (catching reorganisations), seal, anchor, confirm."""
        reports = self.confirm(now=now)
        reports += self.anchor_all(now=now)
        reports += self.confirm(now=now)
        return reports

    def wait_until_confirmed(
        self,
        *,
        timeout: float,
        poll: float = 1.0,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[Batch]:
        """Confirm until no batch is waiting, or raise ChainError at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            self.confirm()
            waiting = self.store.batches(statuses=["sealed", "anchored"])
            if on_progress is not None:
                on_progress(len(waiting), self.store.count_batches())
            if not waiting:
                return self.store.batches()
            if any(b.status == "sealed" for b in waiting):
                for batch in waiting:
                    if batch.status == "sealed":
                        self.anchor_batch(batch)
                continue
            if time.monotonic() >= deadline:
                raise ChainError(
                    f"{len(waiting)} batch(es) still wait for {self.confirmations} confirmations "
                    f"after {timeout:.0f} s"
                )
            time.sleep(poll)

    def run_locked(
        self, *, ttl_seconds: float, now: datetime | None = None
    ) -> list[BatchReport] | None:
        """``run_once`` if this process holds the anchoring lease; None otherwise."""
        if not self.store.try_lock(ANCHOR_LOCK, self.holder, now=utcnow(), ttl_seconds=ttl_seconds):
            return None
        return self.run_once(now=now)

    def release(self) -> None:
        self.store.unlock(ANCHOR_LOCK, self.holder)

    # --- audit ------------------------------------------------------------------

    def audit(self, *, from_block: int = 0) -> AuditReport:
        """Match every ``Anchored`` event with the database and recompute every root."""
        chain = self.chain
        self.check_contract()
        report = AuditReport()
        events = chain.scan_anchored(from_block)
        report.events = len(events)
        by_root = {e.root.hex(): e for e in events}
        batches = self.store.batches()
        known_roots = set()
        for batch in batches:
            report.batches_checked += 1
            assert batch.id is not None
            if batch.root is None:
                continue
            known_roots.add(batch.root)
            recomputed = root_of_rows(self.store.iter_batch_leaves(batch.id))
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
            if batch.status in ("anchored", "confirmed"):
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
                        ("tree size", batch.size, event.tree_size),
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


# --- trustless verification (spec section 6) ---------------------------------------


def verify_receipt_on_chain(
    receipt: Receipt,
    reader: ChainReader,
    *,
    document_sha256: bytes | None,
    required_confirmations: int,
) -> ReceiptVerification:
    """Fetch what spec section 6 needs from the node, then check it with the pure core."""
    record: OnChainRecord | None = None
    block_hash: str | None = None
    head = 0
    node_chain_id = reader.chain_id
    anchor = receipt.anchor
    if anchor is not None and receipt.batch is not None and node_chain_id == anchor.chain_id:
        info = reader.get_anchor_at(anchor.contract, receipt.batch.root)
        if info is not None:
            record = OnChainRecord(
                seq=info.seq,
                tree_size=info.tree_size,
                timestamp=info.timestamp,
                block_number=info.block_number,
                anchorer=info.anchorer,
            )
        block_hash = reader.block_hash(anchor.block_number)
        head = reader.head_number()
    return evaluate_receipt(
        receipt,
        document_sha256=document_sha256,
        node_chain_id=node_chain_id,
        record=record,
        block_hash=block_hash,
        head_number=head,
        required_confirmations=required_confirmations,
    )


def not_found(sha256: bytes) -> NotFoundError:
    return NotFoundError(f"no registration of the document with SHA-256 {sha256.hex()}")

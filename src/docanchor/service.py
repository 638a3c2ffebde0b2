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

import base64
import hashlib
import json
import os
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NamedTuple, Protocol

import rfc8785

from docanchor import hashing, keys, merkle
from docanchor.audit import (
    AnchorChain,
    ListedCheckpoint,
    LogSource,
    PeriodReport,
    Progress,
    audit_period,
)
from docanchor.errors import (
    ChainError,
    ConfigError,
    ContractRevertError,
    FeeCapError,
    InputError,
    LogRangeError,
    MetadataError,
    NonceTooLowError,
    NotAnchoredError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    UnderpricedError,
    VerificationError,
)
from docanchor.keys import KeyRecord, NewKey
from docanchor.merkle import MerkleTree, root_from_inclusion_proof, verify_consistency
from docanchor.onchain import (
    AnchoredEvent,
    MinedAnchor,
    MinedTransaction,
    OnChainCheckpoint,
    OnChainRecord,
)
from docanchor.receipt import (
    RECEIPT_VERSION,
    STEP_CHAIN_RECORD,
    STEP_CONFIRMATIONS,
    STEP_DOCUMENT,
    STEP_METADATA,
    AnchorPart,
    BatchPart,
    DocumentPart,
    ProofPart,
    Receipt,
    ReceiptStatus,
    ReceiptVerification,
    TrustPolicy,
    evaluate_receipt,
)
from docanchor.store import SCHEMA_HEAD, LookupRows, Store

# The store's records that the edges see, named through the service (the edges never
# import the store).
from docanchor.store import Batch as Batch
from docanchor.store import DocumentRow as DocumentRow
from docanchor.store import DocumentView as DocumentView
from docanchor.store import LogEntryRow as LogEntryRow
from docanchor.store import NewRegistration as NewRegistration
from docanchor.vocabulary import (
    BatchAction,
    BatchStatus,
    DocumentStatus,
    parse_utc_text,
    utc_text,
    utcnow,
)

# A look-up's answer: the most advanced status among the registrations found.
STATUS_RANK: Final[Mapping[str, int]] = {
    "not_found": 0,
    DocumentStatus.PENDING: 1,
    DocumentStatus.SEALED: 2,
    DocumentStatus.ANCHORED: 3,
    DocumentStatus.CONFIRMED: 4,
}
ANCHOR_LOCK = "anchoring"
# What a pass reports for a batch whose transaction it is still waiting for.
_IDLE_ACTIONS: Final = frozenset({BatchAction.PENDING, BatchAction.WAITING, BatchAction.SENT})


# --- what the service needs from a chain -----------------------------------------


class PreparedAnchor(Protocol):
    @property
    def tx_hash(self) -> str: ...

    @property
    def nonce(self) -> int: ...

    @property
    def fees(self) -> dict[str, int]: ...


class ChainPort(Protocol):
    """The chain operations the service relies on (``docanchor.chain.ChainClient``)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def contract_address(self) -> str: ...

    def head_number(self) -> int: ...

    def block_hash(self, number: int) -> str | None: ...

    def check_contract(self) -> None: ...

    def verify_identity(self) -> None: ...

    def get_anchor(self, root: bytes) -> OnChainRecord | None: ...

    def latest(self) -> OnChainCheckpoint | None: ...

    def prepare_anchor(
        self,
        root: bytes,
        tree_size: int,
        consistency: Sequence[bytes],
        *,
        nonce: int | None = None,
        fee_floor: dict[str, int] | None = None,
    ) -> PreparedAnchor: ...

    def broadcast(self, prepared: Any) -> str: ...

    def transaction_known(self, tx_hash: str) -> bool: ...

    def transaction_receipt(self, tx_hash: str) -> MinedTransaction | None: ...

    def base_fee(self) -> int | None: ...

    def fee_cap_shortfall(self) -> tuple[int, int] | None: ...

    def account_nonce(self) -> int: ...

    def wait_for_anchor(self, tx_hash: str, timeout: float) -> MinedAnchor: ...

    def scan_anchored(
        self, from_block: int, to_block: int | None = None
    ) -> Sequence[AnchoredEvent]: ...


class ChainReader(Protocol):
    """What the trustless receipt check needs: any node, any contract address."""

    @property
    def chain_id(self) -> int: ...

    def verify_identity(self) -> None: ...

    def head_number(self) -> int: ...

    def block_hash(self, number: int) -> str | None: ...

    def get_anchor_at(self, contract: str, root: bytes) -> OnChainRecord | None: ...


class Signer(Protocol):
    def sign(self, receipt_json: dict[str, Any]) -> dict[str, Any]: ...


# --- results -----------------------------------------------------------------


class Registration(NamedTuple):
    view: DocumentView
    created: bool


@dataclass(frozen=True)
class TxPolicy:
    """How the anchoring account's transactions are managed.

    A pass waits at most ``pending_wait`` seconds for its transaction to be
    mined, then leaves it for the next pass. A transaction pending for
    ``bump_after`` seconds, or whose max fee fell under the base fee, is
    replaced with the same nonce and fees ``bump_percent`` higher (at most
    the fee cap), up to ``max_attempts`` transactions per batch.
    """

    bump_percent: int = 20
    max_attempts: int = 10
    bump_after: float = 60.0
    pending_wait: float = 10.0


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
    batch: Batch
    action: BatchAction


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


def leaf_hash_of_row(salt_hex: str, sha256_hex: str, metadata_sha256_hex: str) -> bytes:
    return hashing.leaf_hash(bytes.fromhex(salt_hex + sha256_hex + metadata_sha256_hex))


def leaf_hashes_of_rows(rows: Iterable[tuple[str, str, str]]) -> list[bytes]:
    """Leaf hashes of (salt, sha256, metadata_sha256) hex rows."""
    sha = hashlib.sha256
    fromhex = bytes.fromhex
    return [sha(b"\x00" + fromhex(a + b + c)).digest() for a, b, c in rows]


def leaf_hashes_of_stored(rows: Iterable[tuple[bytes, bytes, bytes]]) -> list[bytes]:
    """Leaf hashes of (salt, sha256, metadata_sha256) rows as stored (32 bytes each)."""
    sha = hashlib.sha256
    return [sha(b"\x00" + a + b + c).digest() for a, b, c in rows]


def root_of_rows(rows: Iterable[tuple[str, str, str]]) -> bytes:
    return MerkleTree([leaf_hash_of_row(*r) for r in rows]).root


NUL: Final = "\x00"


def _refuse_nul(value: Any, what: str) -> None:
    """Raise InputError when a string in ``value`` (a member name too) holds U+0000.

    PostgreSQL text cannot hold it, and no procurement field needs it. Iterative.
    """
    stack: list[tuple[Any, str]] = [(value, what)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                raise MetadataError(f"{path} holds a NUL character (U+0000), which is not allowed")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    raise MetadataError(
                        f"a member name in {path} holds a NUL character (U+0000), "
                        "which is not allowed"
                    )
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def identifier(value: str, what: str) -> str:
    """A reference or entity RUC as docanchor stores and looks it up: NFC, no NUL.

    Text that looks the same must name the same version history, whichever
    Unicode normalisation the client's keyboard produced.
    """
    if NUL in value:
        raise InputError(f"{what} holds a NUL character (U+0000), which is not allowed")
    return unicodedata.normalize("NFC", value)


def metadata_for(
    metadata: Mapping[str, Any] | None, entity_ruc: str | None
) -> tuple[dict[str, Any], str]:
    """The metadata object to register and the registering entity.

    The entity is ``entity_ruc`` when given (and then must agree with any
    ``entity_ruc`` in the metadata, which it fills in when absent), else the
    metadata's ``entity_ruc``, else none (the empty string).

    The ``reference`` and ``entity_ruc`` members are replaced by their NFC form
    (they key the version history); no other value is changed. A NUL character
    anywhere (names included) is refused, and so is an empty ``entity_ruc``.
    """
    meta = dict(metadata or {})
    _refuse_nul(meta, "metadata")
    named = meta.get("entity_ruc")
    if named is not None:
        if not isinstance(named, str):
            raise InputError("metadata entity_ruc must be a string")
        if not named.strip():
            raise MetadataError(
                "metadata entity_ruc is empty: name the entity's RUC or leave the member out"
            )
        named = meta["entity_ruc"] = identifier(named, "metadata entity_ruc")
    reference = meta.get("reference")
    if isinstance(reference, str):
        meta["reference"] = identifier(reference, "metadata reference")
    if entity_ruc:
        entity_ruc = identifier(entity_ruc, "the entity RUC")
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


def _compact(value: Any) -> str:
    """JSON text as the command line writes it: compact, not ASCII-escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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
        tx_policy: TxPolicy | None = None,
        tree_cache_size: int = 4,
    ) -> None:
        self.store = store
        self._chain = chain
        self.signer = signer
        self.confirmations = confirmations
        self.batch_max = batch_max
        self.tx_timeout = tx_timeout
        self.tx_policy = tx_policy or TxPolicy()
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()
        self._tree_cache_size = tree_cache_size
        self._tree_lock = threading.Lock()
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{id(self):x}"

    @property
    def chain(self) -> ChainPort:
        if self._chain is None:
            raise ChainError("no blockchain node is configured for this operation")
        return self._chain

    @property
    def has_chain(self) -> bool:
        """Whether this service was given a chain client (look-ups need none)."""
        return self._chain is not None

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
        metadata_sha256 = hashing.sha256(canonical)
        entity = _text_member({"entity_ruc": entity}, "entity_ruc", 32) or ""
        reference = _text_member(meta, "reference", 200)
        doc_type = _text_member(meta, "type", 100)
        # One call to the CSPRNG for the whole list: 32 fresh bytes per registration.
        salts = os.urandom(hashing.SALT_SIZE * len(digests))
        step = hashing.SALT_SIZE
        out: list[NewRegistration] = []
        append = out.append
        for n, digest in enumerate(digests):
            if len(digest) != hashing.DIGEST_SIZE:
                raise InputError("a document digest is 32 bytes (64 hex characters)")
            append(
                NewRegistration(
                    bytes(digest),
                    salts[n * step : (n + 1) * step],
                    metadata_json,
                    metadata_sha256,
                    entity,
                    reference,
                    doc_type,
                )
            )
        return out

    def prepare_each(
        self,
        items: Sequence[tuple[bytes, Mapping[str, Any] | None]],
        entity_for: Callable[[Mapping[str, Any] | None], str | None],
    ) -> list[NewRegistration]:
        """:meth:`prepare_registrations` of each (digest, metadata) item, in order, for
        the entity ``entity_for(metadata)`` names (the caller's policy; it may refuse).

        Every item is checked before anything is returned, in order; an error names
        the first item at fault (``documents[i]: ...``). Equal metadata is checked
        and canonicalised once; the salts come from one call to the CSPRNG.
        """
        salts = os.urandom(hashing.SALT_SIZE * len(items))
        step = hashing.SALT_SIZE
        dumps = json.dumps
        shared: dict[tuple[str, str | None], tuple[str, bytes, str, str | None, str | None]] = {}
        out: list[NewRegistration] = []
        append = out.append
        for n, (digest, metadata) in enumerate(items):
            try:
                # The key tells true from 1 and "1" from 1, as the canonical text does.
                same_text = dumps(metadata, sort_keys=True) if metadata else ""
                entity_ruc = entity_for(metadata)
                same = (same_text, entity_ruc)
                known = shared.get(same)
                if known is None:
                    meta, entity = metadata_for(metadata, entity_ruc)
                    canonical = hashing.canonical_metadata(meta)
                    known = shared[same] = (
                        canonical.decode("utf-8"),
                        hashing.sha256(canonical),
                        _text_member({"entity_ruc": entity}, "entity_ruc", 32) or "",
                        _text_member(meta, "reference", 200),
                        _text_member(meta, "type", 100),
                    )
                if len(digest) != hashing.DIGEST_SIZE:
                    raise InputError("a document digest is 32 bytes (64 hex characters)")
            except (InputError, PermissionDeniedError) as exc:
                raise type(exc)(f"documents[{n}]: {exc.message}") from None
            append(NewRegistration(bytes(digest), salts[n * step : (n + 1) * step], *known))
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
        return self.store.lookup_with_versions(sha256.hex())[0]

    def versions(self, reference: str, entity_ruc: str | None = None) -> list[DocumentView]:
        """Every registration under ``reference`` (in NFC, as stored), oldest first."""
        reference = identifier(reference, "the reference")
        if entity_ruc is not None:
            entity_ruc = identifier(entity_ruc, "the entity RUC")
        return self.store.by_reference(reference, entity_ruc)

    @staticmethod
    def best_status(views: Sequence[DocumentView]) -> str:
        best = "not_found"
        for view in views:
            if STATUS_RANK[view.status] > STATUS_RANK[best]:
                best = view.status
        return best

    def lookup_with_versions(
        self, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """The registrations of a digest, and every registration under their references."""
        return self.store.lookup_with_versions(sha256_hex)

    def lookup_rows(self, sha256_hex: str) -> LookupRows:
        """The stored values a look-up of the digest reads (one statement): a cache key."""
        return self.store.lookup_rows(sha256_hex)

    def views_of_lookup(
        self, rows: LookupRows, sha256_hex: str
    ) -> tuple[list[DocumentView], list[DocumentView]]:
        """:meth:`lookup_with_versions` from the rows :meth:`lookup_rows` read."""
        return self.store.views_of_lookup(rows, sha256_hex)

    def registered_view(self, registration: Registration) -> DocumentView:
        """The registration as a look-up shows it: with its version and batch.

        A new registration without a reference has neither (pending, no version), so
        there is nothing to read back; otherwise one look-up statement by digest.
        """
        doc = registration.view.document
        if registration.created and doc.reference is None:
            return registration.view
        hits, _ = self.store.lookup_with_versions(doc.sha256)
        return next((v for v in hits if v.document.id == doc.id), registration.view)

    def register_count(self, items: Sequence[NewRegistration]) -> int:
        """Register ``items`` (as :meth:`register_many`) and answer only how many were new."""
        return self.store.register_counts(items)[0]

    def versions_of(self, document_ids: Sequence[int]) -> dict[int, int]:
        """The version number of each document that has one (a reference), by id."""
        return self.store.versions_of(document_ids)

    def document_counts(self) -> dict[str, int]:
        """Registered documents by status (every status, 0 included)."""
        return self.store.document_counts()

    def batch_counts(self) -> tuple[dict[str, int], datetime | None]:
        """Batches by status (every status, 0 included) and when the newest was confirmed."""
        return self.store.batch_counts()

    # --- batches -----------------------------------------------------------------

    def batch(self, batch_id: int) -> Batch:
        """The batch ``batch_id``; :class:`NotFoundError` when there is none."""
        batch = self.store.get_batch(batch_id)
        if batch is None:
            raise NotFoundError(f"there is no batch {batch_id}")
        return batch

    def batches(
        self,
        *,
        statuses: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Batch]:
        return self.store.batches(
            statuses=statuses, offset=offset, limit=limit, newest_first=newest_first
        )

    def batches_of(self, batch_ids: Iterable[int | None]) -> dict[int, Batch]:
        """The batches with these ids (none for ``None`` or an id that has no batch)."""
        found: dict[int, Batch] = {}
        for batch_id in {i for i in batch_ids if i is not None}:
            batch = self.store.get_batch(batch_id)
            if batch is not None:
                found[batch_id] = batch
        return found

    def count_batches(self) -> int:
        return self.store.count_batches()

    def checkpoints(self, *, start: int = 0, limit: int | None = None) -> list[Batch]:
        """The log's checkpoints from on-chain sequence ``start``, oldest first; those not
        anchored yet come last."""
        return self.store.checkpoints(start=start, limit=limit)

    def batch_leaf_hashes(self, batch_id: int, *, offset: int, limit: int) -> list[bytes]:
        """The leaf hashes of a batch's documents, in leaf order, from ``offset``."""
        rows = self.store.batch_leaves(batch_id, offset=offset, limit=limit)
        return [leaf_hash_of_row(*row) for row in rows]

    # --- API keys ------------------------------------------------------------------

    def create_api_key(
        self, *, role: str, entity_ruc: str | None, label: str | None = None
    ) -> NewKey:
        """A new API key; its secret is in the answer and nowhere else."""
        return keys.create_key(self.store, role=role, entity_ruc=entity_ruc, label=label)

    def api_keys(self) -> list[KeyRecord]:
        return keys.list_keys(self.store)

    def revoke_api_key(self, key_id: int, *, now: datetime | None = None) -> KeyRecord:
        """Revoke the key ``key_id``; :class:`NotFoundError` when there is none."""
        key = keys.revoke_key(self.store, key_id, now or utcnow())
        if key is None:
            raise NotFoundError(f"there is no API key {key_id}")
        return key

    def authorize(self, secret: str, roles: tuple[str, ...]) -> KeyRecord:
        """The key of ``secret`` when it is known, not revoked and has one of ``roles``."""
        return keys.authorize(self.store, secret, roles)

    # --- the service itself ----------------------------------------------------------

    @property
    def database_dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.store.dialect

    def check_database(self) -> str:
        """Reach the database (a :class:`StoreError` when it cannot); says which it is."""
        self.store.ping()
        return f"reachable ({self.store.dialect})"

    def check_schema(self) -> str:
        """Whether the database is migrated to the newest schema; raises when it is not."""
        revision = self.store.schema_revision()
        if revision != SCHEMA_HEAD:
            raise ConfigError(
                f"the database schema is at revision {revision or 'none'}, not {SCHEMA_HEAD}; "
                "restart docanchor serve (it migrates on start)"
            )
        return f"schema at revision {revision}"

    def check_chain_contract(self) -> str:
        """Whether the contract has code on the chain; raises when it has none."""
        chain = self.chain
        chain.check_contract()
        return f"code present at {chain.contract_address} on chain {chain.chain_id}"

    def chain_head(self) -> tuple[int, int | None]:
        """The chain's head block number and its timestamp (None when the node has none)."""
        chain = self.chain
        head = chain.head_number()
        timestamp_of = getattr(chain, "block_timestamp", None)
        stamp = timestamp_of(head) if callable(timestamp_of) else None
        return head, stamp if isinstance(stamp, int) else None

    def signing_public_key(self) -> bytes | None:
        """The raw Ed25519 key that signs this service's receipts; None when none do."""
        raw = getattr(self.signer, "public_raw", None)
        return raw if isinstance(raw, bytes) else None

    def with_chain(self, chain: ChainPort, *, confirmations: int) -> DocAnchorService:
        """This service (its store, signer and policies) over ``chain``."""
        return DocAnchorService(
            store=self.store,
            chain=chain,
            signer=self.signer,
            confirmations=confirmations,
            batch_max=self.batch_max,
            tx_timeout=self.tx_timeout,
            tx_policy=self.tx_policy,
        )

    def close(self) -> None:
        """Close the database connections."""
        self.store.close()

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
        assert batch.id is not None
        if batch.tree_size is not None:
            proof = self.log_proof(
                doc.leaf_index,
                batch,
                hashing.leaf_hash(document.salt + document.sha256 + document.metadata_sha256),
            )
        else:
            tree = self.tree_for(batch)
            proof = ProofPart(
                doc.leaf_index, tree.size, tuple(tree.inclusion_proof(doc.leaf_index))
            )
        batch_part = BatchPart(batch.id, bytes.fromhex(batch.root))
        if batch.status in (BatchStatus.ANCHORED, BatchStatus.CONFIRMED):
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

    def log_proof(self, leaf_index: int, batch: Batch, leaf_hash: bytes) -> ProofPart:
        """The inclusion proof of log leaf ``leaf_index`` in the checkpoint ``batch``.

        Read from O(log n) stored tiles, then checked: the proof from the
        document's own leaf hash must lead to the checkpoint's root.
        """
        assert batch.tree_size is not None and batch.root is not None
        with self.store.log_nodes() as node:
            path = merkle.log_inclusion_proof(leaf_index, batch.tree_size, node)
        root = root_from_inclusion_proof(leaf_hash, leaf_index, batch.tree_size, path)
        if root.hex() != batch.root:
            raise VerificationError(
                f"batch {batch.id}: the log's stored leaves no longer give its root "
                f"{batch.root}; the database was altered (run docanchor audit)"
            )
        return ProofPart(leaf_index, batch.tree_size, tuple(path))

    # --- the log ----------------------------------------------------------------

    def batch_page(self, *, offset: int = 0, limit: int = 100) -> tuple[int, list[Batch]]:
        """The number of batches, and ``limit`` of them from ``offset``, newest first."""
        return self.store.count_batches(), self.store.batches(
            offset=offset, limit=limit, newest_first=True
        )

    def checkpoint(self, tree_size: int) -> Batch:
        """The checkpoint of this size; :class:`InputError` when the log has none."""
        batch = self.store.checkpoint_at(tree_size) if tree_size > 0 else None
        if batch is None or batch.root is None:
            raise LogRangeError(f"{tree_size} is not the size of a checkpoint of the log")
        return batch

    def consistency(self, first: int, second: int) -> tuple[Batch, Batch, list[bytes]]:
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

    def receipt_json(self, view: DocumentView) -> dict[str, Any]:
        data = self.receipt(view).to_json()
        return self.signer.sign(data) if self.signer is not None else data

    def pending_receipts_json(self, documents: Sequence[DocumentRow]) -> list[dict[str, Any]]:
        """``receipt_json(DocumentView(d, None))`` of each document, made in bulk.

        A pending receipt has one shape: only its hex members and its metadata vary,
        so its RFC 8785 signing payload is written from the metadata's canonical text
        (made once per distinct metadata) and the hex members, instead of being
        canonicalised document by document. The receipts of documents with the same
        metadata share one metadata object: encode them, do not change them.
        Documents whose stored metadata is not an object take the ordinary path.
        """
        sign_payload = getattr(self.signer, "sign_payload", None)
        shared: dict[str, tuple[dict[str, Any], bytes] | None] = {}
        out: list[dict[str, Any]] = []
        for doc in documents:
            known = shared.get(doc.metadata_json, ...)
            if known is ...:
                metadata = json.loads(doc.metadata_json)
                known = (metadata, rfc8785.dumps(metadata)) if isinstance(metadata, dict) else None
                shared[doc.metadata_json] = known
            if known is None or (self.signer is not None and sign_payload is None):
                out.append(self.receipt_json(DocumentView(doc, None)))
                continue
            metadata, canonical = known
            data: dict[str, Any] = {
                "version": RECEIPT_VERSION,
                "status": DocumentStatus.PENDING,
                "document": {
                    "sha256": doc.sha256,
                    "salt": doc.salt,
                    "metadata_sha256": doc.metadata_sha256,
                    "metadata": metadata,
                },
                "proof": None,
                "batch": None,
                "anchor": None,
            }
            if sign_payload is None:
                out.append(data)
                continue
            # RFC 8785: members sorted by name; hex text needs no escaping.
            payload = (
                b'{"anchor":null,"batch":null,"document":{"metadata":'
                + canonical
                + b',"metadata_sha256":"'
                + doc.metadata_sha256.encode("ascii")
                + b'","salt":"'
                + doc.salt.encode("ascii")
                + b'","sha256":"'
                + doc.sha256.encode("ascii")
                + b'"},"proof":null,"status":"pending","version":"'
                + RECEIPT_VERSION.encode("ascii")
                + b'"}'
            )
            out.append(sign_payload(data, payload))
        return out

    def pending_receipts_text(self, documents: Sequence[DocumentRow]) -> list[str]:
        """The JSON text of each of :meth:`pending_receipts_json`'s receipts, compact
        (``separators=(",", ":")``, ``ensure_ascii=False``), with the same members in
        the same order, written without building and encoding a dict per document.

        The metadata's text is encoded once per distinct metadata; the other members
        are hex, base64 or fixed words, which JSON writes as they are. Documents whose
        stored metadata is not an object take the ordinary path.
        """
        signer: Any = self.signer
        sign = getattr(signer, "sign_bytes", None)
        if signer is not None and sign is None:
            return [_compact(r) for r in self.pending_receipts_json(documents)]
        shared: dict[str, tuple[bytes, str] | None] = {}
        version = RECEIPT_VERSION.encode("ascii")
        head = f'{{"version":{_compact(RECEIPT_VERSION)},"status":"pending","document":{{'
        tail = '},"proof":null,"batch":null,"anchor":null'
        signature_head = ""
        if sign is not None:
            from docanchor.signing import ALGORITHM

            signature_head = (
                f'"signature":{{"alg":{_compact(ALGORITHM)},"key_id":{_compact(signer.key_id)},'
            )
        b64encode = base64.b64encode
        out: list[str] = []
        append = out.append
        for doc in documents:
            known = shared.get(doc.metadata_json, ...)
            if known is ...:
                metadata = json.loads(doc.metadata_json)
                known = None
                if isinstance(metadata, dict):
                    known = (rfc8785.dumps(metadata), _compact(metadata))
                shared[doc.metadata_json] = known
            if known is None:
                append(_compact(self.receipt_json(DocumentView(doc, None))))
                continue
            canonical, text = known
            sha, salt, msha = doc.sha256, doc.salt, doc.metadata_sha256
            body = (
                f'{head}"sha256":"{sha}","salt":"{salt}","metadata_sha256":"{msha}",'
                f'"metadata":{text}{tail}'
            )
            if sign is None:
                append(body + "}")
                continue
            # The signed bytes: RFC 8785 of the receipt without its signature (members
            # sorted by name; hex text needs no escaping), as in pending_receipts_json.
            payload = (
                b'{"anchor":null,"batch":null,"document":{"metadata":'
                + canonical
                + b',"metadata_sha256":"'
                + msha.encode("ascii")
                + b'","salt":"'
                + salt.encode("ascii")
                + b'","sha256":"'
                + sha.encode("ascii")
                + b'"},"proof":null,"status":"pending","version":"'
                + version
                + b'"}'
            )
            value = b64encode(sign(payload)).decode("ascii")
            append(f'{body},{signature_head}"value":"{value}"}}}}')
        return out

    def stamp(self, pdf: bytes, *, public_url: str) -> bytes:
        """``pdf`` followed by an incremental update that carries its receipt and a QR code.

        A file that is not a usable PDF is refused first (``PdfError``). The
        document must be registered (``NotFoundError``) and anchored
        (``NotAnchoredError`` while it is pending or sealed). The receipt is
        the newest anchored registration's, signed, as ``receipt_json`` gives
        it; the QR code opens ``{public_url}/?sha256=<hex>``.
        """
        from docanchor.pdf.stamp import open_pdf, stamp_pdf, verify_url_for

        opened = open_pdf(pdf)  # a file that cannot be stamped is refused before the look-up
        digest = opened.sha256
        views = self.lookup(digest)
        if not views:
            raise not_found(digest)
        anchored = [
            v for v in views if v.status in (DocumentStatus.ANCHORED, DocumentStatus.CONFIRMED)
        ]
        if not anchored:
            raise NotAnchoredError(
                f"the document {digest.hex()} is {self.best_status(views)}, not anchored yet; "
                "it can be stamped once its batch is anchored"
            )
        receipt = receipt_bytes(self.receipt_json(anchored[-1]))
        return stamp_pdf(pdf, receipt, verify_url=verify_url_for(public_url, digest), opened=opened)

    # --- sealing and anchoring ----------------------------------------------------------

    def seal(self, *, now: datetime | None = None) -> Batch | None:
        """Seal all pending documents, up to ``batch_max``, into one batch."""
        return self.store.seal_pending(
            limit=self.batch_max, now=now or utcnow(), leaf_hashes_of=leaf_hashes_of_stored
        )

    def seal_all(self, *, now: datetime | None = None) -> list[Batch]:
        sealed: list[Batch] = []
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
        assert batch.id is not None and batch.root is not None
        batch_id = batch.id
        root = bytes.fromhex(batch.root)
        record = chain.get_anchor(root)
        if record is not None:
            return self._report_anchored(self._adopt(batch, record, now=now), BatchAction.ADOPTED)
        if batch.tree_size is None:
            raise ChainError(
                f"batch {batch.id} is a version 1 batch, not a checkpoint of the log; "
                "the version 2 contract cannot anchor it"
            )
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
            age = None if sent_at is None else ((now or utcnow()) - sent_at).total_seconds()
            due = age is None or age >= self.tx_policy.bump_after
            if nonce is None or not (underpriced or due):
                waited = "" if age is None else f" for {age:.0f} s"
                batch = self.store.update_batch(
                    batch_id,
                    last_error=f"transaction {last['tx_hash']} is pending{waited}; "
                    "the next pass checks it again",
                )
                return BatchReport(batch, BatchAction.PENDING)
            if len(sent) >= self.tx_policy.max_attempts:
                batch = self.store.update_batch(
                    batch_id,
                    last_error=f"transaction {last['tx_hash']} is still pending after "
                    f"{len(sent)} transactions (DOCANCHOR_TX_MAX_ATTEMPTS); no more fee bumps, "
                    "the next pass checks it again",
                )
                return BatchReport(batch, BatchAction.PENDING)
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
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            for tx_hash in reversed(hashes):
                if self.chain.transaction_receipt(tx_hash) is not None:
                    return tx_hash
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def _log_attempt(self, batch: Batch, entry: dict[str, Any], **fields: Any) -> Batch:
        assert batch.id is not None
        entries = tx_log_of(batch)
        entries.append(entry)
        return self.store.update_batch(batch.id, tx_log=json.dumps(entries), **fields)

    def _set_attempt_error(self, batch: Batch, tx_hash: str, error: str) -> Batch:
        assert batch.id is not None
        entries = tx_log_of(batch)
        for entry in entries:
            if entry.get("tx_hash") == tx_hash:
                entry["error"] = error[:500]
        return self.store.update_batch(
            batch.id, tx_log=json.dumps(entries), last_error=error[:1000]
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
        assert batch.id is not None and batch.root is not None and batch.tree_size is not None
        batch_id, tree_size = batch.id, batch.tree_size
        root = bytes.fromhex(batch.root)
        shortfall = chain.fee_cap_shortfall()
        if shortfall is not None:
            base_fee, cap = shortfall
            batch = self.store.update_batch(
                batch_id,
                last_error=f"waiting for the base fee ({base_fee / 1e9:g} gwei) to fall under "
                f"DOCANCHOR_MAX_FEE_GWEI ({cap / 1e9:g} gwei); nothing was sent, the next "
                "pass tries again",
            )
            return BatchReport(batch, BatchAction.WAITING)
        for _ in range(3):
            try:
                prepared = chain.prepare_anchor(
                    root,
                    tree_size,
                    self._consistency_for(batch),
                    nonce=nonce,
                    fee_floor=fee_floor,
                )
            except FeeCapError as exc:
                batch = self.store.update_batch(batch_id, last_error=str(exc)[:1000])
                return BatchReport(batch, BatchAction.WAITING)
            sent_at = now or utcnow()
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
                return BatchReport(batch, BatchAction.PENDING)
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
            return BatchReport(batch, BatchAction.SENT)
        raise ChainError(
            f"batch {batch.id}: the node answered 'nonce too low' three times in a row; "
            "another sender keeps using the anchoring account. The next pass tries again"
        )

    def _report_anchored(self, batch: Batch, action: BatchAction) -> BatchReport:
        """``action``, or "reanchored" when the batch's earlier anchor left the chain."""
        if any(e.get("kind") == "reorg" for e in tx_log_of(batch)):
            return BatchReport(batch, BatchAction.REANCHORED)
        return BatchReport(batch, action)

    def _consistency_for(self, batch: Batch) -> list[bytes]:
        """The proof from the chain's latest checkpoint to ``batch``'s (empty for the first).

        After a reorganisation this is the checkpoint before the lost one, so
        a checkpoint that left the chain is anchored again with a proof from
        its predecessor.
        """
        assert batch.tree_size is not None
        latest = self.chain.latest()
        if latest is None:
            return []
        if latest.tree_size >= batch.tree_size:
            raise ChainError(
                f"batch {batch.id}: the chain's latest checkpoint has {latest.tree_size} leaves, "
                f"not fewer than this checkpoint's {batch.tree_size}; it can no longer be anchored"
            )
        ours = self.store.checkpoint_at(latest.tree_size)
        if ours is None or ours.root != latest.root.hex():
            raise ChainError(
                f"the chain's latest checkpoint (size {latest.tree_size}, root "
                f"{latest.root.hex()}) is not a checkpoint of this log"
            )
        with self.store.log_nodes() as node:
            return merkle.log_consistency_proof(latest.tree_size, batch.tree_size, node)

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
            anchored_at=now or utcnow(),
            confirmed_at=None,
            last_error=None,
        )

    def _adopt(self, batch: Batch, record: OnChainRecord, *, now: datetime | None) -> Batch:
        """Record an anchor found on chain (after a crash, or sent by another process)."""
        assert batch.id is not None and batch.root is not None
        chain = self.chain
        expected_size = batch.tree_size if batch.tree_size is not None else batch.size
        if record.tree_size != expected_size:
            raise ChainError(
                f"batch {batch.id}: its root is anchored on chain with tree size "
                f"{record.tree_size}, but the batch's tree has {expected_size} leaves"
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
            status=BatchStatus.ANCHORED,
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
        if confirmed and not self._still_on_chain(confirmed[-1]):
            # The newest confirmed anchor is gone: re-examine every confirmed batch.
            to_check = confirmed + to_check
        for batch in to_check:
            assert batch.id is not None and batch.block_number is not None
            if not self._still_on_chain(batch):
                reports.append(self._handle_lost(batch, now=now))
                continue
            if (
                batch.status == BatchStatus.ANCHORED
                and head - batch.block_number + 1 >= self.confirmations
            ):
                batch = self.store.update_batch(
                    batch.id, status=BatchStatus.CONFIRMED, confirmed_at=now or utcnow()
                )
                reports.append(BatchReport(batch, BatchAction.CONFIRMED))
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
            return BatchReport(self._adopt(batch, record, now=now), BatchAction.MOVED)
        entries = tx_log_of(batch)
        entries.append(
            {
                "kind": "reorg",
                "at": utc_text(now or utcnow()),
                "lost_tx_hash": batch.tx_hash,
                "lost_block_number": batch.block_number,
                "lost_block_hash": batch.block_hash,
                "was": batch.status,
            }
        )
        batch = self.store.update_batch(
            batch.id,
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
        return BatchReport(batch, BatchAction.REANCHOR)

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
        started = time.monotonic()
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
                        waited=time.monotonic() - started,
                    )
                )
            if not waiting:
                return reports
            if time.monotonic() >= deadline:
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
                time.sleep(max(0.0, min(poll, deadline - time.monotonic())))

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
            assert batch.id is not None
            if batch.root is None:
                continue
            known_roots.add(batch.root)
            if batch.in_log:
                # Range check: the documents' leaves appended to the compact range
                # before the batch must give the checkpoint's root.
                assert batch.first_index is not None
                with self.store.log_nodes() as node:
                    before = merkle.compact_range(batch.first_index, node)
                recomputed = merkle.root_from_range(
                    before,
                    batch.first_index,
                    leaf_hashes_of_rows(self.store.iter_batch_leaves(batch.id)),
                )
            else:
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

    def __init__(self, service: DocAnchorService) -> None:
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


# --- trustless verification (spec section 6) ---------------------------------------


class CheckedAnchorChain(AnchorChain, Protocol):
    """The verifier's node at the trusted deployment, before its code is checked."""

    @property
    def has_contract(self) -> bool: ...

    def check_contract(self) -> None: ...


def audit_remote_period(
    chain: CheckedAnchorChain,
    source: LogSource,
    start_time: datetime,
    end_time: datetime,
    *,
    entity: str | None = None,
    progress: Progress | None = None,
) -> PeriodReport:
    """The period audit of log-v1 section 4 of another service's log (``source``),
    trusting only ``chain`` (the verifier's own node, at the trusted deployment)."""
    if not chain.has_contract:
        raise ConfigError(
            "no trusted deployment: a remote audit reads the chain at the deployment "
            "recorded in the data dir or at DOCANCHOR_CONTRACT_ADDRESS"
        )
    chain.check_contract()
    return audit_period(
        chain=chain,
        source=source,
        start_time=start_time,
        end_time=end_time,
        entity=entity,
        progress=progress,
    )


def verify_receipt_on_chain(
    receipt: Receipt,
    reader: ChainReader,
    *,
    document_sha256: bytes | None,
    required_confirmations: int,
    trust: TrustPolicy,
    receipt_json: Mapping[str, Any] | None = None,
) -> ReceiptVerification:
    """Fetch what spec section 6 needs from the node, then check it with the pure core.

    Every way of verifying a receipt (a receipt file, a document looked up in
    the database, a request to the API) goes through here, so the trust
    check of step 5 cannot be left out: for a deployment ``trust`` does not
    hold, the node is not asked anything. ``receipt_json`` is the JSON object
    the receipt was parsed from, for the signature check.
    """
    record: OnChainRecord | None = None
    block_hash: str | None = None
    head = 0
    node_chain_id: int | None = None
    anchor = receipt.anchor
    if anchor is not None and receipt.batch is not None and trust.trusts(receipt):
        node_chain_id = reader.chain_id
        if node_chain_id == anchor.chain_id:
            record = reader.get_anchor_at(anchor.contract, receipt.batch.root)
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
        trust=trust,
        receipt_json=receipt_json,
    )


def receipt_verdict(
    result: ReceiptVerification, receipt: Receipt, *, node_chain_id: int, trust: TrustPolicy
) -> str:
    """The verdict on a checked receipt, in the words every edge uses.

    ``valid``; ``not_yet_confirmed`` when the document and metadata match and
    only what time brings is missing (the anchor of a pending or sealed
    receipt, or confirmations); ``cannot_check`` when every check that could
    run passed but the node is on another chain than the receipt's trusted
    anchor, so its record could not be read (nothing failed: it was not
    checked); else ``not_valid``.
    """
    if result.valid:
        return "valid"
    failed = {c.step for c in result.checks if not c.ok}
    if receipt.anchor is None:
        return "not_valid" if failed & {STEP_DOCUMENT, STEP_METADATA} else "not_yet_confirmed"
    if (
        receipt.anchor.chain_id != node_chain_id
        and trust.trusts(receipt)
        and failed == {STEP_CHAIN_RECORD}
    ):
        return "cannot_check"
    return "not_yet_confirmed" if failed == {STEP_CONFIRMATIONS} else "not_valid"


def receipt_bytes(receipt_json: Mapping[str, Any]) -> bytes:
    """A receipt as the service writes it to a file: indented UTF-8 JSON and a final newline."""
    return (json.dumps(receipt_json, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def not_found(sha256: bytes) -> NotFoundError:
    return NotFoundError(f"no registration of the document with SHA-256 {sha256.hex()}")

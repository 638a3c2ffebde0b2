"""The use cases: register, seal, anchor, confirm, receipts, look-ups, audit, verify.

Orchestrates the pure core with two adapters handed in as keyword arguments:
a :class:`~docanchor.store.Store` and a chain client (anything that fulfils
:class:`ChainPort`; ``docanchor.chain.ChainClient`` in production, a devnet in
tests). This package never imports web3 and never reads the environment.

:class:`DocAnchorService` is one object for the edges, composed of one part
per responsibility, each in its own module:

- ``ports``: what the service needs from the world (``ChainPort``,
  ``ChainReader``, ``Signer``), as protocols;
- ``base``: the adapters and policies every part holds;
- ``registration``: the metadata rules and storing registrations;
- ``lookups``: documents and batches read back;
- ``receipts``: receipts built, signed, stamped, and checked on a chain;
- ``log``: checkpoints, consistency proofs, compact ranges, entries;
- ``anchoring``: sealing, the transaction manager, confirmations and
  reorganisations;
- ``audit``: the log's history, the database and a period, against the chain;
- ``admin``: API keys, health checks, counts;
- ``leaves``: leaf hashes and roots of stored rows;
- ``records``: what the service works on and the edges see, each built once
  from the store's rows: a batch in the states where more is known
  (``SealedBatch``, ``Checkpoint``, ``AnchoredBatch``, every field set), a
  batch as shown (``BatchRecord``) and a registration with its batch
  (``DocumentView``).

Everything public is named here: import it from ``docanchor.service``.
"""

from __future__ import annotations

from docanchor.service.admin import Admin
from docanchor.service.anchoring import (
    ANCHOR_LOCK,
    Anchoring,
    BatchReport,
    WaitProgress,
    tx_log_of,
)
from docanchor.service.audit import (
    AuditFinding,
    AuditReport,
    Audits,
    LocalLogSource,
    audit_remote_period,
)
from docanchor.service.base import ServiceBase, SystemClock, TxPolicy
from docanchor.service.leaves import (
    leaf_hash_of_row,
    leaf_hashes_of_rows,
    leaf_hashes_of_stored,
    root_of_rows,
)
from docanchor.service.log import LogReads
from docanchor.service.lookups import STATUS_RANK, Lookups, not_found
from docanchor.service.ports import (
    AuditorChain,
    ChainPort,
    ChainReader,
    CheckedAnchorChain,
    Clock,
    PreparedAnchor,
    RemoteLogSource,
    Signer,
)
from docanchor.service.receipts import (
    Receipts,
    receipt_bytes,
    receipt_verdict,
    verify_receipt_on_chain,
)
from docanchor.service.records import (
    AnchoredBatch,
    BatchRecord,
    Checkpoint,
    DocumentView,
    SealedBatch,
    document_views,
)
from docanchor.service.registration import (
    NUL,
    Registration,
    Registrations,
    identifier,
    metadata_for,
)

# The store's plain rows that the edges see, named through the service (the edges never
# import the store).
from docanchor.store import DocumentRow, LogEntryRow, NewRegistration

__all__ = [
    "ANCHOR_LOCK",
    "NUL",
    "STATUS_RANK",
    "Admin",
    "AnchoredBatch",
    "Anchoring",
    "AuditFinding",
    "AuditReport",
    "AuditorChain",
    "Audits",
    "BatchRecord",
    "BatchReport",
    "ChainPort",
    "ChainReader",
    "CheckedAnchorChain",
    "Checkpoint",
    "Clock",
    "DocAnchorService",
    "DocumentRow",
    "DocumentView",
    "LocalLogSource",
    "LogEntryRow",
    "LogReads",
    "Lookups",
    "NewRegistration",
    "PreparedAnchor",
    "Receipts",
    "Registration",
    "Registrations",
    "RemoteLogSource",
    "SealedBatch",
    "ServiceBase",
    "Signer",
    "SystemClock",
    "TxPolicy",
    "WaitProgress",
    "audit_remote_period",
    "document_views",
    "identifier",
    "leaf_hash_of_row",
    "leaf_hashes_of_rows",
    "leaf_hashes_of_stored",
    "metadata_for",
    "not_found",
    "receipt_bytes",
    "receipt_verdict",
    "root_of_rows",
    "tx_log_of",
    "verify_receipt_on_chain",
]


class DocAnchorService(Registrations, Receipts, Audits, Admin):
    """docanchor's use cases over a store and (optionally) a chain."""

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

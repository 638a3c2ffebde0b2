"""Persistence: the SQLModel tables and the queries the service needs.

SQLite (a file in the data dir, WAL) by default, PostgreSQL through a
``postgresql+psycopg://`` URL. The schema is created and upgraded by the
Alembic migrations in ``docanchor/migrations``, applied when a :class:`Store`
opens a database.

Hex strings in the columns (readable with any SQL client), bytes everywhere
else. This package imports the pure core only and never talks to the chain.

A document's status is not stored: it is ``pending`` while its id is in the
``pending_document`` queue and its batch's status afterwards (``batch_member``
holds its batch and leaf index), so one update moves a whole batch and
sealing never rewrites a document row.

The package: ``tables`` (the tables and row types), ``connection`` (engine,
migrations, sessions), ``lookups``, ``bulk`` (registrations), ``batches``,
``tiles`` (the log), ``api_keys`` and ``leases``; :class:`Store` combines them.
"""

from __future__ import annotations

from docanchor.store.api_keys import StoreApiKeys
from docanchor.store.batches import StoreBatches
from docanchor.store.bulk import StoreRegistrations
from docanchor.store.connection import SCHEMA_HEAD, StoreConnection, close_all_stores
from docanchor.store.leases import StoreLeases
from docanchor.store.lookups import LookupRows, StoreLookups
from docanchor.store.tables import (
    ApiKey,
    Batch,
    BatchMember,
    Document,
    DocumentRow,
    DocumentView,
    Entity,
    HexDigest,
    LogEntryRow,
    LogTile,
    NewRegistration,
    PendingDocument,
    ServiceLock,
)
from docanchor.store.tiles import StoreLog
from docanchor.vocabulary import utcnow


class Store(StoreRegistrations, StoreBatches, StoreLog, StoreApiKeys, StoreLeases):
    """Database access for the service. Thread-safe; one per process."""


__all__ = [
    "SCHEMA_HEAD",
    "ApiKey",
    "Batch",
    "BatchMember",
    "Document",
    "DocumentRow",
    "DocumentView",
    "Entity",
    "HexDigest",
    "LogEntryRow",
    "LogTile",
    "LookupRows",
    "NewRegistration",
    "PendingDocument",
    "ServiceLock",
    "Store",
    "StoreApiKeys",
    "StoreBatches",
    "StoreConnection",
    "StoreLeases",
    "StoreLog",
    "StoreLookups",
    "StoreRegistrations",
    "close_all_stores",
    "utcnow",
]

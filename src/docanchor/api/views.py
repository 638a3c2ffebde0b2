"""The verify answer and the caches of the hot look-ups (plain dicts, cheap on the
hot paths; the shapes of what they hold come from :mod:`docanchor.presenters`).

Public summaries never carry salts; receipts do, because a receipt is what
lets its holder prove inclusion. Nothing here touches the chain.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from docanchor.presenters import document_versions, registration_summary
from docanchor.service import DocAnchorService, DocumentView


class ReceiptCache:
    """Signed receipts by document and the state of its batch (bounded, thread-safe).

    A receipt changes only when its batch does (sealed, anchored, moved by a
    reorganisation, confirmed), so the batch's status and anchor are part of
    the key; rebuilding and signing on every look-up would dominate the
    verify path.
    """

    def __init__(self, service: DocAnchorService, size: int = 8192) -> None:
        self._service = service
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def receipt(self, view: DocumentView) -> dict[str, Any]:
        batch = view.batch
        key = (
            view.document.id,
            None
            if batch is None
            else (
                batch.id,
                batch.status,
                batch.tx_hash,
                None if batch.anchor is None else batch.anchor.block_hash,
            ),
        )
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = self._service.receipt_json(view)
        with self._lock:
            self._items[key] = made
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return made


def verify_answer(
    service: DocAnchorService,
    receipts: ReceiptCache,
    digest: bytes,
    *,
    filename: str | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """What ``POST /v1/verify`` answers for a digest (from the database only)."""
    sha = digest.hex()
    views, family = service.lookup_with_versions(sha)
    return _verify_json(receipts, sha, views, family, filename=filename, size=size)


def _verify_json(
    receipts: ReceiptCache,
    sha: str,
    views: list[DocumentView],
    family: list[DocumentView],
    *,
    filename: str | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "status": DocAnchorService.best_status(views),
        "sha256": sha,
        "receipts": [receipts.receipt(v) for v in views],
        "registrations": [registration_summary(v) for v in views],
        "versions": document_versions(family, sha),
    }
    if filename is not None:
        answer["filename"] = filename
    if size is not None:
        answer["size"] = size
    return answer


def encode_json(data: Any) -> bytes:
    """JSON as the API's responses carry it (what Starlette's JSONResponse writes)."""
    return json.dumps(
        data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


class VerifyCache:
    """Encoded ``POST /v1/verify`` answers, keyed on the digest and the stored values
    they were built from (bounded, thread-safe).

    Every look-up still reads the database (one statement): an answer is a function
    of the digest and what it read (the documents, their versions and every column
    of their batches; receipts depend on nothing else), so a registration, a sealing,
    an anchor or a reorganisation changes the key, and the next look-up builds a new
    answer. What the cache saves is building the answer (receipts, versions) and
    encoding it, most of the cost of a look-up.
    """

    def __init__(self, service: DocAnchorService, receipts: ReceiptCache, size: int = 8192) -> None:
        self._service = service
        self._receipts = receipts
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, digest: bytes) -> tuple[str, bytes]:
        """(status, encoded answer) of the verify look-up of ``digest``."""
        sha = digest.hex()
        service = self._service
        # Keyed on the rows as read (every stored value the answer depends on): a hit
        # builds no views, batches or receipts.
        rows = service.lookup_rows(sha)
        key = (sha, rows)
        if rows:
            with self._lock:
                found = self._items.get(key)
                if found is not None:
                    self._items.move_to_end(key)
                    return found
        views, family = service.views_of_lookup(rows, sha)
        data = _verify_json(self._receipts, sha, views, family)
        made = (str(data["status"]), encode_json(data))
        if not views:  # unknown digests are cheap to answer and would only evict known ones
            return made
        with self._lock:
            self._items[key] = made
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return made


__all__ = ["ReceiptCache", "VerifyCache", "encode_json", "verify_answer"]

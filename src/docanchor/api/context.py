"""What the routes share: settings, the service, lazy chain access, metrics, the loop.

The chain is optional for the public look-ups: the service that answers
them has no chain, and the node is contacted only by the endpoints and the
loop that need it, lazily, and again after a failure. A node that is down
therefore never stops ``/v1/verify`` by digest from answering from the
database; ``/healthz`` reports it.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Request

from docanchor.api.loop import AnchorLoop
from docanchor.api.redact import redact
from docanchor.api.views import ReceiptCache, VerifyCache
from docanchor.config import Settings
from docanchor.errors import DocAnchorError
from docanchor.metrics import Metrics
from docanchor.receipt import TrustedDeployment, TrustPolicy
from docanchor.service import ChainReader, DocAnchorService

_HEAD_TTL = 1.0


async def get_ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


class ApiContext:
    """One per app (``app.state.ctx``)."""

    def __init__(
        self, settings: Settings, service: DocAnchorService, *, owns_service: bool
    ) -> None:
        self.settings = settings
        self.service = service
        self.owns_service = owns_service
        self.metrics = Metrics(service)
        self.receipts = ReceiptCache(service)
        self.verify_cache = VerifyCache(service, self.receipts)
        # SQLite reads are local and take a fraction of a millisecond, less than a hop
        # to the thread pool: the hot look-ups run them on the event loop.
        self.inline_reads = service.database_dialect == "sqlite"
        self._lock = threading.Lock()
        self._anchoring: DocAnchorService | None = None
        self._reader: ChainReader | None = None
        self._head: tuple[float, int | None] = (0.0, None)
        self.loop = AnchorLoop(
            self.anchoring_service,
            metrics=self.metrics,
            interval=settings.anchor_interval,
            batch_max=settings.batch_max,
            # Longer than a pass can take (a pass waits for a pending transaction up
            # to tx_pending_wait per batch), so that a slow pass keeps its lease.
            lease_seconds=max(4 * settings.anchor_interval, 4 * settings.tx_pending_wait + 60.0),
            describe=lambda text: redact(text, settings),
        )

    # --- the chain, lazily ----------------------------------------------------------

    def anchoring_service(self) -> DocAnchorService:
        """The service with a signing chain client (the one given, or one connected now)."""
        with self._lock:
            if self._anchoring is not None:
                return self._anchoring
            if self.service.has_chain:
                self._anchoring = self.service
                return self.service
            from docanchor.wiring import anchoring_service

            self._anchoring = anchoring_service(self.settings, self.service)
            return self._anchoring

    def reader(self) -> ChainReader:
        """A read-only view of the configured node (for trustless receipt checks)."""
        with self._lock:
            reader = self._reader
            if reader is None:
                from docanchor.wiring import open_reader

                reader = open_reader(self.settings, request_timeout=5.0, pin_chain_id=True)
                self._reader = reader
            return reader

    def node_chain_id(self, *, lenient: bool) -> int | None:
        """``DOCANCHOR_CHAIN_ID``, else the node's; with ``lenient``, None when it is down."""
        if self.settings.chain_id is not None:
            return self.settings.chain_id
        try:
            return self.reader().chain_id
        except DocAnchorError:
            if lenient:
                return None
            raise

    def trust(self, node_chain_id: int | None) -> TrustPolicy:
        """What this service trusts when it checks a receipt: its own deployment (and the
        data dir's previous ones), ``DOCANCHOR_TRUSTED_CONTRACTS``, its signing key and
        ``DOCANCHOR_TRUSTED_SIGNING_KEYS``.

        ``node_chain_id`` (see :meth:`node_chain_id`) places
        ``DOCANCHOR_CONTRACT_ADDRESS``; without it, that deployment is left out.
        """
        from docanchor.wiring import verifier_trust

        own_key = self.service.signing_public_key()
        return verifier_trust(self.settings, node_chain_id, own_key=own_key)

    def current_deployment(self, chain_id: int | None) -> TrustedDeployment | None:
        """The contract this service anchors in, when its chain id is known."""
        address = self.settings.contract_address
        if address is None:
            record = self.settings.recorded_deployment()
            if record is not None and (chain_id is None or record.get("chain_id") == chain_id):
                address, chain_id = str(record["address"]), record.get("chain_id")
        if address is None or not isinstance(chain_id, int):
            return None
        return TrustedDeployment(chain_id, address)

    def node_head(self) -> int:
        """The node's head block number; raises the chain error when unreachable."""
        head = self.reader().head_number()
        with self._lock:
            self._head = (time.monotonic(), head)
        return head

    def cached_head(self) -> int | None:
        """The head block number, at most a second old; None when the node is unreachable."""
        stamp, head = self._head
        if time.monotonic() - stamp < _HEAD_TTL:
            return head
        try:
            return self.node_head()
        except DocAnchorError:
            with self._lock:
                self._head = (time.monotonic(), None)
            return None

    def close(self) -> None:
        self.loop.stop()
        if self.owns_service:
            self.service.close()


Ctx = Annotated[ApiContext, Depends(get_ctx)]

__all__ = ["ApiContext", "Ctx", "get_ctx"]

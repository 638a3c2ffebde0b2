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
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from docanchor.api.loop import AnchorLoop
from docanchor.api.redact import redact
from docanchor.api.views import ReceiptCache, VerifyCache
from docanchor.config import Settings
from docanchor.errors import ChainError, DocAnchorError
from docanchor.metrics import Metrics
from docanchor.receipt import TrustedDeployment, TrustPolicy
from docanchor.service import ChainReader, DocAnchorService

if TYPE_CHECKING:
    from docanchor.chain import ChainClient

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
        self.metrics = Metrics(service.store)
        self.receipts = ReceiptCache(service)
        self.verify_cache = VerifyCache(service, self.receipts)
        # SQLite reads are local and take a fraction of a millisecond, less than a hop
        # to the thread pool: the hot look-ups run them on the event loop.
        self.inline_reads = service.store.dialect == "sqlite"
        self._lock = threading.Lock()
        self._anchoring: DocAnchorService | None = None
        self._client: ChainClient | None = None
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
            try:
                self.service.chain  # noqa: B018 - raises ChainError when it has none
            except ChainError:
                pass
            else:
                self._anchoring = self.service
                return self.service
            from docanchor.wiring import open_chain

            client = open_chain(self.settings, signer=True)
            base = self.service
            self._client = client
            self._anchoring = DocAnchorService(
                store=base.store,
                chain=client,
                signer=base.signer,
                confirmations=self.settings.required_confirmations(client.chain_id),
                batch_max=base.batch_max,
                tx_timeout=base.tx_timeout,
                tx_policy=base.tx_policy,
            )
            return self._anchoring

    def reader(self) -> ChainReader:
        """A read-only view of the configured node (for trustless receipt checks)."""
        with self._lock:
            if self._reader is None:
                from docanchor.chain import ChainClient

                reader: Any = ChainClient(
                    rpc_url=self.settings.rpc_url,
                    poa=self.settings.poa,
                    expected_chain_id=self.settings.chain_id,
                    request_timeout=5.0,
                )
                self._reader = reader
            assert self._reader is not None
            return self._reader

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

        signer: Any = self.service.signer
        own_key = signer.public_raw if signer is not None else None
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
            self.service.store.close()


Ctx = Annotated[ApiContext, Depends(get_ctx)]

__all__ = ["ApiContext", "Ctx", "get_ctx"]

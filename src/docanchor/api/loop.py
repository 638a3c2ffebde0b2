"""The background anchoring loop of ``docanchor serve``.

Every ``DOCANCHOR_ANCHOR_INTERVAL`` seconds (or at once when a registration
brings ``DOCANCHOR_BATCH_MAX`` documents into the queue) it runs one pass of
``DocAnchorService.run_locked``: confirm, seal, anchor, confirm, holding a
database lease so that only one of several API processes sharing a database
acts at a time. Passes in one process never overlap (one lock for the loop
and for ``POST /v1/batches``).

A failed pass is logged and counted, and the next one tries again; the loop
never takes the server down and never raises into its caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from docanchor.metrics import Metrics
from docanchor.service import BatchReport, DocAnchorService
from docanchor.vocabulary import BatchAction

log = logging.getLogger("docanchor.anchoring")

_MINED_ACTIONS: Final = frozenset(
    {BatchAction.ANCHORED, BatchAction.ADOPTED, BatchAction.MOVED, BatchAction.REANCHORED}
)


class AnchorLoop:
    """Runs anchoring passes on a thread, on a timer or when woken."""

    def __init__(
        self,
        anchoring: Callable[[], DocAnchorService],
        *,
        metrics: Metrics,
        interval: float,
        batch_max: int,
        lease_seconds: float,
        describe: Callable[[str], str] = str,
    ) -> None:
        self._describe = describe
        self._anchoring = anchoring
        self._metrics = metrics
        self.interval = interval
        self.batch_max = batch_max
        self.lease_seconds = lease_seconds
        self._pass_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._service: DocAnchorService | None = None
        self.last_error: str | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="docanchor-anchoring", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop, wait for the pass in progress (up to ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the anchoring pass in progress did not finish within %.0f s", timeout)
            self._thread = None
        service = self._service
        if service is not None:
            try:
                service.release()
            except Exception:
                log.warning("could not release the anchoring lease", exc_info=True)

    def wake(self) -> None:
        self._wake.set()

    def note_registered(self, created: int) -> None:
        """Registration endpoints call this; a full batch wakes the loop at once."""
        if created <= 0:
            return
        with self._queued_lock:
            self._queued += created
            full = self._queued >= self.batch_max
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_pass()
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_pass(self) -> list[BatchReport] | None:
        """One pass under the lease; None when another process holds it or the pass failed."""
        with self._pass_lock:
            with self._queued_lock:
                self._queued = 0
            try:
                service = self._anchoring()
                self._service = service
                reports = service.run_locked(ttl_seconds=self.lease_seconds)
                if reports is None:
                    self._metrics.observe_pass("skipped")
                    return None
                self._observe(service, reports)
            except Exception as exc:
                self.last_error = self._describe(str(exc))[:500]
                self._metrics.observe_pass("error")
                log.error("anchoring pass failed: %s", self.last_error, exc_info=not _expected(exc))
                return None
            self.last_error = None
            self._metrics.observe_pass("ok")
            return reports

    def _observe(self, service: DocAnchorService, reports: list[BatchReport]) -> None:
        mined = [r.batch for r in reports if r.action in _MINED_ACTIONS]
        self._metrics.observe_anchored(mined)
        for report in reports:
            if report.action != BatchAction.CONFIRMED:
                log.info(
                    "batch %s %s",
                    report.batch.id,
                    report.action,
                    extra={"batch_ids": [report.batch.id]},
                )
        confirmed = [r.batch.id for r in reports if r.action == BatchAction.CONFIRMED]
        if confirmed:
            log.info("%d batch(es) confirmed", len(confirmed), extra={"batch_ids": confirmed})
        head, stamp = service.chain_head()
        self._metrics.observe_head(head, stamp)


def _expected(exc: Exception) -> bool:
    from docanchor.errors import DocAnchorError

    return isinstance(exc, DocAnchorError)


__all__ = ["AnchorLoop"]

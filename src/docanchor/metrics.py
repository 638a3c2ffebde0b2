"""Prometheus metrics of one API process: a registry per app, never a global one.

Counters and histograms are updated by the HTTP middleware, the verify
endpoint and the anchoring loop; the database gauges (documents and batches
by status, seconds since the last confirmed batch) are computed when
``/metrics`` is scraped, so they hold for every process sharing the database.

An edge helper: it reads the database's figures through the service
(:class:`DatabaseFigures`), never talks to the chain itself (the loop hands
in what it saw) and never records keys, digests or anything a request
carried beyond its route.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class DatabaseFigures(Protocol):
    """What the gauges read (``DocAnchorService`` answers both)."""

    def document_counts(self) -> dict[str, int]: ...

    def batch_counts(self) -> tuple[dict[str, int], datetime | None]: ...


class AnchoredBatch(Protocol):
    @property
    def sealed_at(self) -> datetime | None: ...

    @property
    def anchored_at(self) -> datetime | None: ...

    @property
    def gas_used(self) -> int | None: ...


CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_ANCHOR_BUCKETS: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0)


class _DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (cheap aggregate queries)."""

    def __init__(self, figures: DatabaseFigures) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        documents = GaugeMetricFamily(
            "docanchor_documents", "Registered documents by status.", labels=["status"]
        )
        batches = GaugeMetricFamily("docanchor_batches", "Batches by status.", labels=["status"])
        since = GaugeMetricFamily(
            "docanchor_seconds_since_last_confirmed_batch",
            "Seconds since the newest batch was confirmed (absent before the first one).",
        )
        up = GaugeMetricFamily(
            "docanchor_database_up", "1 when the last scrape could read the database."
        )
        try:
            counts = self._figures.document_counts()
            by_status, last_confirmed = self._figures.batch_counts()
        except Exception:
            # A scrape must still answer when the database is down: say so instead.
            up.add_metric([], 0)
            yield up
            return
        for status, count in counts.items():
            documents.add_metric([status], count)
        for status, count in by_status.items():
            batches.add_metric([status], count)
        yield documents
        yield batches
        if last_confirmed is not None:
            seconds = (datetime.now(UTC) - last_confirmed).total_seconds()
            since.add_metric([], max(0.0, seconds))
            yield since
        up.add_metric([], 1)
        yield up


class Metrics:
    """The metrics of one app. Thread-safe (prometheus_client's own locking)."""

    def __init__(self, figures: DatabaseFigures | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_latency = Histogram(
            "docanchor_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verify_requests = Counter(
            "docanchor_verify_requests",
            "POST /v1/verify requests by outcome (the status found, or invalid).",
            ["outcome"],
            registry=self.registry,
        )
        self.anchoring_latency = Histogram(
            "docanchor_anchoring_latency_seconds",
            "Seconds from sealing a batch to its anchor being mined.",
            buckets=_ANCHOR_BUCKETS,
            registry=self.registry,
        )
        self.gas_used = Counter(
            "docanchor_anchor_gas_used",
            "Gas used by the anchoring transactions this process saw mined.",
            registry=self.registry,
        )
        self.anchor_transactions = Counter(
            "docanchor_anchor_transactions",
            "Anchoring transactions this process saw mined.",
            registry=self.registry,
        )
        self.loop_passes = Counter(
            "docanchor_anchor_loop_passes",
            "Passes of the anchoring loop, by result (ok, error, skipped: another process "
            "holds the lease).",
            ["result"],
            registry=self.registry,
        )
        self.loop_last_error = Gauge(
            "docanchor_anchor_loop_last_error_timestamp_seconds",
            "Unix time of the last failed anchoring pass (0: none yet).",
            registry=self.registry,
        )
        self.chain_head = Gauge(
            "docanchor_chain_head_block",
            "The node's head block number at the last anchoring pass.",
            registry=self.registry,
        )
        self.chain_head_lag = Gauge(
            "docanchor_chain_head_lag_seconds",
            "Seconds between the last anchoring pass and the timestamp of the head block "
            "it saw (a node that stopped following the chain shows a growing lag).",
            registry=self.registry,
        )
        self._lock = threading.Lock()
        self._latency_children: dict[tuple[str, str, int], Histogram] = {}
        self._verify_children: dict[str, Counter] = {}
        if figures is not None:
            self.registry.register(_DatabaseCollector(figures))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        # The labelled child found once per (route, method, status): labels() itself
        # takes a lock and builds its key on every call.
        key = (route, method, status)
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self.http_latency.labels(
                route, method, str(status)
            )
        child.observe(seconds)

    def observe_verify(self, outcome: str) -> None:
        child = self._verify_children.get(outcome)
        if child is None:
            child = self._verify_children[outcome] = self.verify_requests.labels(outcome)
        child.inc()

    def observe_anchored(self, batches: Sequence[AnchoredBatch]) -> None:
        """Record batches that this process just saw anchored (sealed → mined)."""
        for batch in batches:
            if batch.anchored_at is not None and batch.sealed_at is not None:
                seconds = (batch.anchored_at - batch.sealed_at).total_seconds()
                self.anchoring_latency.observe(max(0.0, seconds))
            if batch.gas_used:
                self.gas_used.inc(batch.gas_used)
                self.anchor_transactions.inc()

    def observe_head(self, head: int, head_timestamp: int | None) -> None:
        self.chain_head.set(head)
        if head_timestamp is not None:
            self.chain_head_lag.set(max(0.0, time.time() - head_timestamp))

    def observe_pass(self, result: str) -> None:
        self.loop_passes.labels(result).inc()
        if result == "error":
            self.loop_last_error.set(time.time())

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "Metrics"]

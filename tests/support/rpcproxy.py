"""A misbehaving JSON-RPC proxy in front of a real node, for tests.

It forwards every request to the node (a real Anvil) and can, by rule:
answer ``429`` or ``503`` (with or without ``Retry-After``) for a share of
requests, delay answers, or forward a request and then drop the connection
without answering (the node has the request; the client never hears back).
It counts the JSON-RPC methods it saw, so tests can assert that a client
sends no needless requests. Loopback only.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from docanchor.devnet import free_port


@dataclass
class Faults:
    """What the proxy does wrong.

    ``every`` = 3: requests 3, 6, 9, ... misbehave. ``share`` = 1/3: each
    request misbehaves with that probability (a seeded generator, so a run
    is repeatable; a fixed period could lock onto a client's own rhythm).
    """

    every: int = 0
    share: float = 0.0
    seed: int = 2026
    status: int = 429
    retry_after: str | None = None
    delay: float = 0.0
    drop_after_forward: frozenset[str] = frozenset()
    only_methods: frozenset[str] | None = None
    body_error: dict[str, Any] | None = None  # a JSON-RPC error answered with HTTP 200


@dataclass
class RpcProxy:
    upstream: str
    faults: Faults = field(default_factory=Faults)
    port: int = field(default_factory=free_port)
    methods: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    _count: int = 0
    _random: random.Random | None = None
    _random_for: Faults | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _misbehaves(self, method: str) -> bool:
        f = self.faults
        if f.only_methods is not None and method not in f.only_methods:
            return False
        with self._lock:
            if f.share > 0:
                if self._random is None or self._random_for is not f:
                    self._random, self._random_for = random.Random(f.seed), f
                return self._random.random() < f.share
            if f.every <= 0:
                return False
            self._count += 1
            return self._count % f.every == 0

    def forward(self, body: bytes) -> bytes:
        request = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            data: bytes = answer.read()
            return data

    def start(self) -> RpcProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    parsed = json.loads(body)
                    method = parsed[0]["method"] if isinstance(parsed, list) else parsed["method"]
                except (ValueError, KeyError, IndexError, TypeError):
                    method = "?"
                with proxy._lock:
                    proxy.methods[method] += 1
                faults = proxy.faults
                if faults.delay:
                    time.sleep(faults.delay)
                if proxy._misbehaves(method):
                    with proxy._lock:
                        proxy.refused[method] += 1
                    if faults.body_error is not None:
                        answer = json.dumps(
                            {"jsonrpc": "2.0", "id": parsed.get("id"), "error": faults.body_error}
                        ).encode()
                        self._answer(200, answer)
                        return
                    headers = {}
                    if faults.retry_after is not None:
                        headers["Retry-After"] = faults.retry_after
                    self._answer(faults.status, b"rate limited", headers)
                    return
                answer = proxy.forward(body)
                if method in faults.drop_after_forward:
                    # The node has it; the client never hears back.
                    self.close_connection = True
                    self.connection.close()
                    return
                self._answer(200, answer)

            def _answer(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def counting(self, action: Callable[[], Any]) -> tuple[Any, Counter[str]]:
        """Runs ``action`` and returns its result with the methods sent meanwhile."""
        with self._lock:
            before = Counter(self.methods)
        result = action()
        with self._lock:
            after = Counter(self.methods)
        return result, after - before

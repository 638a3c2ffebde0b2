"""Structured JSON logs with a request id, and the request middleware.

Every request gets an id (the client's ``X-Request-ID`` when it is a sane
token, else a fresh one), echoed in the response and attached to every log
line written while the request runs. The middleware also times requests for
the metrics and turns an unexpected exception into a logged 500 problem.

Never logs headers, bodies, keys or query strings: only the method, the path,
the route template, the status and the duration.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Final

from docanchor.metrics import Metrics
from docanchor.vocabulary import utc_text

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "docanchor_request_id", default=None
)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_FIELDS: Final = ("method", "path", "route", "status", "duration_ms", "client", "batch_ids")

_ACCESS_LOGGER: Final = "docanchor.http"
access_log = logging.getLogger(_ACCESS_LOGGER)
log = logging.getLogger("docanchor.api")


def current_request_id() -> str | None:
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": utc_text(datetime.fromtimestamp(record.created, UTC), timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or _request_id.get()
        if request_id:
            data["request_id"] = request_id
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(*, json_logs: bool = True, level: int = logging.INFO) -> None:
    """Route the root logger (and uvicorn's) to stderr, as JSON lines or plain text."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # docanchor.http writes the one access line of each request. uvicorn's own
    # access log stays off even where this runs after uvicorn configured it
    # (each worker of `serve --workers N` builds its app afterwards).
    logging.getLogger("uvicorn.access").propagate = False
    # Schema migrations narrate every plugin at INFO; their outcome is enough.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class RequestMiddleware:
    """Pure ASGI middleware: request id, access log, latency metric, last-resort 500."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        problem_500: Callable[[str], tuple[bytes, bytes]],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.problem_500 = problem_500

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        state = {"status": 500, "started": False}
        rid_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = int(message["status"])
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error while answering %s %s", scope["method"], scope["path"])
            state["status"] = 500
            if not state["started"]:
                body, content_type = self.problem_500(str(scope.get("path", "")))
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", content_type),
                            (b"content-length", str(len(body)).encode("ascii")),
                            rid_header,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) if route is not None else None
            template = template or ("/" if route is not None else "(unmatched)")
            status = int(state["status"])
            method, path = scope["method"], scope["path"]
            self.metrics.observe_request(template, method, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                # The record made directly: Logger.info would also look up its caller's
                # frame for every line, which an access line never shows.
                access_log.handle(
                    access_log.makeRecord(
                        _ACCESS_LOGGER,
                        logging.INFO,
                        __file__,
                        0,
                        "%s %s %s",
                        (method, path, status),
                        None,
                        extra={
                            "method": method,
                            "path": path,
                            "route": template,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 3),
                        },
                    )
                )
            _request_id.reset(token)


__all__ = ["JsonFormatter", "RequestMiddleware", "configure_logging", "current_request_id"]

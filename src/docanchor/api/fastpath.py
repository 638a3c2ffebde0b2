"""The hot path of ``POST /v1/verify``: a JSON digest answered below the framework.

A pure ASGI layer in front of the FastAPI router. It answers one request
shape only, the common and well-formed one: ``POST /v1/verify`` with a JSON
content type and a body that is exactly ``{"sha256": "<64 lowercase hex>"}``
(whitespace allowed), from the same :class:`~docanchor.api.views.VerifyCache`
the route uses, so the bytes are the route's. Everything else (other paths,
multipart uploads, other or malformed bodies, a database error) goes to the
app unchanged, with the body replayed, so that the route and the one set of
problem handlers word every error and the endpoint stays documented in
OpenAPI. Request ids, the access log and the metrics still apply: this layer
sits inside the request middleware.

Never answers a request differently from the route, and never reads more
than a small body before handing it on.
"""

from __future__ import annotations

import re
from typing import Any, Final

from starlette.concurrency import run_in_threadpool

from docanchor.api.context import ApiContext
from docanchor.api.logs import ASGIApp, Message, Receive, Scope, Send
from docanchor.errors import DocAnchorError

PATH: Final = "/v1/verify"
# Bigger bodies are never the one shape answered here: the route takes them.
MAX_BODY: Final = 1024
_DIGEST_BODY: Final = re.compile(rb'\s*\{\s*"sha256"\s*:\s*"([0-9a-f]{64})"\s*\}\s*')
_JSON_HEADERS: Final = (b"content-type", b"application/json")


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = bytes(value).split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (
                kind.startswith(b"application/") and kind.endswith(b"+json")
            )
    return False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class VerifyFastPath:
    """Answers ``POST /v1/verify`` with a JSON digest; passes everything else on.

    ``inline``: run the look-up on the event loop rather than in the thread pool.
    Right for SQLite, whose reads are local and take a fraction of a millisecond
    (less than the hop to a thread); a network database goes to the thread pool.
    """

    def __init__(self, app: ASGIApp, *, ctx: ApiContext, route: Any, inline: bool) -> None:
        self.app = app
        self.ctx = ctx
        self.route = route
        self.inline = inline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"][len(scope.get("root_path", "")) :] != PATH
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        total = 0
        more = True
        while more and total <= MAX_BODY:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        found = None if more else _DIGEST_BODY.fullmatch(b"".join(chunks))
        if found is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        digest = bytes.fromhex(found.group(1).decode("ascii"))
        try:
            if self.inline:
                status, content = self.ctx.verify_cache.answer(digest)
            else:
                status, content = await run_in_threadpool(self.ctx.verify_cache.answer, digest)
        except DocAnchorError:
            # The route asks again and answers with the problem document.
            await self.app(scope, _replay(messages, receive), send)
            return
        self.ctx.metrics.observe_verify(status)
        scope["route"] = self.route  # the request metrics and log name the route
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(content)).encode("ascii")), _JSON_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": content})


__all__ = ["MAX_BODY", "PATH", "VerifyFastPath"]

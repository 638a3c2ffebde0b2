"""The hot paths, answered below the framework: ``POST /v1/verify`` with a JSON
digest, and ``POST /v1/documents`` (single registration, see :class:`RegisterFastPath`).

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

from fastapi.exceptions import RequestValidationError
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


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The messages read, and the whole body, or None when it is longer than
    ``limit`` (or the client left): the caller then replays the messages."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    total = 0
    more = True
    while more and total <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        total += len(chunk)
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    return messages, None if more else b"".join(chunks)


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
        messages, body = await _read_body(receive, MAX_BODY)
        found = None if body is None else _DIGEST_BODY.fullmatch(body)
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


# --- POST /v1/documents ----------------------------------------------------------------

REGISTER_PATH: Final = "/v1/documents"
# Bodies up to this size are read whole here; bigger uploads stream through the route.
MAX_REGISTER_BODY: Final = 1024 * 1024
_REGISTRAR_ROLES: Final = frozenset({"entity", "admin"})


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


class RegisterFastPath:
    """Answers ``POST /v1/documents`` (multipart file or JSON digest) below the framework.

    The request is authenticated, parsed and registered by the same functions the
    route uses (``auth.authenticate``, ``uploads.parse_form``, ``RegisterBody``,
    ``routes_entity.registration_answer``), in one trip to the thread pool, so the
    answer is the route's byte for byte. Whatever is not the well-formed common case
    (no or a non-Bearer key, a role that may not register, a body over
    ``MAX_REGISTER_BODY`` or without a length, another content type, anything
    refused) goes to the route with its body replayed, and the route words the
    problem. Registration is idempotent, so the route's second attempt after a
    database error here answers as a repeat would.
    """

    def __init__(self, app: ASGIApp, *, ctx: ApiContext, route: Any) -> None:
        self.app = app
        self.ctx = ctx
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"][len(scope.get("root_path", "")) :] != REGISTER_PATH
        ):
            await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        content_type = _header(scope, b"content-type")
        length = _header(scope, b"content-length")
        if (
            authorization is None
            or authorization[:7].lower() != b"bearer "
            or content_type is None
            or length is None
            or not length.isdigit()
            or int(length) > MAX_REGISTER_BODY
        ):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive, MAX_REGISTER_BODY)
        if body is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        secret = authorization[7:].strip().decode("latin-1")
        try:
            answer = await run_in_threadpool(
                self._register, secret, content_type.decode("latin-1"), body
            )
        except (DocAnchorError, RequestValidationError, ValueError):
            answer = None
        if answer is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        content, created = answer
        scope["route"] = self.route  # the request metrics and log name the route
        await send(
            {
                "type": "http.response.start",
                "status": 201 if created else 200,
                "headers": [(b"content-length", str(len(content)).encode("ascii")), _JSON_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": content})

    def _register(self, secret: str, content_type: str, body: bytes) -> tuple[bytes, bool] | None:
        """The answer, or None when the route should take the request."""
        from docanchor.api.auth import authenticate
        from docanchor.api.routes_entity import (
            REGISTER_BODY_LIMIT,
            metadata_field,
            registration_answer,
        )
        from docanchor.api.schemas import RegisterBody
        from docanchor.api.uploads import parse_form, parse_json

        if not secret:
            return None
        kind = content_type.split(";", 1)[0].strip().lower()
        ctx = self.ctx
        metadata: dict[str, Any] | None
        if kind == "multipart/form-data":
            key = authenticate(ctx.service.store, secret)
            if key.role not in _REGISTRAR_ROLES:
                return None
            form = parse_form(
                content_type,
                body,
                max_file_bytes=ctx.settings.max_upload_bytes,
                text_fields=frozenset({"metadata"}),
            )
            assert form.sha256 is not None
            digest = form.sha256
            metadata = metadata_field(form.fields.get("metadata"))
        elif kind == "application/json" or (
            kind.startswith("application/") and kind.endswith("+json")
        ):
            if len(body) > REGISTER_BODY_LIMIT:
                return None
            key = authenticate(ctx.service.store, secret)
            if key.role not in _REGISTRAR_ROLES:
                return None
            parsed = parse_json(body, RegisterBody)  # refused: the route words it
            digest, metadata = bytes.fromhex(parsed.sha256), parsed.metadata
        else:
            return None
        return registration_answer(ctx, key, digest, metadata)


__all__ = [
    "MAX_BODY",
    "MAX_REGISTER_BODY",
    "PATH",
    "REGISTER_PATH",
    "RegisterFastPath",
    "VerifyFastPath",
]

"""What every answer carries, and what no request may hold: two pure ASGI middlewares.

:class:`SecurityHeaders` adds ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: no-referrer`` to every answer, and a Content-Security-Policy
to every HTML page (the web page at ``/``, the API documentation at ``/docs``):
a ``<meta>`` policy cannot carry ``frame-ancestors``, so the server sends it.

:class:`RefuseNul` answers a request whose path or query string holds a NUL
character (U+0000, sent as ``%00``) with a 422 problem before any route runs:
no database stores it, and no docanchor value needs it.

Neither reads the body; both cost a few comparisons per request.
"""

from __future__ import annotations

import json
from typing import Final

from docanchor.api.logs import ASGIApp, Message, Receive, Scope, Send
from docanchor.api.problems import PROBLEM_JSON, problem_body

# The page talks JSON-RPC to a node of the user's choice, hence http: and https:
# in connect-src. Everything else comes from the server itself.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_SECURITY_NAMES: Final = frozenset(name for name, _ in SECURITY_HEADERS)
_CSP: Final = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii"))


class SecurityHeaders:
    """Adds the security headers to every HTTP answer (and a CSP to HTML ones)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                html = has_csp = False
                set_here: set[bytes] = set()
                for name, value in headers:
                    lower = bytes(name).lower()
                    if lower == b"content-type":
                        html = bytes(value).lower().startswith(b"text/html")
                    elif lower == _CSP[0]:
                        has_csp = True
                    elif lower in _SECURITY_NAMES:
                        set_here.add(lower)
                if set_here:
                    headers.extend(h for h in SECURITY_HEADERS if h[0] not in set_here)
                else:
                    headers.extend(SECURITY_HEADERS)
                if html and not has_csp:
                    headers.append(_CSP)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RefuseNul:
    """Answers 422 to a request with U+0000 in its path or query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = bytes(scope.get("query_string", b""))
            where = None
            if "\x00" in scope["path"]:
                where = "the path"
            elif b"%00" in query or b"\x00" in query:
                where = "the query string"
            if where is not None:
                await _refuse(scope, send, where)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send, where: str) -> None:
    body = problem_body(
        422,
        "Invalid request",
        f"{where} holds a NUL character (U+0000, %00), which no docanchor value may hold",
        instance=scope["path"].replace("\x00", "%00"),
    )
    content = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode("ascii")),
                (b"content-length", str(len(content)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "RefuseNul", "SecurityHeaders"]

"""RFC 9457 problem details: every error the API answers is one of these.

One handler per kind of exception: :class:`~docanchor.errors.DocAnchorError`
(by its ``http_status`` and ``title``), FastAPI's request validation errors,
Starlette's HTTP exceptions (unknown route, wrong method). Unexpected
exceptions are turned into a 500 problem by the request middleware
(:mod:`docanchor.api.logs`), which logs them; a traceback never reaches the
client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from docanchor.api.logs import current_request_id
from docanchor.api.redact import redact
from docanchor.errors import AuthenticationError, DocAnchorError, RetryLaterError, StoreError

PROBLEM_JSON: Final = "application/problem+json"
DATABASE_UNREACHABLE: Final = "database unreachable"
log = logging.getLogger("docanchor.api")
_MAX_DETAIL: Final = 2000


def problem_body(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str,
    type_: str = "about:blank",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail[:_MAX_DETAIL],
        "instance": instance,
    }
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return body


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, title, detail, instance=request.url.path, type_=type_, extra=extra),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _location(loc: Sequence[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "request"


def validation_detail(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """A one-paragraph detail and a compact list of the validation errors."""
    items: list[dict[str, Any]] = []
    for error in errors[:20]:
        loc = _location(error.get("loc", ()))
        msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        items.append({"loc": loc, "msg": msg, "type": str(error.get("type", ""))})
    detail = "; ".join(f"{i['loc']}: {i['msg']}" for i in items) or "the request is invalid"
    if len(errors) > 20:
        detail += f"; and {len(errors) - 20} more"
    return detail, items


def public_store_detail(exc: StoreError) -> str:
    """What a caller learns of a database failure: never a host, a database or a user
    name (the driver's message names them); the log has the whole message."""
    log.warning("database error: %s", exc.message)
    if isinstance(exc, RetryLaterError):
        return (
            "the database is busy with concurrent writes; nothing was stored, "
            f"retry in {exc.retry_after} s"
        )
    return DATABASE_UNREACHABLE


async def _docanchor_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DocAnchorError)
    headers: dict[str, str] | None = None
    if isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RetryLaterError):
        headers = {"Retry-After": str(exc.retry_after)}
    detail = exc.message
    ctx = getattr(request.app.state, "ctx", None)
    if isinstance(exc, StoreError):
        detail = public_store_detail(exc)
    elif ctx is not None:
        detail = redact(detail, ctx.settings)
    return problem(
        request, exc.http_status, exc.title, detail, type_=exc.problem_type, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail, items = validation_detail(list(exc.errors()))
    return problem(request, 422, "Invalid request", detail, extra={"errors": items})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(status)
    if status == 404 and detail == "Not Found":
        detail = (
            f"there is nothing at {request.url.path}; the API lives under /v1 "
            "(see /docs for every endpoint)"
        )
    elif status == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
        detail = f"{request.method} is not allowed on {request.url.path}" + (
            f"; use {allowed}" if allowed else ""
        )
    return problem(request, status, _phrase(status), detail, headers=exc.headers)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DocAnchorError, _docanchor_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


__all__ = [
    "DATABASE_UNREACHABLE",
    "PROBLEM_JSON",
    "install_problem_handlers",
    "problem",
    "problem_body",
    "public_store_detail",
]

"""API keys at the HTTP edge: the FastAPI dependencies that check them.

How keys are made, stored and checked is :mod:`docanchor.keys`, reached
through the service. Never logs a key and never puts one in an error message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from docanchor.errors import AuthenticationError
from docanchor.keys import READER_ROLES, REGISTRAR_ROLES, ROLES, KeyRecord, check_role
from docanchor.service import DocAnchorService

# --- request dependencies ----------------------------------------------------------

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `docanchor keys create`, sent as "
    "`Authorization: Bearer <key>`.",
)


def bearer_secret(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The key sent as ``Authorization: Bearer <key>``; 401 when there is none.

    Reads no database: an async route checks this on the event loop, then looks
    the key up (:func:`authorize`) in the same thread-pool hop as its work.
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationError(
            "this endpoint needs an API key: send the header Authorization: Bearer <key>"
        )
    return credentials.credentials


def authorize(service: DocAnchorService, secret: str, roles: tuple[str, ...]) -> KeyRecord:
    """The key of ``secret`` when it is known, not revoked and has one of ``roles``."""
    return service.authorize(secret, roles)


def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> KeyRecord:
    service: DocAnchorService = request.app.state.ctx.service
    return service.authorize(bearer_secret(credentials), ROLES)


def require_role(*roles: str) -> Callable[[KeyRecord], KeyRecord]:
    def check(key: Annotated[KeyRecord, Depends(current_key)]) -> KeyRecord:
        return check_role(key, roles)

    return check


RegistrarKey = Annotated[KeyRecord, Depends(require_role(*REGISTRAR_ROLES))]
ReaderKey = Annotated[KeyRecord, Depends(require_role(*READER_ROLES))]
# For async routes: the credentials only (no look-up yet), documented as the same
# security scheme; the route calls bearer_secret, then authorize in its one hop.
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

__all__ = [
    "READER_ROLES",
    "REGISTRAR_ROLES",
    "BearerCredentials",
    "ReaderKey",
    "RegistrarKey",
    "authorize",
    "bearer_secret",
    "current_key",
]

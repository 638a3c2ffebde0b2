"""API keys: how they are made and stored, and the FastAPI dependencies that check them.

A key is shown once, when it is created; the database keeps only its
SHA-256 and a short prefix to recognise it in listings. Roles: ``entity``
(registers and anchors for its own entity), ``auditor`` (reads everything,
registers nothing), ``admin`` (everything).

Never logs a key and never puts one in an error message.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from docanchor.api.views import iso
from docanchor.errors import AuthenticationError, InputError, PermissionDeniedError
from docanchor.store import ApiKey, Store

ROLES: Final = ("entity", "auditor", "admin")
KEY_PREFIX: Final = "dak_"
_SHOWN_PREFIX: Final = 12


@dataclass(frozen=True)
class NewKey:
    """A key just created: the secret (shown once) and its stored row."""

    secret: str
    row: ApiKey


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    store: Store, *, role: str, entity_ruc: str | None, label: str | None = None
) -> NewKey:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    entity = (entity_ruc or "").strip() or None
    if role == "entity" and entity is None:
        raise InputError("an entity key needs --entity RUC (the entity it registers for)")
    if entity is not None and len(entity) > 32:
        raise InputError("an entity RUC has at most 32 characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = store.add_api_key(
        ApiKey(
            key_hash=key_hash(secret),
            prefix=secret[:_SHOWN_PREFIX],
            role=role,
            entity_ruc=entity,
            label=label,
        )
    )
    return NewKey(secret, row)


def key_json(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "prefix": key.prefix,
        "role": key.role,
        "entity": key.entity_ruc,
        "label": key.label,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


# --- request dependencies ----------------------------------------------------------

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `docanchor keys create`, sent as "
    "`Authorization: Bearer <key>`.",
)


def authenticate(store: Store, secret: str) -> ApiKey:
    key = store.api_key_by_hash(key_hash(secret))
    if key is None:
        raise AuthenticationError(
            "the API key is not known; check it, or create one with `docanchor keys create`"
        )
    if key.revoked_at is not None:
        raise AuthenticationError(
            f"the API key {key.prefix}… was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC"
        )
    return key


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


def check_role(key: ApiKey, roles: tuple[str, ...]) -> ApiKey:
    if key.role not in roles:
        raise PermissionDeniedError(
            f"a key with role {key.role!r} may not do this; it needs role "
            + " or ".join(repr(r) for r in roles)
        )
    return key


def authorize(store: Store, secret: str, roles: tuple[str, ...]) -> ApiKey:
    """The key of ``secret`` when it is known, not revoked and has one of ``roles``."""
    return check_role(authenticate(store, secret), roles)


def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    store: Store = request.app.state.ctx.service.store
    return authenticate(store, bearer_secret(credentials))


def require_role(*roles: str) -> Callable[[ApiKey], ApiKey]:
    def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        return check_role(key, roles)

    return check


REGISTRAR_ROLES: Final = ("entity", "admin")
READER_ROLES: Final = ("entity", "auditor", "admin")
RegistrarKey = Annotated[ApiKey, Depends(require_role(*REGISTRAR_ROLES))]
ReaderKey = Annotated[ApiKey, Depends(require_role(*READER_ROLES))]
# For async routes: the credentials only (no look-up yet), documented as the same
# security scheme; the route calls bearer_secret, then authorize in its one hop.
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

__all__ = [
    "READER_ROLES",
    "REGISTRAR_ROLES",
    "ROLES",
    "BearerCredentials",
    "NewKey",
    "ReaderKey",
    "RegistrarKey",
    "authenticate",
    "authorize",
    "bearer_secret",
    "check_role",
    "create_key",
    "key_hash",
    "key_json",
]

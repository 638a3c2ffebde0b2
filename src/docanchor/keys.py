"""API keys: how they are made, stored, checked and revoked.

Used by the HTTP API's authentication and by ``docanchor keys``, always through
:class:`~docanchor.service.DocAnchorService`. A key is shown once, when it is
created; the database keeps only its SHA-256 and a short prefix to recognise
it in listings. Roles: ``entity`` (registers and anchors for its own entity),
``auditor`` (reads everything, registers nothing), ``admin`` (everything).

Never logs a key and never puts one in an error message.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from docanchor.errors import AuthenticationError, InputError, PermissionDeniedError
from docanchor.store import ApiKey, Store

ROLES: Final = ("entity", "auditor", "admin")
REGISTRAR_ROLES: Final = ("entity", "admin")
READER_ROLES: Final = ("entity", "auditor", "admin")
KEY_PREFIX: Final = "dak_"
_SHOWN_PREFIX: Final = 12
ENTITY_RUC_MAX: Final = 32


@dataclass(frozen=True)
class KeyRecord:
    """An API key as the edges see it (never its secret nor its hash)."""

    id: int
    prefix: str
    role: str
    entity_ruc: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    """A key just created: the secret (shown once) and its record."""

    secret: str
    key: KeyRecord


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def record_of(row: ApiKey) -> KeyRecord:
    assert row.id is not None  # a stored row has its id
    return KeyRecord(
        id=row.id,
        prefix=row.prefix,
        role=row.role,
        entity_ruc=row.entity_ruc,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def create_key(
    store: Store, *, role: str, entity_ruc: str | None, label: str | None = None
) -> NewKey:
    """A new key of ``role`` (for ``entity_ruc``, which an entity key needs)."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    entity = (entity_ruc or "").strip() or None
    if role == "entity" and entity is None:
        raise InputError("an entity key needs --entity RUC (the entity it registers for)")
    if entity is not None and len(entity) > ENTITY_RUC_MAX:
        raise InputError(f"an entity RUC has at most {ENTITY_RUC_MAX} characters")
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
    return NewKey(secret, record_of(row))


def list_keys(store: Store) -> list[KeyRecord]:
    return [record_of(row) for row in store.api_keys()]


def revoke_key(store: Store, key_id: int, now: datetime) -> KeyRecord | None:
    """The revoked key; None when there is no key ``key_id``."""
    row = store.revoke_api_key(key_id, now)
    return None if row is None else record_of(row)


def authenticate(store: Store, secret: str) -> KeyRecord:
    """The key of ``secret``; :class:`AuthenticationError` when unknown or revoked."""
    row = store.api_key_by_hash(key_hash(secret))
    if row is None:
        raise AuthenticationError(
            "the API key is not known; check it, or create one with `docanchor keys create`"
        )
    if row.revoked_at is not None:
        raise AuthenticationError(
            f"the API key {row.prefix}… was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC"
        )
    return record_of(row)


def check_role(key: KeyRecord, roles: tuple[str, ...]) -> KeyRecord:
    """``key`` when its role is one of ``roles``; :class:`PermissionDeniedError` otherwise."""
    if key.role not in roles:
        raise PermissionDeniedError(
            f"a key with role {key.role!r} may not do this; it needs role "
            + " or ".join(repr(r) for r in roles)
        )
    return key


def authorize(store: Store, secret: str, roles: tuple[str, ...]) -> KeyRecord:
    """The key of ``secret`` when it is known, not revoked and has one of ``roles``."""
    return check_role(authenticate(store, secret), roles)


__all__ = [
    "KEY_PREFIX",
    "READER_ROLES",
    "REGISTRAR_ROLES",
    "ROLES",
    "KeyRecord",
    "NewKey",
    "authenticate",
    "authorize",
    "check_role",
    "create_key",
    "key_hash",
    "list_keys",
    "revoke_key",
]

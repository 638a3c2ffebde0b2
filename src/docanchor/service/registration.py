"""Registration: the metadata rules, identifiers, salts, and storing new registrations.

Never talks to the chain.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from docanchor import hashing
from docanchor.errors import InputError, MetadataError, PermissionDeniedError
from docanchor.service.base import ServiceBase
from docanchor.service.records import DocumentView, document_views
from docanchor.store import NewRegistration


class Registration(NamedTuple):
    view: DocumentView
    created: bool


NUL: Final = "\x00"
# json.dumps(value, sort_keys=True) with the encoder made once, not once per call.
_SAME_METADATA: Final = json.JSONEncoder(sort_keys=True)


def _holds_nul(value: Any) -> bool:
    """Whether a string in ``value`` (a member name too) holds U+0000. Iterative.

    The check alone, with no paths: it runs on every metadata object, and the
    path of the culprit is worked out only when there is one.
    """
    stack: list[Any] = [value]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            if NUL in item:
                return True
        elif kind is dict or isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return True
                push(child)
        elif isinstance(item, (list, tuple)):
            extend(item)
    return False


def _refuse_nul(value: Any, what: str) -> None:
    """Raise InputError when a string in ``value`` (a member name too) holds U+0000.

    PostgreSQL text cannot hold it, and no procurement field needs it. Iterative.
    """
    if not _holds_nul(value):
        return
    stack: list[tuple[Any, str]] = [(value, what)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                raise MetadataError(f"{path} holds a NUL character (U+0000), which is not allowed")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    raise MetadataError(
                        f"a member name in {path} holds a NUL character (U+0000), "
                        "which is not allowed"
                    )
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))


def identifier(value: str, what: str) -> str:
    """A reference or entity RUC as docanchor stores and looks it up: NFC, no NUL.

    Text that looks the same must name the same version history, whichever
    Unicode normalisation the client's keyboard produced.
    """
    if NUL in value:
        raise InputError(f"{what} holds a NUL character (U+0000), which is not allowed")
    return unicodedata.normalize("NFC", value)


def metadata_for(
    metadata: Mapping[str, Any] | None, entity_ruc: str | None
) -> tuple[dict[str, Any], str]:
    """The metadata object to register and the registering entity.

    The entity is ``entity_ruc`` when given (and then must agree with any
    ``entity_ruc`` in the metadata, which it fills in when absent), else the
    metadata's ``entity_ruc``, else none (the empty string).

    The ``reference`` and ``entity_ruc`` members are replaced by their NFC form
    (they key the version history); no other value is changed. A NUL character
    anywhere (names included) is refused, and so is an empty ``entity_ruc``.
    """
    meta = dict(metadata or {})
    _refuse_nul(meta, "metadata")
    named = meta.get("entity_ruc")
    if named is not None:
        if not isinstance(named, str):
            raise InputError("metadata entity_ruc must be a string")
        if not named.strip():
            raise MetadataError(
                "metadata entity_ruc is empty: name the entity's RUC or leave the member out"
            )
        named = meta["entity_ruc"] = identifier(named, "metadata entity_ruc")
    reference = meta.get("reference")
    if isinstance(reference, str):
        meta["reference"] = identifier(reference, "metadata reference")
    if entity_ruc:
        entity_ruc = identifier(entity_ruc, "the entity RUC")
        if named is not None and named != entity_ruc:
            raise InputError(
                f"metadata names entity {named}, but the registration is for entity {entity_ruc}"
            )
        meta["entity_ruc"] = entity_ruc
        return meta, entity_ruc
    return meta, named or ""


def _text_member(meta: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"metadata {key} must be a string")
    if len(value) > limit:
        raise InputError(f"metadata {key} is longer than {limit} characters")
    return value


class Registrations(ServiceBase):
    """Registering documents, each with its own salt."""

    def prepare_registrations(
        self,
        digests: Sequence[bytes],
        metadata: Mapping[str, Any] | None = None,
        *,
        entity_ruc: str | None = None,
    ) -> list[NewRegistration]:
        """Registrations of many documents sharing one metadata object, each with its own salt."""
        meta, entity = metadata_for(metadata, entity_ruc)
        canonical = hashing.canonical_metadata(meta)
        metadata_json = canonical.decode("utf-8")
        metadata_sha256 = hashing.sha256(canonical)
        entity = _text_member({"entity_ruc": entity}, "entity_ruc", 32) or ""
        reference = _text_member(meta, "reference", 200)
        doc_type = _text_member(meta, "type", 100)
        # One call to the CSPRNG for the whole list: 32 fresh bytes per registration.
        salts = os.urandom(hashing.SALT_SIZE * len(digests))
        step = hashing.SALT_SIZE
        out: list[NewRegistration] = []
        append = out.append
        for n, digest in enumerate(digests):
            if len(digest) != hashing.DIGEST_SIZE:
                raise InputError("a document digest is 32 bytes (64 hex characters)")
            append(
                NewRegistration(
                    bytes(digest),
                    salts[n * step : (n + 1) * step],
                    metadata_json,
                    metadata_sha256,
                    entity,
                    reference,
                    doc_type,
                )
            )
        return out

    def prepare_each(
        self,
        items: Sequence[tuple[bytes, Mapping[str, Any] | None]],
        entity_for: Callable[[Mapping[str, Any] | None], str | None],
    ) -> list[NewRegistration]:
        """:meth:`prepare_registrations` of each (digest, metadata) item, in order, for
        the entity ``entity_for(metadata)`` names (the caller's policy; it may refuse).

        Every item is checked before anything is returned, in order; an error names
        the first item at fault (``documents[i]: ...``). Equal metadata is checked
        and canonicalised once; the salts come from one call to the CSPRNG.
        """
        salts = os.urandom(hashing.SALT_SIZE * len(items))
        step = hashing.SALT_SIZE
        # The key tells true from 1 and "1" from 1, as the canonical text does. It is
        # text, not a tuple of the members: 10,000 tuples kept in the cache would be
        # walked by every garbage collection the request sets off.
        same_text = _SAME_METADATA.encode
        shared: dict[tuple[str, str | None], tuple[str, bytes, str, str | None, str | None]] = {}
        out: list[NewRegistration] = []
        append = out.append
        for n, (digest, metadata) in enumerate(items):
            try:
                key_text = same_text(metadata) if metadata else ""
                entity_ruc = entity_for(metadata)
                same = (key_text, entity_ruc)
                known = shared.get(same)
                if known is None:
                    meta, entity = metadata_for(metadata, entity_ruc)
                    canonical = hashing.canonical_metadata(meta)
                    known = shared[same] = (
                        canonical.decode("utf-8"),
                        hashing.sha256(canonical),
                        _text_member({"entity_ruc": entity}, "entity_ruc", 32) or "",
                        _text_member(meta, "reference", 200),
                        _text_member(meta, "type", 100),
                    )
                if len(digest) != hashing.DIGEST_SIZE:
                    raise InputError("a document digest is 32 bytes (64 hex characters)")
            except (InputError, PermissionDeniedError) as exc:
                raise type(exc)(f"documents[{n}]: {exc.message}") from None
            append(NewRegistration(bytes(digest), salts[n * step : (n + 1) * step], *known))
        return out

    def prepare_registration(
        self,
        sha256: bytes,
        metadata: Mapping[str, Any] | None = None,
        *,
        entity_ruc: str | None = None,
    ) -> NewRegistration:
        return self.prepare_registrations([sha256], metadata, entity_ruc=entity_ruc)[0]

    def register(
        self,
        sha256: bytes,
        metadata: Mapping[str, Any] | None = None,
        *,
        entity_ruc: str | None = None,
    ) -> Registration:
        return self.register_many(
            [self.prepare_registration(sha256, metadata, entity_ruc=entity_ruc)]
        )[0]

    def register_many(
        self, items: Sequence[NewRegistration], *, now: datetime | None = None
    ) -> list[Registration]:
        results = self.store.register(items, now=now)
        return [Registration(DocumentView(doc, None), created) for doc, created in results]

    def registered_view(self, registration: Registration) -> DocumentView:
        """The registration as a look-up shows it: with its version and batch.

        A new registration without a reference has neither (pending, no version), so
        there is nothing to read back; otherwise one look-up statement by digest.
        """
        doc = registration.view.document
        if registration.created and doc.reference is None:
            return registration.view
        hits = document_views(self.store.lookup_with_versions(doc.sha256)[0])
        return next((v for v in hits if v.document.id == doc.id), registration.view)

    def register_count(self, items: Sequence[NewRegistration]) -> int:
        """Register ``items`` (as :meth:`register_many`) and answer only how many were new."""
        return self.store.register_counts(items)[0]

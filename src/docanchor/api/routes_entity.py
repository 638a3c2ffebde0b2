"""Endpoints that need an API key: register documents, seal and anchor, list versions.

The key decides the registering entity: an entity key registers for its
own entity only (metadata naming another entity is refused with 403); an
admin key registers for the entity the metadata names. Auditors read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from docanchor.api.auth import (
    REGISTRAR_ROLES,
    BearerCredentials,
    ReaderKey,
    RegistrarKey,
    authorize,
    bearer_secret,
)
from docanchor.api.context import ApiContext, Ctx
from docanchor.api.openapi import body_doc, problem_responses
from docanchor.api.schemas import (
    MAX_BULK,
    BulkBody,
    BulkResult,
    DocumentList,
    DocumentOut,
    RegisterBody,
    SealResult,
)
from docanchor.api.uploads import (
    UnsupportedMediaTypeError,
    check_length,
    declared_length,
    decode_json,
    is_json,
    is_json_type,
    is_multipart,
    media_type,
    parse_form,
    parse_json,
    read_body,
    read_form,
    read_json,
    validate_object,
)
from docanchor.api.views import encode_json
from docanchor.errors import MetadataError, PermissionDeniedError
from docanchor.hashing import HEX64
from docanchor.keys import KeyRecord
from docanchor.presenters import document_json, public_batch
from docanchor.service import DocumentView, NewRegistration, identifier
from docanchor.vocabulary import BatchStatus, DocumentStatus

router = APIRouter(prefix="/v1", tags=["registration"])

REGISTER_BODY_LIMIT: Final = 256 * 1024
BULK_BODY_LIMIT: Final = 64 * 1024 * 1024
# Registration bodies up to this size are read whole before the key is looked up, so
# that key, parse and registration share one trip to the thread pool; bigger uploads
# are streamed and hashed as they arrive.
WHOLE_BODY_LIMIT: Final = 1024 * 1024


def metadata_field(raw: bytes | None) -> dict[str, Any] | None:
    """The ``metadata`` form field of a multipart registration: a JSON object, or none."""
    if raw is None or not raw.strip():
        return None
    value = decode_json(raw, "the metadata form field")
    if not isinstance(value, dict):
        raise MetadataError("the metadata form field must be a JSON object")
    return value


def entity_for(key: KeyRecord, metadata: Mapping[str, Any] | None) -> str | None:
    """The entity to register for, or None to take the one the metadata names.

    Raises PermissionDeniedError when an entity key's metadata names another entity,
    and MetadataError (422) when ``entity_ruc`` is empty, or when an admin key without
    an entity of its own leaves it out: every registration through the API names
    its entity.
    """
    named = (metadata or {}).get("entity_ruc")
    if named is not None and not isinstance(named, str):
        raise MetadataError("metadata entity_ruc must be a string (the entity's RUC)")
    if key.role == "entity":
        if named is not None and not named.strip():
            raise MetadataError(
                "metadata entity_ruc is empty: name the key's entity, or leave the member out"
            )
        if named is not None and named != key.entity_ruc:
            raise PermissionDeniedError(
                f"this key registers for entity {key.entity_ruc}; the metadata names entity "
                f"{named}. Use that entity's key, or leave entity_ruc out."
            )
        return key.entity_ruc
    if named is not None and named.strip():
        return None
    if key.entity_ruc:
        return key.entity_ruc
    raise MetadataError("an admin key must name the entity: entity_ruc")


def registration_answer(
    ctx: ApiContext, key: KeyRecord, digest: bytes, metadata: dict[str, Any] | None
) -> tuple[bytes, bool]:
    """Register one document for ``key``: (the encoded answer, whether it is new)."""
    service = ctx.service
    item = service.prepare_registration(digest, metadata, entity_ruc=entity_for(key, metadata))
    registration = service.register_many([item])[0]
    view = service.registered_view(registration)
    if registration.created:
        ctx.loop.note_registered(1)
    data = document_json(view, ctx.receipts.receipt(view), created=registration.created)
    return encode_json(data), registration.created


@router.post(
    "/documents",
    summary="Register a document (by file or by SHA-256) with its metadata",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": DocumentOut, "description": "Registered now"},
        200: {"model": DocumentOut, "description": "Already registered (idempotent repeat)"},
        **problem_responses(413, 415, 422),
    },
    openapi_extra=body_doc(
        json_model="RegisterBody",
        multipart={"file": "The document; streamed and hashed, never stored."},
        text_parts={"metadata": "A JSON object (see RegisterBody.metadata)."},
        required_parts=("file",),
    ),
)
async def register(request: Request, ctx: Ctx, credentials: BearerCredentials) -> Response:
    """``201`` with the registration and its pending receipt; ``200`` when the same
    document with the same metadata was registered before by the same entity."""
    secret = bearer_secret(credentials)
    content_type = request.headers.get("content-type", "")
    declared = declared_length(request)
    if declared is not None and declared <= WHOLE_BODY_LIMIT:
        # The common case: a small body read whole on the event loop, then the key,
        # the parse and the registration in one trip to the thread pool.
        body = await read_body(request, WHOLE_BODY_LIMIT)
        content, created = await run_in_threadpool(_register_whole, ctx, secret, content_type, body)
    else:
        # A big or streamed upload: the key first (refused before the body is read),
        # then the file hashed as it arrives.
        key = await run_in_threadpool(authorize, ctx.service, secret, REGISTRAR_ROLES)
        digest, metadata = await _streamed_registration(request, ctx)
        content, created = await run_in_threadpool(registration_answer, ctx, key, digest, metadata)
    return Response(content, status_code=201 if created else 200, media_type="application/json")


_UNSUPPORTED_REGISTRATION: Final = (
    "send the document as multipart/form-data (parts 'file' and 'metadata') or "
    'application/json {"sha256": …, "metadata": {…}}'
)


def _register_whole(
    ctx: ApiContext, secret: str, content_type: str, body: bytes
) -> tuple[bytes, bool]:
    """Key, body and registration of a body read whole, in the order the checks run
    for a streamed one: 401/403, then 415, 413 and 422."""
    key = authorize(ctx.service, secret, REGISTRAR_ROLES)
    kind = content_type.split(";", 1)[0].strip().lower()
    metadata: dict[str, Any] | None
    if kind == "multipart/form-data":
        form = parse_form(
            content_type,
            body,
            max_file_bytes=ctx.settings.max_upload_bytes,
            text_fields=frozenset({"metadata"}),
        )
        digest = form.sha256
        metadata = metadata_field(form.fields.get("metadata"))
    elif is_json_type(kind):
        check_length(len(body), REGISTER_BODY_LIMIT)
        parsed = parse_json(body, RegisterBody)
        digest, metadata = bytes.fromhex(parsed.sha256), parsed.metadata
    else:
        raise UnsupportedMediaTypeError(_UNSUPPORTED_REGISTRATION)
    return registration_answer(ctx, key, digest, metadata)


async def _streamed_registration(
    request: Request, ctx: ApiContext
) -> tuple[bytes, dict[str, Any] | None]:
    if is_multipart(request):
        form = await read_form(
            request,
            max_file_bytes=ctx.settings.max_upload_bytes,
            text_fields=frozenset({"metadata"}),
        )
        return form.sha256, metadata_field(form.fields.get("metadata"))
    if is_json(request):
        body = await read_json(request, RegisterBody, REGISTER_BODY_LIMIT)
        return bytes.fromhex(body.sha256), body.metadata
    raise UnsupportedMediaTypeError(_UNSUPPORTED_REGISTRATION)


# One bulk item: the digest (64 lowercase hex) and its metadata object, if any.
BulkEntry = tuple[str, dict[str, Any] | None]
_ITEM_MEMBERS: Final = frozenset({"sha256", "metadata"})


def _bulk_entries(raw: bytes) -> list[BulkEntry]:
    """The items of a bulk body, checked by hand in one pass.

    Validating 10,000 items through pydantic models costs more than registering
    them; the common, well-formed body is checked here instead. Any body this
    check does not accept is validated by ``BulkBody`` after all, so that every
    422 names the member at fault in the words of every other endpoint.
    """
    body = decode_json(raw)
    documents = body.get("documents") if isinstance(body, dict) and len(body) == 1 else None
    if isinstance(documents, list) and len(documents) <= MAX_BULK:
        entries: list[BulkEntry] = []
        append = entries.append
        match = HEX64.fullmatch
        for item in documents:
            if not isinstance(item, dict) or not _ITEM_MEMBERS.issuperset(item):
                break
            sha = item.get("sha256")
            metadata = item.get("metadata")
            if not isinstance(sha, str) or match(sha) is None:
                break
            if metadata is not None and not isinstance(metadata, dict):
                break
            append((sha, metadata))
        else:
            return entries
    model = validate_object(body, BulkBody)
    return [(item.sha256, item.metadata) for item in model.documents]


def _prepare_all(
    ctx: ApiContext, key: KeyRecord, items: Sequence[BulkEntry]
) -> list[NewRegistration]:
    """Every item prepared (and so checked) before anything is stored, in item order.

    Items with the same metadata are prepared together: the metadata is checked
    and canonicalised once per distinct object, not once per document.
    """
    fromhex = bytes.fromhex
    return ctx.service.prepare_each(
        [(fromhex(sha), metadata) for sha, metadata in items],
        lambda metadata: entity_for(key, metadata),
    )


def _register_bulk(
    ctx: ApiContext, key: KeyRecord, items: Sequence[BulkEntry], with_receipts: bool
) -> bytes:
    """The encoded answer (``BulkResult``)."""
    prepared = _prepare_all(ctx, key, items)  # every item checked before anything is stored
    results = ctx.service.register_many(prepared)
    batches = ctx.service.batches_of(r.view.document.batch_id for r in results if not r.created)
    created = sum(r.created for r in results)
    ctx.loop.note_registered(created)
    head = f'{{"created":{created},"existing":{len(results) - created},"documents":['
    if with_receipts or batches:
        documents: list[dict[str, Any]] = []
        for result in results:
            doc = result.view.document
            batch = batches.get(doc.batch_id) if doc.batch_id is not None else None
            entry: dict[str, Any] = {
                "id": doc.id,
                "sha256": doc.sha256,
                "created": result.created,
                "status": DocumentStatus.PENDING if batch is None else batch.status,
            }
            if with_receipts:
                entry["receipt"] = ctx.receipts.receipt(DocumentView(doc, batch))
            documents.append(entry)
        return encode_json(
            {"created": created, "existing": len(results) - created, "documents": documents}
        )
    # The common answer (no receipts, nothing sealed yet) written directly: the same
    # bytes encode_json gives for it, in a fraction of the time for 10,000 items.
    parts = [
        f'{{"id":{r.view.document.id},"sha256":"{r.view.document.sha256}",'
        f'"created":{"true" if r.created else "false"},"status":"pending"}}'
        for r in results
    ]
    return (head + ",".join(parts) + "]}").encode("utf-8")


@router.post(
    "/documents/bulk",
    summary="Register up to 10,000 documents by SHA-256 in one request",
    response_model=BulkResult,
    responses=problem_responses(413, 415, 422),
    openapi_extra=body_doc(json_model="BulkBody"),
)
async def register_bulk(
    request: Request,
    ctx: Ctx,
    credentials: BearerCredentials,
    receipts: Annotated[
        bool, Query(description="Include each document's receipt (slower).")
    ] = False,
) -> Response:
    """All or nothing: every item is validated (digest, metadata, entity) before any is
    stored. Items already registered are reported with ``created: false``."""
    secret = bearer_secret(credentials)
    declared = declared_length(request)
    if declared is None or declared > BULK_BODY_LIMIT or not is_json(request):
        # Refused whatever the key: the key first, as for every other refusal.
        key: KeyRecord | None = await run_in_threadpool(
            authorize, ctx.service, secret, REGISTRAR_ROLES
        )
        if not is_json(request):
            raise UnsupportedMediaTypeError(
                f"send the body as application/json, not {media_type(request) or 'no content type'}"
            )
    else:
        key = None  # looked up with the work, in one hop
    raw = await read_body(request, BULK_BODY_LIMIT)
    content = await run_in_threadpool(_bulk_answer, ctx, key or secret, raw, receipts)
    return Response(content, media_type="application/json")


def _bulk_answer(ctx: ApiContext, key: KeyRecord | str, raw: bytes, with_receipts: bool) -> bytes:
    if isinstance(key, str):
        key = authorize(ctx.service, key, REGISTRAR_ROLES)
    return _register_bulk(ctx, key, _bulk_entries(raw), with_receipts)


@router.post(
    "/batches",
    summary="Seal the pending documents and anchor now",
    status_code=202,
    response_model=SealResult,
    responses={200: {"model": SealResult, "description": "Nothing to seal or anchor"}},
)
def seal_now(ctx: Ctx, key: RegistrarKey, background: BackgroundTasks) -> JSONResponse:
    """Seals every pending document into batches at once and starts anchoring every
    sealed batch; ``202`` with those batches (follow them with ``GET /v1/batches/{id}``:
    they move to ``anchored`` and ``confirmed`` on their own). ``200`` with an empty
    list when nothing is pending and nothing waits to be anchored."""
    del key
    ctx.service.seal_all()
    waiting = ctx.service.batches(statuses=[BatchStatus.SEALED])
    if not waiting:
        return JSONResponse({"batches": []}, status_code=200)
    if ctx.loop.running:
        ctx.loop.wake()
    else:
        background.add_task(ctx.loop.run_pass)
    return JSONResponse(
        {"batches": [public_batch(b) for b in waiting]}, status_code=202, background=background
    )


@router.get(
    "/documents",
    summary="The versions registered under a reference",
    response_model=DocumentList,
    responses=problem_responses(422),
)
def list_documents(
    ctx: Ctx,
    key: ReaderKey,
    reference: Annotated[str, Query(min_length=1, max_length=200, description="E.g. OC-2025-1.")],
    entity: Annotated[
        str | None,
        Query(max_length=32, description="Only this entity's (auditor and admin keys)."),
    ] = None,
) -> dict[str, Any]:
    """An entity key sees its own entity's registrations; auditor and admin keys see
    every entity's (or one, with ``entity``). Oldest first, each with its receipt."""
    if key.role == "entity":
        if entity is not None and entity != key.entity_ruc:
            raise PermissionDeniedError(
                f"this key reads entity {key.entity_ruc}'s documents only, not entity {entity}'s"
            )
        entity = key.entity_ruc
    views = ctx.service.versions(reference, entity)
    return {
        "reference": identifier(reference, "the reference"),  # as stored: NFC
        "documents": [document_json(v, ctx.receipts.receipt(v)) for v in views],
    }


__all__ = ["REGISTER_BODY_LIMIT", "entity_for", "metadata_field", "registration_answer", "router"]

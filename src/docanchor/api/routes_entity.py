"""Endpoints that need an API key: register documents, seal and anchor, list versions.

The key decides the registering entity: an entity key registers for its
own entity only (metadata naming another entity is refused with 403); an
admin key registers for the entity the metadata names. Auditors read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from docanchor.api.auth import ReaderKey, RegistrarKey
from docanchor.api.context import ApiContext, Ctx
from docanchor.api.openapi import body_doc, problem_responses
from docanchor.api.schemas import (
    BulkBody,
    BulkItem,
    BulkResult,
    DocumentList,
    DocumentOut,
    RegisterBody,
    SealResult,
)
from docanchor.api.uploads import (
    UnsupportedMediaTypeError,
    is_json,
    is_multipart,
    read_form,
    read_json,
)
from docanchor.api.views import document_json, public_batch
from docanchor.errors import InputError, MetadataError, PermissionDeniedError
from docanchor.store import ApiKey, Batch, NewRegistration

router = APIRouter(prefix="/v1", tags=["registration"])

REGISTER_BODY_LIMIT: Final = 256 * 1024
BULK_BODY_LIMIT: Final = 64 * 1024 * 1024


def _refuse_json_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _metadata_field(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_json_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(f"the metadata form field is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MetadataError("the metadata form field must be a JSON object")
    return value


def entity_for(key: ApiKey, metadata: dict[str, Any] | None) -> str | None:
    """The entity to register for, or None to take the one the metadata names.

    Raises PermissionDeniedError when an entity key's metadata names another entity.
    """
    named = (metadata or {}).get("entity_ruc")
    if named is not None and not isinstance(named, str):
        raise MetadataError("metadata entity_ruc must be a string (the entity's RUC)")
    if key.role == "entity":
        if named is not None and named != key.entity_ruc:
            raise PermissionDeniedError(
                f"this key registers for entity {key.entity_ruc}; the metadata names entity "
                f"{named}. Use that entity's key, or leave entity_ruc out."
            )
        return key.entity_ruc
    return None if named is not None else key.entity_ruc


def _register_one(
    ctx: ApiContext, key: ApiKey, digest: bytes, metadata: dict[str, Any] | None
) -> tuple[dict[str, Any], bool]:
    service = ctx.service
    item = service.prepare_registration(digest, metadata, entity_ruc=entity_for(key, metadata))
    registration = service.register_many([item])[0]
    doc_id = registration.view.document.id
    assert doc_id is not None
    view = service.store.get_document(doc_id) or registration.view
    if registration.created:
        ctx.loop.note_registered(1)
    return document_json(view, ctx.receipts, created=registration.created), registration.created


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
async def register(request: Request, ctx: Ctx, key: RegistrarKey) -> JSONResponse:
    """``201`` with the registration and its pending receipt; ``200`` when the same
    document with the same metadata was registered before by the same entity."""
    if is_multipart(request):
        form = await read_form(
            request,
            max_file_bytes=ctx.settings.max_upload_bytes,
            text_fields=frozenset({"metadata"}),
        )
        assert form.sha256 is not None
        digest = form.sha256
        metadata = _metadata_field(form.fields.get("metadata"))
    elif is_json(request):
        body = await read_json(request, RegisterBody, REGISTER_BODY_LIMIT)
        digest, metadata = bytes.fromhex(body.sha256), body.metadata
    else:
        raise UnsupportedMediaTypeError(
            "send the document as multipart/form-data (parts 'file' and 'metadata') or "
            'application/json {"sha256": …, "metadata": {…}}'
        )
    data, created = await run_in_threadpool(_register_one, ctx, key, digest, metadata)
    return JSONResponse(data, status_code=201 if created else 200)


def _prepare_all(ctx: ApiContext, key: ApiKey, items: Sequence[BulkItem]) -> list[NewRegistration]:
    """Every item prepared (and so checked) before anything is stored.

    Items with the same metadata are prepared together: the metadata is checked
    and canonicalised once per distinct object, not once per document.
    """
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        same = json.dumps(item.metadata, sort_keys=True) if item.metadata else ""
        groups.setdefault(same, []).append(index)
    prepared: list[NewRegistration | None] = [None] * len(items)
    prepare = ctx.service.prepare_registrations
    for indexes in groups.values():
        metadata = items[indexes[0]].metadata
        try:
            made = prepare(
                [bytes.fromhex(items[i].sha256) for i in indexes],
                metadata,
                entity_ruc=entity_for(key, metadata),
            )
        except (InputError, PermissionDeniedError) as exc:
            raise type(exc)(f"documents[{indexes[0]}]: {exc.message}") from None
        for i, registration in zip(indexes, made, strict=True):
            prepared[i] = registration
    return [p for p in prepared if p is not None]


def _register_bulk(
    ctx: ApiContext, key: ApiKey, items: Sequence[BulkItem], with_receipts: bool
) -> dict[str, Any]:
    prepared = _prepare_all(ctx, key, items)  # every item checked before anything is stored
    results = ctx.service.register_many(prepared)
    batch_ids = {r.view.document.batch_id for r in results if not r.created}
    batch_ids.discard(None)
    batches: dict[int, Batch] = {}
    for batch_id in batch_ids:
        assert batch_id is not None
        found = ctx.service.store.get_batch(batch_id)
        if found is not None:
            batches[batch_id] = found
    created = 0
    documents: list[dict[str, Any]] = []
    for result in results:
        doc = result.view.document
        created += result.created
        batch = batches.get(doc.batch_id) if doc.batch_id is not None else None
        entry: dict[str, Any] = {
            "id": doc.id,
            "sha256": doc.sha256,
            "created": result.created,
            "status": "pending" if batch is None else batch.status,
        }
        if with_receipts:
            from docanchor.store import DocumentView

            entry["receipt"] = ctx.receipts.receipt(DocumentView(doc, batch))
        documents.append(entry)
    ctx.loop.note_registered(created)
    return {"created": created, "existing": len(results) - created, "documents": documents}


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
    key: RegistrarKey,
    receipts: Annotated[
        bool, Query(description="Include each document's receipt (slower).")
    ] = False,
) -> JSONResponse:
    """All or nothing: every item is validated (digest, metadata, entity) before any is
    stored. Items already registered are reported with ``created: false``."""
    body = await read_json(request, BulkBody, BULK_BODY_LIMIT)
    return JSONResponse(await run_in_threadpool(_register_bulk, ctx, key, body.documents, receipts))


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
    waiting = ctx.service.store.batches(statuses=["sealed"])
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
        "reference": reference,
        "documents": [document_json(v, ctx.receipts) for v in views],
    }


__all__ = ["entity_for", "router"]

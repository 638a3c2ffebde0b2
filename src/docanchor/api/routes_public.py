"""Public endpoints (no key): verify a document or a receipt, browse batches, the signing key.

Everything here answers from the database except ``POST /v1/receipts/verify``,
which checks a receipt against the chain only (the trustless check of spec
section 6) and ``confirmations`` of a batch, which needs the node's head.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from docanchor.api.context import ApiContext, Ctx
from docanchor.api.openapi import body_doc, problem_responses
from docanchor.api.schemas import (
    BatchDetail,
    BatchPage,
    DigestQuery,
    KeyList,
    LeafPage,
    ReceiptCheckBody,
    ReceiptCheckResult,
    VerifyResult,
)
from docanchor.api.uploads import (
    UnsupportedMediaTypeError,
    is_json,
    is_multipart,
    read_form,
    read_json,
)
from docanchor.api.views import public_batch, verify_answer
from docanchor.errors import DocAnchorError, NotFoundError
from docanchor.receipt import parse_receipt
from docanchor.service import leaf_hash_of_row, verify_receipt_on_chain

router = APIRouter(prefix="/v1", tags=["public"])

DIGEST_BODY_LIMIT: Final = 4 * 1024
RECEIPT_BODY_LIMIT: Final = 1024 * 1024
MAX_LEAVES: Final = 10_000
MAX_BATCH_PAGE: Final = 1_000
BIG: Final = 2**62
MAX_ID: Final = 2**31 - 1  # the id columns are 32-bit integers on PostgreSQL

BatchId = Annotated[int, Path(ge=1, le=MAX_ID, description="The batch's id.")]
Offset = Annotated[int, Query(ge=0, le=BIG, description="Items to skip.")]


@router.post(
    "/verify",
    summary="Is this document registered? (by file or by SHA-256)",
    response_model=None,
    responses={200: {"model": VerifyResult}, **problem_responses(413, 415, 422)},
    openapi_extra=body_doc(
        json_model="DigestQuery",
        multipart={"file": "The document; streamed and hashed, never stored."},
        required_parts=("file",),
    ),
)
async def verify(request: Request, ctx: Ctx) -> Response:
    """The document's status (``not_found`` when it was never registered), its receipts,
    its registrations and every version registered under the same reference.

    Send the file as ``multipart/form-data`` (part ``file``), or its SHA-256 as JSON
    ``{"sha256": "<64 lowercase hex>"}``.
    """
    filename: str | None = None
    size: int | None = None
    try:
        if is_multipart(request):
            form = await read_form(request, max_file_bytes=ctx.settings.max_upload_bytes)
            assert form.sha256 is not None
            digest, filename, size = form.sha256, form.filename, form.size
        elif is_json(request):
            body = await read_json(request, DigestQuery, DIGEST_BODY_LIMIT)
            status, content = await run_in_threadpool(
                ctx.verify_cache.answer, bytes.fromhex(body.sha256)
            )
            ctx.metrics.observe_verify(status)
            return Response(content, media_type="application/json")
        else:
            raise UnsupportedMediaTypeError(
                "send the document as multipart/form-data (part 'file') or its digest as "
                'application/json {"sha256": "<64 lowercase hex>"}'
            )
    except (DocAnchorError, RequestValidationError):
        ctx.metrics.observe_verify("invalid")
        raise
    answer = await run_in_threadpool(
        verify_answer, ctx.service, ctx.receipts, digest, filename=filename, size=size
    )
    ctx.metrics.observe_verify(answer["status"])
    return JSONResponse(answer)


def _check_receipt(ctx: ApiContext, body: ReceiptCheckBody) -> dict[str, Any]:
    receipt = parse_receipt(body.receipt)
    reader = ctx.reader()
    required = ctx.settings.required_confirmations(reader.chain_id)
    result = verify_receipt_on_chain(
        receipt,
        reader,
        document_sha256=None if body.sha256 is None else bytes.fromhex(body.sha256),
        required_confirmations=required,
    )
    return {
        "valid": result.valid,
        "status": receipt.status.value,
        "confirmations": result.confirmations,
        "required_confirmations": required,
        "checks": [
            {"step": c.step, "name": c.name, "ok": c.ok, "skipped": c.skipped, "detail": c.detail}
            for c in result.checks
        ],
    }


@router.post(
    "/receipts/verify",
    summary="Check a receipt against the chain (not the database)",
    response_model=None,
    responses={200: {"model": ReceiptCheckResult}, **problem_responses(413, 415, 422, 502, 503)},
    openapi_extra=body_doc(json_model="ReceiptCheckBody"),
)
async def verify_receipt(request: Request, ctx: Ctx) -> JSONResponse:
    """The checks of spec section 6, made against the configured node and the contract
    named in the receipt. ``valid`` is true only when every check passed, including
    the required number of confirmations. Give ``sha256`` to check the document too.
    """
    body = await read_json(request, ReceiptCheckBody, RECEIPT_BODY_LIMIT)
    return JSONResponse(await run_in_threadpool(_check_receipt, ctx, body))


@router.get(
    "/batches",
    summary="Batches, newest first",
    response_model=BatchPage,
    responses=problem_responses(422),
)
def list_batches(
    ctx: Ctx,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_BATCH_PAGE)] = 100,
) -> dict[str, Any]:
    store = ctx.service.store
    batches = store.batches(offset=offset, limit=limit, newest_first=True)
    return {
        "total": store.count_batches(),
        "offset": offset,
        "limit": limit,
        "batches": [public_batch(b) for b in batches],
    }


def _batch_or_404(ctx: ApiContext, batch_id: int) -> Any:
    batch = ctx.service.store.get_batch(batch_id)
    if batch is None:
        raise NotFoundError(f"there is no batch {batch_id}")
    return batch


@router.get(
    "/batches/{batch_id}",
    summary="One batch and its anchor",
    response_model=BatchDetail,
    responses=problem_responses(404, 422),
)
def get_batch(ctx: Ctx, batch_id: BatchId) -> dict[str, Any]:
    """``confirmations`` counts from the anchoring block to the node's head
    (null when the batch is not anchored yet or the node cannot be reached)."""
    batch = _batch_or_404(ctx, batch_id)
    confirmations: int | None = None
    if batch.block_number is not None and batch.status in ("anchored", "confirmed"):
        head = ctx.cached_head()
        if head is not None:
            confirmations = max(0, head - batch.block_number + 1)
    return {**public_batch(batch), "confirmations": confirmations}


@router.get(
    "/batches/{batch_id}/leaves",
    summary="A batch's leaf hashes, to recompute its root",
    response_model=LeafPage,
    responses=problem_responses(404, 422),
)
def get_leaves(
    ctx: Ctx,
    batch_id: BatchId,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LEAVES)] = 1000,
) -> dict[str, Any]:
    """Leaf hashes (SHA-256(0x00 ‖ salt ‖ sha256 ‖ metadata_sha256)) in leaf order.
    Neither salts nor digests are shown: the hashes alone give the RFC 9162 root."""
    batch = _batch_or_404(ctx, batch_id)
    rows = ctx.service.store.batch_leaves(batch_id, offset=offset, limit=limit)
    first_index = batch.first_index or 0
    compact = ctx.service.compact_range(first_index) if batch.in_log else []
    return {
        "batch_id": batch_id,
        "tree_size": batch.tree_size if batch.in_log else batch.size,
        "first_index": first_index,
        "compact_range": [h.hex() for h in compact],
        "offset": offset,
        "leaves": [leaf_hash_of_row(*row).hex() for row in rows],
    }


@router.get("/keys", summary="The public key that signs receipts", response_model=KeyList)
async def public_keys(ctx: Ctx) -> dict[str, Any]:
    signer: Any = ctx.service.signer
    info = getattr(signer, "public_key_info", None)
    return {"keys": [info()] if callable(info) else []}


__all__ = ["router"]

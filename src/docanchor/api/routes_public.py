"""Public endpoints (no key): verify a document or a receipt, browse batches, the signing key.

Everything here answers from the database except ``POST /v1/receipts/verify``,
which checks a receipt against the chain only (the trustless check of spec
section 6, for the deployments listed by ``GET /v1/deployments``) and
``confirmations`` of a batch, which needs the node's head.
``POST /v1/stamp`` is public too: the receipt it embeds is public anyway.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from docanchor.api.context import ApiContext, Ctx
from docanchor.api.openapi import body_doc, problem_responses
from docanchor.api.schemas import (
    BatchDetail,
    BatchPage,
    DeploymentList,
    DigestQuery,
    KeyList,
    LeafPage,
    ReceiptCheckResult,
    VerifyResult,
)
from docanchor.api.uploads import (
    UnsupportedMediaTypeError,
    is_json,
    is_multipart,
    media_type,
    read_body,
    read_form,
    read_form_file,
    read_json,
)
from docanchor.api.views import verify_answer
from docanchor.errors import DocAnchorError, InputError
from docanchor.hashing import is_hex64
from docanchor.pdf.stamped import find_stamp
from docanchor.presenters import batch_json, public_batch, receipt_check_json, signing_key_json
from docanchor.receipt import Receipt, loads_receipt_text, parse_receipt
from docanchor.redaction import redact
from docanchor.service import BatchRecord, receipt_verdict, verify_receipt_on_chain

router = APIRouter(prefix="/v1", tags=["public"])

DIGEST_BODY_LIMIT: Final = 4 * 1024
RECEIPT_BODY_LIMIT: Final = 1024 * 1024
MAX_LEAVES: Final = 10_000
MAX_BATCH_PAGE: Final = 1_000
BIG: Final = 2**62
MAX_ID: Final = 2**31 - 1  # the id columns are 32-bit integers on PostgreSQL
# How much of an upload's end /v1/verify keeps to find a stamp (the update is a few KB).
STAMP_TAIL: Final = 1 << 20

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
async def verify(request: Request) -> Response:
    """The document's status (``not_found`` when it was never registered), its receipts,
    its registrations and every version registered under the same reference.

    Send the file as ``multipart/form-data`` (part ``file``), or its SHA-256 as JSON
    ``{"sha256": "<64 lowercase hex>"}``. A stamped PDF is answered for its original
    (the bytes before the stamp): its SHA-256, its status, and ``stamped``.
    """
    # The app's context from its state, not a dependency: nothing to resolve per request.
    ctx: ApiContext = request.app.state.ctx
    filename: str | None = None
    size: int | None = None
    stamped: dict[str, int] | None = None
    try:
        if is_multipart(request):
            form = await read_form(
                request, max_file_bytes=ctx.settings.max_upload_bytes, tail_window=STAMP_TAIL
            )
            digest, filename, size = form.sha256, form.filename, form.size
            location = find_stamp(form.tail, window_start=form.tail_start, total_length=form.size)
            if location is not None:
                digest = form.prefix_sha256(location.original_length)
                stamped = {"size": form.size, "original_length": location.original_length}
                size = location.original_length
        elif is_json(request):
            body = await read_json(request, DigestQuery, DIGEST_BODY_LIMIT)
            digest = bytes.fromhex(body.sha256)
            # The answer is cached as encoded bytes; the look-up that keys it runs on
            # the event loop for SQLite (a local read, cheaper than a thread hop) and in
            # one thread-pool hop for a network database.
            if ctx.inline_reads:
                status, content = ctx.verify_cache.answer(digest)
            else:
                status, content = await run_in_threadpool(ctx.verify_cache.answer, digest)
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
    if stamped is not None:
        answer["stamped"] = stamped
    ctx.metrics.observe_verify(answer["status"])
    return JSONResponse(answer)


def _stamped_name(filename: str | None, digest_hex: str) -> str:
    stem = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if stem.lower().endswith(".pdf"):
        stem = stem[:-4]
    return f"{stem or digest_hex}.stamped.pdf"


@router.post(
    "/stamp",
    summary="Stamp a registered, anchored PDF: its receipt and a QR code travel with it",
    response_model=None,
    responses={
        200: {
            "description": "The stamped PDF: the original's bytes, unchanged, then one "
            "incremental update (docs/stamping.md)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(404, 409, 413, 415, 422),
    },
    openapi_extra=body_doc(
        multipart={"file": "The registered, anchored PDF; its receipt is embedded."},
        required_parts=("file",),
    ),
)
async def stamp(request: Request, ctx: Ctx) -> Response:
    """The PDF followed by an incremental update that embeds its receipt
    (``docanchor-receipt.json``) and adds a page with a QR code of the verification page.
    404 when the document is not registered, 409 while it is not anchored yet, 422 for a
    file that is not a usable PDF (encrypted, damaged, or not a PDF)."""
    if not is_multipart(request):
        raise UnsupportedMediaTypeError(
            "send the PDF as multipart/form-data (part 'file'), "
            f"not {request.headers.get('content-type') or 'no content type'}"
        )
    form, content = await read_form_file(request, max_file_bytes=ctx.settings.max_upload_bytes)
    stamped = await run_in_threadpool(
        ctx.service.stamp, content, public_url=ctx.settings.public_url
    )
    name = _stamped_name(form.filename, form.sha256.hex())
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name
    )
    return Response(
        stamped,
        media_type="application/pdf",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
            )
        },
    )


def _receipt_check_request(body: bytes) -> tuple[Receipt, dict[str, Any], bytes | None]:
    """The receipt, its JSON object and the optional document digest of a check request.

    The body goes through the one strict receipt decoder (as ``docanchor verify
    --receipt`` does), never through a lenient parser first: a duplicate member,
    a float, NaN or nesting deeper than 64 is refused in the same words.
    """
    data = loads_receipt_text(body, enclosing=1)
    if not isinstance(data, dict):
        raise InputError('the request body must be a JSON object {"receipt": {...}, "sha256": ...}')
    unknown = sorted(set(data) - {"receipt", "sha256"})
    if unknown:
        raise InputError(
            f"the request body has an unknown member {unknown[0][:80]!r}; "
            "only receipt and sha256 are allowed"
        )
    if "receipt" not in data:
        raise InputError("the request body has no member 'receipt'")
    digest = data.get("sha256")
    if digest is not None and (not isinstance(digest, str) or not is_hex64(digest)):
        raise InputError(
            "the request body's sha256 must be a SHA-256 digest as 64 lowercase hex characters"
        )
    source = data["receipt"]
    receipt = parse_receipt(source)
    return receipt, source, None if digest is None else bytes.fromhex(digest)


def _check_receipt(ctx: ApiContext, body: bytes) -> dict[str, Any]:
    receipt, source, digest = _receipt_check_request(body)
    reader = ctx.reader()
    required = ctx.settings.required_confirmations(reader.chain_id)
    trust = ctx.trust(ctx.node_chain_id(lenient=False))
    result = verify_receipt_on_chain(
        receipt,
        reader,
        document_sha256=digest,
        required_confirmations=required,
        trust=trust,
        receipt_json=source,
    )
    return receipt_check_json(
        result,
        receipt,
        verdict=receipt_verdict(result, receipt, node_chain_id=reader.chain_id, trust=trust),
        required_confirmations=required,
    )


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
    the required number of confirmations, and the contract is a deployment this
    service trusts (see ``GET /v1/deployments``). Give ``sha256`` to check the document
    too. A receipt with a ``signature`` is checked against the service's key (step 8).
    The body is parsed strictly: a duplicate member, a number with a fraction or
    exponent, NaN, or nesting deeper than 64 levels is a 422.
    """
    if not is_json(request):
        raise UnsupportedMediaTypeError(
            f"send the body as application/json, not {media_type(request) or 'no content type'}"
        )
    body = await read_body(request, RECEIPT_BODY_LIMIT)
    return JSONResponse(await run_in_threadpool(_check_receipt, ctx, body))


@router.get(
    "/deployments",
    summary="The deployments and receipt signing keys this service trusts",
    response_model=DeploymentList,
)
async def deployments(ctx: Ctx) -> dict[str, Any]:
    """Receipts anchored in any other contract are not valid here (receipt spec, step 5),
    and receipt signatures are checked against ``signing_keys`` (this service's key first,
    then those of ``DOCANCHOR_TRUSTED_SIGNING_KEYS``). The web page uses this list for its
    own checks. ``current`` marks the contract this service anchors in."""

    def gather() -> dict[str, Any]:
        chain_id = ctx.node_chain_id(lenient=True)
        trust = ctx.trust(chain_id)
        current = ctx.current_deployment(chain_id)
        listed = sorted(trust.deployments, key=lambda d: (d.chain_id, d.address.lower()))
        own = _key_infos(ctx)
        others = [
            signing_key_json(raw)
            for key_id, raw in sorted(trust.signing_keys.items())
            if key_id not in {info["key_id"] for info in own}
        ]
        return {
            "deployments": [{**d.to_json(), "current": d == current} for d in listed],
            "signing_keys": own + others,
        }

    return await run_in_threadpool(gather)


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
    """Each batch as ``GET /v1/batches/{id}`` shows it, without ``confirmations``."""
    total, batches = ctx.service.batch_page(offset=offset, limit=limit)
    url = ctx.settings.rpc_url
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "batches": [_batch_view(b, url) for b in batches],
    }


def _batch_view(batch: BatchRecord, rpc_url: str) -> dict[str, Any]:
    """A batch with its transaction log, node URLs taken out of the errors."""
    data = batch_json(batch)
    attempts = [
        {**e, "error": None if e.get("error") is None else redact(str(e["error"]), rpc_url)}
        for e in data["attempts"]
    ]
    return {
        **public_batch(batch),
        "last_error": None if batch.last_error is None else redact(batch.last_error, rpc_url),
        "reanchored": data["reanchored"],
        "attempts": attempts,
    }


@router.get(
    "/batches/{batch_id}",
    summary="One batch and its anchor",
    response_model=BatchDetail,
    responses=problem_responses(404, 422),
)
def get_batch(ctx: Ctx, batch_id: BatchId) -> dict[str, Any]:
    """``confirmations`` counts from the anchoring block to the node's head
    (null when the batch is not anchored yet or the node cannot be reached)."""
    batch = ctx.service.batch(batch_id)
    confirmations: int | None = None
    if batch.anchor is not None:
        head = ctx.cached_head()
        if head is not None:
            confirmations = max(0, head - batch.anchor.block_number + 1)
    return {**_batch_view(batch, ctx.settings.rpc_url), "confirmations": confirmations}


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
    batch = ctx.service.batch(batch_id)
    hashes = ctx.service.batch_leaf_hashes(batch_id, offset=offset, limit=limit)
    checkpoint = batch.checkpoint
    first_index = 0 if checkpoint is None else checkpoint.first_index
    compact = [] if checkpoint is None else ctx.service.compact_range(first_index)
    return {
        "batch_id": batch_id,
        "tree_size": batch.size if checkpoint is None else checkpoint.tree_size,
        "first_index": first_index,
        "compact_range": [h.hex() for h in compact],
        "offset": offset,
        "leaves": [h.hex() for h in hashes],
    }


def _key_infos(ctx: ApiContext) -> list[dict[str, str]]:
    raw = ctx.service.signing_public_key()
    return [] if raw is None else [signing_key_json(raw)]


@router.get("/keys", summary="The public key that signs receipts", response_model=KeyList)
async def public_keys(ctx: Ctx) -> dict[str, Any]:
    return {"keys": _key_infos(ctx)}


__all__ = ["router"]

"""Public endpoints of the log (log-v1 section 5): checkpoints, proofs, leaves.

Thin: parse, call the service, answer. Sizes that are not checkpoints and
leaf ranges beyond 100,000 a call are ``400`` problems.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from docanchor.api.auth import ReaderKey
from docanchor.api.context import Ctx
from docanchor.api.openapi import problem_responses
from docanchor.api.schemas import (
    CheckpointPage,
    CompactRangeOut,
    ConsistencyOut,
    LogEntriesOut,
    LogLeavesOut,
)
from docanchor.presenters import checkpoint_json, consistency_json
from docanchor.service import LogEntryRow

router = APIRouter(prefix="/v1/log", tags=["public"])
auditor_router = APIRouter(prefix="/v1/log", tags=["audit"])

MAX_LOG_LEAVES: Final = 100_000
MAX_CHECKPOINTS: Final = 1_000
BIG: Final = 2**63 - 1

Size = Annotated[int, Query(ge=0, le=BIG, description="A checkpoint's tree size.")]


@router.get(
    "/checkpoints",
    summary="The log's checkpoints, oldest first",
    response_model=CheckpointPage,
    responses=problem_responses(422),
)
async def checkpoints(
    ctx: Ctx,
    start: Annotated[int, Query(ge=0, le=BIG, description="First on-chain sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_CHECKPOINTS)] = 100,
) -> dict[str, Any]:
    """Checkpoints whose anchor has sequence ``start`` or later; those not anchored
    yet (``seq`` null) come last."""
    batches = await run_in_threadpool(ctx.service.checkpoints, start=start, limit=limit)
    return {"checkpoints": [checkpoint_json(b) for b in batches]}


@router.get(
    "/consistency",
    summary="RFC 9162 consistency proof between two checkpoints",
    response_model=ConsistencyOut,
    responses=problem_responses(400, 422),
)
async def consistency(ctx: Ctx, first: Size, second: Size) -> dict[str, Any]:
    old, new, proof = await run_in_threadpool(ctx.service.consistency, first, second)
    return consistency_json(first, second, old, new, proof)


@router.get(
    "/compact-range",
    summary="The compact range of the log at a checkpoint size",
    response_model=CompactRangeOut,
    responses=problem_responses(400, 422),
)
async def compact_range(ctx: Ctx, size: Size) -> dict[str, Any]:
    hashes = await run_in_threadpool(ctx.service.compact_range, size)
    return {"size": size, "compact_range": [h.hex() for h in hashes]}


@router.get(
    "/leaves",
    summary="Leaf hashes [start, end) of the log",
    response_model=LogLeavesOut,
    responses=problem_responses(400, 422),
)
async def leaves(
    ctx: Ctx,
    start: Annotated[int, Query(ge=0, le=BIG)],
    end: Annotated[int, Query(ge=0, le=BIG)],
) -> dict[str, Any]:
    """At most 100,000 leaves a call (a ``400`` problem beyond)."""
    hashes = await run_in_threadpool(ctx.service.log_leaves, start, end, limit=MAX_LOG_LEAVES)
    return {"start": start, "end": end, "leaves": [h.hex() for h in hashes]}


@auditor_router.get(
    "/entries",
    summary="Openings of the log's leaves [start, end) (auditor and entity keys)",
    response_model=LogEntriesOut,
    responses=problem_responses(400, 401, 403, 422),
)
async def entries(
    ctx: Ctx,
    key: ReaderKey,
    start: Annotated[int, Query(ge=0, le=BIG)],
    end: Annotated[int, Query(ge=0, le=BIG)],
) -> Response:
    """An auditor (or admin) key sees every opening; an entity key sees its own
    entity's, and the other leaves come back as ``{"index", "leaf_hash",
    "withheld": true}``. At most 100,000 a call (a ``400`` problem beyond)."""
    entity = (key.entity_ruc or "") if key.role == "entity" else None
    hashes, rows = await run_in_threadpool(
        ctx.service.log_entry_rows, start, end, limit=MAX_LOG_LEAVES
    )
    return Response(
        _entries_json(start, hashes, rows, entity).encode("utf-8"), media_type="application/json"
    )


def _entries_json(
    start: int, hashes: list[bytes], rows: dict[int, LogEntryRow], entity: str | None
) -> str:
    """The answer written out once, without a model pass (up to 100,000 entries): each
    metadata object is embedded as stored, the canonical JSON it was registered as."""
    parts: list[str] = []
    for index, leaf in enumerate(hashes, start):
        row = rows.get(index)
        if row is None or (entity is not None and row.entity_ruc != entity):
            parts.append(f'{{"index":{index},"leaf_hash":"{leaf.hex()}","withheld":true}}')
        else:
            parts.append(
                f'{{"index":{index},"leaf_hash":"{leaf.hex()}","sha256":"{row.sha256}",'
                f'"salt":"{row.salt}","metadata_sha256":"{row.metadata_sha256}",'
                f'"metadata":{row.metadata_json}}}'
            )
    return '{"entries":[' + ",".join(parts) + "]}"


__all__ = ["auditor_router", "router"]

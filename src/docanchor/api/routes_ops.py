"""Operations endpoints: liveness, readiness, Prometheus metrics.

Health answers say which part failed in words an operator can act on, with
the node URL reduced to its origin (a provider URL may carry an access key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from docanchor.api.context import ApiContext, Ctx
from docanchor.api.problems import public_store_detail
from docanchor.api.redact import redact
from docanchor.api.schemas import Health
from docanchor.errors import ChainIdentityError, StoreError
from docanchor.metrics import CONTENT_TYPE
from docanchor.store import SCHEMA_HEAD

router = APIRouter(tags=["operations"])


def _check(ctx: ApiContext, probe: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"ok": True, "detail": probe()}
    except StoreError as exc:
        return {"ok": False, "detail": public_store_detail(exc)}
    except Exception as exc:
        return {"ok": False, "detail": redact(str(exc) or type(exc).__name__, ctx.settings)}


def _answer(checks: dict[str, dict[str, Any]]) -> JSONResponse:
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "fail", "checks": checks}, status_code=200 if ok else 503
    )


def _database(ctx: ApiContext) -> str:
    ctx.service.store.ping()
    return f"reachable ({ctx.service.store.dialect})"


def _node(ctx: ApiContext) -> str:
    head = ctx.node_head()
    record = ctx.settings.recorded_deployment()
    if record is not None and ctx.settings.contract_address is None:
        reader = ctx.reader()
        reader.verify_identity()
        if reader.chain_id != record.get("chain_id"):
            raise ChainIdentityError(
                f"the node is on chain {reader.chain_id}, but this service's deployment "
                f"({record.get('address')}) is on chain {record.get('chain_id')}"
            )
    return f"reachable, head block {head}"


def _migrated(ctx: ApiContext) -> str:
    revision = ctx.service.store.schema_revision()
    if revision != SCHEMA_HEAD:
        raise RuntimeError(
            f"the database schema is at revision {revision or 'none'}, not {SCHEMA_HEAD}; "
            "restart docanchor serve (it migrates on start)"
        )
    return f"schema at revision {revision}"


def _contract(ctx: ApiContext) -> str:
    chain = ctx.anchoring_service().chain
    chain.check_contract()
    return f"code present at {chain.contract_address} on chain {chain.chain_id}"


_HEALTH_DOC: dict[int | str, dict[str, Any]] = {
    200: {"model": Health, "description": "Every check passed"},
    503: {"model": Health, "description": "A check failed; its detail says why"},
}


@router.get("/healthz", summary="Liveness", response_model=None, responses=_HEALTH_DOC)
def healthz(ctx: Ctx) -> JSONResponse:
    """The process answers, the database and the blockchain node are reachable."""
    return _answer(
        {
            "process": {"ok": True, "detail": "up"},
            "database": _check(ctx, lambda: _database(ctx)),
            "node": _check(ctx, lambda: _node(ctx)),
        }
    )


@router.get("/readyz", summary="Readiness", response_model=None, responses=_HEALTH_DOC)
def readyz(ctx: Ctx) -> JSONResponse:
    """The database is migrated to the newest schema, the node is reachable and the
    configured contract has code on its chain."""
    node = _check(ctx, lambda: _node(ctx))
    contract = (
        _check(ctx, lambda: _contract(ctx))
        if node["ok"]
        else {"ok": False, "detail": "not checked: the node is unreachable"}
    )
    return _answer(
        {"database": _check(ctx, lambda: _migrated(ctx)), "node": node, "contract": contract}
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}},
)
def metrics(ctx: Ctx) -> Response:
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)


__all__ = ["router"]

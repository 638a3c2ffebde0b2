"""docanchor's HTTP API: the FastAPI app factory. Thin: parse, call the service, answer.

Routes live in ``routes_public`` (verify, receipts, batches, signing key),
``routes_entity`` (registration, sealing, versions; API key required) and
``routes_ops`` (health, readiness, metrics). Every error is an RFC 9457
problem (``problems``); request bodies are streamed (``uploads``); the
anchoring loop of ``docanchor serve`` runs in ``loop``.

No app, service or connection is built at import time: :func:`create_app`
builds one from settings. The web page (``docanchor/web``, when it holds an
``index.html``) is served at ``/`` for every path no API route matches.
"""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from docanchor import __version__
from docanchor.api.context import ApiContext
from docanchor.api.guards import RefuseNul, SecurityHeaders
from docanchor.api.logs import RequestMiddleware, configure_logging
from docanchor.api.openapi import install_openapi
from docanchor.api.problems import PROBLEM_JSON, install_problem_handlers, problem_body
from docanchor.config import Settings, load_settings
from docanchor.errors import NotFoundError
from docanchor.service import DocAnchorService

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

DESCRIPTION = """\
Register procurement documents, anchor them in RFC 9162 Merkle batches on an EVM chain,
and verify documents and receipts.

Public: `POST /v1/verify`, `POST /v1/receipts/verify`, `GET /v1/batches…`, `GET /v1/keys`.
With an API key (`Authorization: Bearer <key>`, made by `docanchor keys create`):
`POST /v1/documents`, `POST /v1/documents/bulk`, `POST /v1/batches`, `GET /v1/documents`.
Every error is an RFC 9457 `application/problem+json` document.
"""


def _problem_500(path: str) -> tuple[bytes, bytes]:
    body = problem_body(
        500,
        "Internal error",
        "the server failed unexpectedly; the error is logged under this request id",
        instance=path,
    )
    return json.dumps(body).encode("utf-8"), PROBLEM_JSON.encode("ascii")


# The Swagger UI files /docs needs, from the swagger-ui-bundle-v2 package
# (Apache-2.0): served by the app itself, so /docs works offline and loads
# nothing from another host.
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}


# /docs itself: the assets above and a start script of its own (below), so
# that the page runs under the Content-Security-Policy (script-src 'self'),
# which refuses the inline script FastAPI's own Swagger UI page starts with.
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>docanchor API</title>
<link rel="icon" href="/favicon.svg">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/start.js"></script>
</body>
</html>
"""
# No validator badge: it would load an image from another host.
DOCS_START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
"""


def _install_docs(app: FastAPI) -> None:
    from fastapi.responses import FileResponse, HTMLResponse
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    assets = Path(str(swagger_ui_path))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name == "start.js":
            return Response(
                DOCS_START,
                media_type="text/javascript; charset=utf-8",
                headers={"Cache-Control": "public, max-age=86400"},
            )
        media_type = DOCS_ASSETS.get(name)
        if media_type is None:
            raise NotFoundError(f"there is no documentation asset {name!r}")
        return FileResponse(
            assets / name,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )


def create_app(
    settings: Settings,
    *,
    service: DocAnchorService | None = None,
    start_loop: bool = False,
) -> FastAPI:
    """The API over ``service`` (built from ``settings`` when not given).

    With ``start_loop``, the anchoring loop runs while the app is up (started and
    stopped by the app's lifespan). A service built here is closed at shutdown.
    """
    owns_service = service is None
    if service is None:
        from docanchor.wiring import build_service

        service = build_service(settings, chain=False)
    ctx = ApiContext(settings, service, owns_service=owns_service)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_loop:
            ctx.loop.start()
        try:
            yield
        finally:
            await run_in_threadpool(ctx.close)

    app = FastAPI(
        title="docanchor",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by _install_docs, with bundled assets
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    install_openapi(app)
    _install_docs(app)

    from docanchor.api import routes_entity, routes_log, routes_ops, routes_public

    app.include_router(routes_public.router)
    app.include_router(routes_log.router)
    app.include_router(routes_log.auditor_router)
    app.include_router(routes_entity.router)
    app.include_router(routes_ops.router)
    app.add_middleware(RefuseNul)
    # Pure ASGI middleware (no BaseHTTPMiddleware): request ids, logs and metrics
    # cover every answer, the refusals too.
    app.add_middleware(RequestMiddleware, metrics=ctx.metrics, problem_500=_problem_500)
    # Added last, so outermost: every answer carries the headers, a last-resort 500 too.
    app.add_middleware(SecurityHeaders)
    # The web page answers whatever no route matched. As the router's default app
    # (rather than a Mount at "/") it never shadows an API route, and a wrong
    # method on an API path still gets that route's 405.
    if (WEB_DIR / "index.html").is_file():
        app.router.default = StaticFiles(directory=WEB_DIR, html=True)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker of ``docanchor serve --workers N``)."""
    settings = load_settings()
    configure_logging(json_logs=settings.log_json)
    return freeze_startup_objects(create_app(settings, start_loop=True))


def freeze_startup_objects(app: FastAPI) -> FastAPI:
    """Leave what the process built at start (modules, the app, the ORM's tables) out
    of the garbage collector's full passes, and return ``app``.

    Those objects live as long as the server; without this, every full collection,
    which the many objects of a bulk request set off, walks all of them again (a
    third of a 10,000-document bulk registration's time was such collections).
    Objects that die later are still freed as usual.
    """
    gc.collect()
    gc.freeze()
    return app


__all__ = ["WEB_DIR", "create_app", "create_app_from_env", "freeze_startup_objects"]

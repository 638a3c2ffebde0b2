"""The operator's commands: ``serve`` (the HTTP API and its anchoring loop) and ``keys``.

``keys create`` prints a new API key once; only its SHA-256 is stored.
Nothing here prints or logs a key after it was created.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from docanchor.cli import JsonOpt, RpcUrlOpt, app, emit_json, ready_data_dir, settings
from docanchor.config import Settings
from docanchor.errors import InputError
from docanchor.presenters import key_json, new_key_json, revoked_key_json

# How long a worker of `serve --workers N` may take to answer uvicorn's health check.
WORKER_HEALTHCHECK_SECONDS = 60


def ready_settings() -> Settings:
    cfg = settings()
    ready_data_dir(cfg)
    return cfg


keys_app = typer.Typer(
    name="keys",
    help="Create, list and revoke API keys (roles: entity, auditor, admin).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, metavar="PORT", help="Port.")
    ] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, metavar="N", help="Worker processes.")
    ] = 1,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Run the HTTP API (OpenAPI at /docs) and the anchoring loop.

    Every DOCANCHOR_ANCHOR_INTERVAL seconds, or as soon as DOCANCHOR_BATCH_MAX
    documents wait, pending documents are sealed and anchored and anchored
    batches confirmed. Several processes may share one PostgreSQL database:
    a lease lets one of them anchor at a time.
    """
    import uvicorn

    from docanchor.api.logs import configure_logging
    from docanchor.api.server import MAX_HEAD_BYTES, CappedHttpToolsProtocol
    from docanchor.wiring import prepare_database

    cfg = settings(rpc_url=rpc_url)
    ready_data_dir(cfg)
    configure_logging(json_logs=cfg.log_json)
    prepare_database(cfg)  # migrate once, before any worker starts
    if workers == 1:
        from docanchor.api import create_app, freeze_startup_objects

        uvicorn.run(
            freeze_startup_objects(create_app(cfg, start_loop=True)),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
            # The request head is capped (431 beyond MAX_HEAD_BYTES) by either parser.
            http=CappedHttpToolsProtocol,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
        return
    # Workers are new processes that read their settings from the environment.
    os.environ["DOCANCHOR_DATA_DIR"] = str(cfg.data_dir)
    os.environ["DOCANCHOR_DATABASE_URL"] = cfg.resolved_database_url
    os.environ["DOCANCHOR_RPC_URL"] = cfg.rpc_url
    uvicorn.run(
        "docanchor.api:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        http=CappedHttpToolsProtocol,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        # uvicorn kills a worker that does not answer its health check in time
        # (5 s by default) and starts another: on a loaded machine a worker still
        # importing the app misses it, and the replacement too, in a loop.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help="entity, auditor or admin.")],
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity", metavar="RUC", help="The entity's RUC (required for role entity)."
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", metavar="TEXT", help="A note to recognise the key.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it once (it cannot be shown again)."""
    for flag, value in (("--role", role), ("--entity", entity), ("--label", label)):
        if value is not None and "\x00" in value:
            raise InputError(f"{flag} holds a NUL character")
    from docanchor.wiring import build_service

    service = build_service(ready_settings())
    try:
        made = service.create_api_key(role=role, entity_ruc=entity, label=label)
    finally:
        service.close()
    key = made.key
    if as_json:
        emit_json(new_key_json(made))
        return
    typer.echo(made.secret)
    typer.echo(
        f"key {key.id} ({key.role}"
        + (f", entity {key.entity_ruc}" if key.entity_ruc else "")
        + "): store it now, it is not shown again",
        err=True,
    )


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """The API keys (prefixes only, never the keys)."""
    from docanchor.wiring import build_service

    service = build_service(ready_settings())
    try:
        keys = [key_json(k) for k in service.api_keys()]
    finally:
        service.close()
    if as_json:
        emit_json({"keys": keys})
        return
    if not keys:
        typer.echo("no API keys; create one with `docanchor keys create`")
    for k in keys:
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        typer.echo(
            f"{k['id']:>4}  {k['prefix']}…  {k['role']:<8} {k['entity'] or '-':<14} {state}"
            + (f"  {k['label']}" if k["label"] else "")
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[
        int,
        typer.Argument(
            help="The key's id (see docanchor keys list).", metavar="ID", show_default=False
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key; requests with it are refused (401) from now on."""
    from docanchor.wiring import build_service

    service = build_service(ready_settings())
    try:
        key = service.revoke_api_key(key_id)
    finally:
        service.close()
    if as_json:
        emit_json(revoked_key_json(key))
        return
    typer.echo(f"key {key.id} ({key.prefix}…) revoked")


__all__ = ["keys_create", "keys_list", "keys_revoke", "serve"]

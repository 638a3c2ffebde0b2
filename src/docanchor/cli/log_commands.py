"""``docanchor log``: the log's checkpoints, consistency proofs, and a check of its
whole history against the chain."""

from __future__ import annotations

from typing import Annotated

import typer

from docanchor.cli import JsonOpt, app, emit_json, settings
from docanchor.errors import EXIT_CHECK_FAILED
from docanchor.presenters import checkpoint_json, consistency_json

log_app = typer.Typer(
    name="log",
    help="The append-only log: checkpoints, consistency proofs, history check.",
    no_args_is_help=True,
)
app.add_typer(log_app)


@log_app.command("checkpoints")
def checkpoints(
    start: Annotated[int, typer.Option("--start", min=0, help="First on-chain sequence.")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the log's checkpoints, oldest first."""
    from docanchor.wiring import build_service

    service = build_service(settings())
    batches = service.checkpoints(start=start, limit=limit)
    if as_json:
        emit_json({"checkpoints": [checkpoint_json(b) for b in batches]})
        return
    if not batches:
        typer.echo("the log has no checkpoint yet")
    for c in batches:
        seq = "-" if c.anchor is None else str(c.anchor.seq)
        block = "" if c.anchor is None else f", block {c.anchor.block_number}"
        typer.echo(
            f"seq {seq}: size {c.tree_size}, root {c.root.hex()}, {c.status}{block} "
            f"(batch {c.batch_id})"
        )


@log_app.command("consistency")
def consistency(
    first: Annotated[int, typer.Argument(min=1, help="The older checkpoint's tree size.")],
    second: Annotated[int, typer.Argument(min=1, help="The newer checkpoint's tree size.")],
    as_json: JsonOpt = False,
) -> None:
    """Print the RFC 9162 consistency proof between two checkpoints."""
    from docanchor.wiring import build_service

    service = build_service(settings())
    old, new, proof = service.consistency(first, second)
    if as_json:
        emit_json(consistency_json(first, second, old, new, proof))
        return
    typer.echo(
        f"from size {first} (root {old.root.hex()}) to size {second} (root {new.root.hex()}):"
    )
    for h in proof:
        typer.echo(f"  {h.hex()}")


@log_app.command("verify")
def verify(
    from_block: Annotated[
        int, typer.Option("--from-block", min=0, help="First block to scan.")
    ] = 0,
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Ethereum JSON-RPC URL.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that every anchored checkpoint extends the one before.

    Reads the contract's Anchored events, and for each checks that the log's
    compact range at its size folds to the anchored root and that a
    consistency proof joins it to the checkpoint before. Exits 1 on any
    problem.
    """
    cfg = settings(rpc_url=rpc_url)
    from docanchor.wiring import build_service, open_chain

    service = build_service(cfg, chain_client=open_chain(cfg, signer=False))
    report = service.verify_log(from_block=from_block)
    if as_json:
        emit_json(report.to_json())
    else:
        typer.echo(
            f"{report.events} checkpoint(s) on chain: "
            + ("each extends the one before" if report.ok else f"{len(report.findings)} problem(s)")
        )
        for finding in report.findings:
            typer.echo(f"  [{finding.kind}] {finding.detail}")
    if not report.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


__all__ = ["checkpoints", "consistency", "log_app", "verify"]

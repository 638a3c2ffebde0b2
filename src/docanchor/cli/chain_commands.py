"""Chain commands of the docanchor CLI: ``devnet``, ``deploy`` and ``anchorers``.

Thin: parse, call :mod:`docanchor.deployment` with a chain client that
:mod:`docanchor.wiring` connects (or run the devnet it prepares), print. web3
is imported inside the commands that talk to a node, never at module import,
so the rest of the CLI starts fast. Errors propagate to
:func:`docanchor.cli.main`, which maps them to exit codes.
"""

from __future__ import annotations

from typing import Annotated

import typer

from docanchor import deployment
from docanchor.cli import JsonOpt, RpcUrlOpt, app, emit_json, ready_data_dir, settings
from docanchor.config import DEV_CHAIN_ID, Settings

anchorers_app = typer.Typer(
    name="anchorers",
    help="Grant, revoke and list the accounts allowed to anchor roots (ANCHORER_ROLE).",
    no_args_is_help=True,
)
app.add_typer(anchorers_app)


def _connect(rpc_url: str | None) -> tuple[Settings, deployment.ContractAdmin]:
    from docanchor.wiring import open_chain

    cfg = settings(rpc_url=rpc_url)
    return cfg, open_chain(cfg)


# --- devnet ------------------------------------------------------------------


@app.command()
def devnet(
    port: Annotated[
        int,
        typer.Option(
            "--port", min=1, max=65535, metavar="PORT", help="Port to listen on (127.0.0.1)."
        ),
    ] = 8545,
    silent: Annotated[bool, typer.Option("--silent", help="Hide Anvil's own output.")] = False,
) -> None:
    """Run a local Anvil devnet (chain 31337) in the foreground, kept in the data directory.

    The chain's state is saved every second and on exit to devnet-state.json
    in the data directory and loaded again at the next start.
    """
    from docanchor.wiring import devnet_argv, run_devnet

    argv, state = devnet_argv(settings(), port=port, silent=silent)
    typer.echo(
        f"devnet: chain {DEV_CHAIN_ID} at http://127.0.0.1:{port}; "
        f"state in {state} (saved every second and on exit)",
        err=True,
    )
    code = run_devnet(argv)
    raise typer.Exit(code)


# --- deploy ------------------------------------------------------------------


@app.command()
def deploy(
    force: Annotated[
        bool, typer.Option("--force", help="Deploy a new contract even if one is recorded.")
    ] = False,
    json_out: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
) -> None:
    """Deploy the DocumentAnchor contract (version 2, the log) and record it in the data
    directory.

    Does nothing (and says where the contract is) when the recorded deployment
    is version 2 and still has code on the node's chain, unless --force. A
    recorded version 1 deployment is kept under ``previous`` in the new
    record: its receipts stay valid against it.
    """
    ready_data_dir(settings(rpc_url=rpc_url))  # where the deployment will be recorded
    cfg, client = _connect(rpc_url)
    outcome = deployment.deploy(
        client, record=cfg.recorded_deployment(), record_path=cfg.deployment_path, force=force
    )
    result, previous = outcome.result, outcome.previous
    if outcome.existing:
        if json_out:
            emit_json(result)
        else:
            typer.echo(
                f"DocumentAnchor is already deployed at {result['address']} "
                f"on chain {result['chain_id']}"
            )
        return
    if json_out:
        emit_json({**result, **({"previous": previous} if previous else {})})
    else:
        kept = "".join(
            f"; the version {p['version']} contract at {p['address']} stays trusted for its "
            "receipts"
            for p in previous[-1:]
        )
        typer.echo(
            f"deployed DocumentAnchor at {result['address']} on chain {result['chain_id']} "
            f"(block {result['block_number']}, tx {result['tx_hash']}); "
            f"recorded in {cfg.deployment_path}{kept}"
        )


# --- anchorers ---------------------------------------------------------------

AddressArg = Annotated[
    str, typer.Argument(help="The account's 0x address.", metavar="ADDRESS", show_default=False)
]


def _change_role(address: str, grant: bool, json_out: bool, rpc_url: str | None) -> None:
    account = deployment.checked_address(address)  # before the node is contacted: exit 2
    _cfg, client = _connect(rpc_url)
    tx_hash = deployment.change_anchorer(client, account, grant=grant)
    if json_out:
        emit_json({"address": account, "anchorer": grant, "tx_hash": tx_hash})
    else:
        verb = "granted ANCHORER_ROLE to" if grant else "revoked ANCHORER_ROLE from"
        typer.echo(f"{verb} {account} (tx {tx_hash})")


@anchorers_app.command("grant")
def anchorers_grant(
    address: AddressArg, json_out: JsonOpt = False, rpc_url: RpcUrlOpt = None
) -> None:
    """Allow ADDRESS to anchor roots (needs the admin account)."""
    _change_role(address, True, json_out, rpc_url)


@anchorers_app.command("revoke")
def anchorers_revoke(
    address: AddressArg, json_out: JsonOpt = False, rpc_url: RpcUrlOpt = None
) -> None:
    """Stop ADDRESS from anchoring roots (needs the admin account)."""
    _change_role(address, False, json_out, rpc_url)


@anchorers_app.command("list")
def anchorers_list(json_out: JsonOpt = False, rpc_url: RpcUrlOpt = None) -> None:
    """List the accounts that hold ANCHORER_ROLE now."""
    from docanchor.wiring import open_chain

    cfg = settings(rpc_url=rpc_url)
    listed = deployment.anchorers(open_chain(cfg, signer=False))
    if json_out:
        emit_json(listed)
    else:
        for account in listed["anchorers"]:
            typer.echo(account)

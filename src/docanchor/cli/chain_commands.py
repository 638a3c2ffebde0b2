"""Chain commands of the docanchor CLI: ``devnet``, ``deploy`` and ``anchorers``.

Thin: parse, call :mod:`docanchor.chain` or :mod:`docanchor.devnet`, print.
web3 is imported inside the commands that talk to a node, never at module
import, so the rest of the CLI starts fast. Errors propagate to
:func:`docanchor.cli.main`, which maps them to exit codes.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from docanchor.cli import JsonOpt, RpcUrlOpt, app, emit_json, ready_data_dir, settings
from docanchor.config import DEV_CHAIN_ID, Settings
from docanchor.errors import ConfigError, InputError
from docanchor.vocabulary import ADDRESS

if TYPE_CHECKING:
    from docanchor.chain import ChainClient

anchorers_app = typer.Typer(
    name="anchorers",
    help="Grant, revoke and list the accounts allowed to anchor roots (ANCHORER_ROLE).",
    no_args_is_help=True,
)
app.add_typer(anchorers_app)


def _connect(rpc_url: str | None) -> tuple[Settings, ChainClient]:
    from docanchor.chain import connect_chain

    cfg = settings(rpc_url=rpc_url)
    return cfg, connect_chain(cfg)


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
    from docanchor.devnet import anvil_argv, find_anvil, run_devnet

    cfg = settings()
    binary = find_anvil(os.environ)
    state = cfg.devnet_state_path.resolve()
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the data directory {state.parent}: {exc.strerror}"
        ) from exc
    argv = anvil_argv(binary, port=port, state_path=state, chain_id=DEV_CHAIN_ID, silent=silent)
    typer.echo(
        f"devnet: chain {DEV_CHAIN_ID} at http://127.0.0.1:{port}; "
        f"state in {state} (saved every second and on exit)",
        err=True,
    )
    code = run_devnet(argv)
    raise typer.Exit(code)


# --- deploy ------------------------------------------------------------------


def _write_deployment(path: Path, record: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)  # atomic: a crash leaves the old record or the new one
    except OSError as exc:
        raise ConfigError(f"cannot write the deployment record {path}: {exc.strerror}") from exc


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
    chain_id = client.chain_id
    record = cfg.recorded_deployment()
    if (
        not force
        and record is not None
        and _version(record) >= 2
        and record.get("chain_id") == chain_id
        and client.has_code(str(record["address"]))
    ):
        result = {
            k: record.get(k) for k in ("address", "chain_id", "tx_hash", "block_number", "version")
        }
        if json_out:
            emit_json(result)
        else:
            typer.echo(
                f"DocumentAnchor is already deployed at {record['address']} on chain {chain_id}"
            )
        return
    deployment = client.deploy()
    result = {
        "address": deployment.address,
        "chain_id": deployment.chain_id,
        "tx_hash": deployment.tx_hash,
        "block_number": deployment.block_number,
        "version": 2,
    }
    previous = _previous_deployments(record)
    _write_deployment(
        cfg.deployment_path,
        {
            **result,
            "deployed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **({"previous": previous} if previous else {}),
        },
    )
    if json_out:
        emit_json({**result, **({"previous": previous} if previous else {})})
    else:
        kept = "".join(
            f"; the version {p['version']} contract at {p['address']} stays trusted for its "
            "receipts"
            for p in previous[-1:]
        )
        typer.echo(
            f"deployed DocumentAnchor at {deployment.address} on chain {deployment.chain_id} "
            f"(block {deployment.block_number}, tx {deployment.tx_hash}); "
            f"recorded in {cfg.deployment_path}{kept}"
        )


def _version(record: dict[str, Any]) -> int:
    """The contract version of a deployment record (records without one are version 1)."""
    value = record.get("version", 1)
    return value if isinstance(value, int) else 1


def _previous_deployments(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The deployments a new record keeps: they hold receipts already issued.

    Every replaced deployment stays trusted for its own receipts (receipt
    spec step 5): a version 1 contract, or a version 2 one replaced by
    --force (its log ends there; the new contract starts a new one).
    """
    if record is None:
        return []
    kept = [p for p in record.get("previous", []) if isinstance(p, dict)]
    entry = {k: v for k, v in record.items() if k != "previous"}
    entry["version"] = _version(record)
    if entry not in kept:
        kept.append(entry)
    return kept


# --- anchorers ---------------------------------------------------------------


AddressArg = Annotated[
    str, typer.Argument(help="The account's 0x address.", metavar="ADDRESS", show_default=False)
]


def _change_role(address: str, grant: bool, json_out: bool, rpc_url: str | None) -> None:
    if not ADDRESS.fullmatch(address.strip()):
        # Checked before web3 is imported or the node is contacted: exits 2 at once.
        raise InputError(f"not an Ethereum address: {address!r} (expected 0x and 40 hex digits)")
    from docanchor.chain import checksum_address

    account = checksum_address(address)  # also rejects a mixed-case address with a bad checksum
    _cfg, client = _connect(rpc_url)
    tx_hash = client.grant_anchorer(account) if grant else client.revoke_anchorer(account)
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
    from docanchor.chain import connect_chain

    cfg = settings(rpc_url=rpc_url)
    client = connect_chain(cfg, require_signer=False)
    accounts = client.list_anchorers()
    if json_out:
        emit_json(
            {
                "contract": client.contract_address,
                "chain_id": client.chain_id,
                "anchorers": accounts,
            }
        )
    else:
        for account in accounts:
            typer.echo(account)

"""The operator's contract use cases: deploy ``DocumentAnchor``, grant and revoke
``ANCHORER_ROLE``, list the anchorers.

Works on a chain client handed in (anything that fulfils :class:`ContractAdmin`;
``wiring.open_chain`` builds one) and on the deployment record the caller
read from the data directory; it reads no settings and never imports web3 at
module import (the address check imports the chain adapter when it runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from docanchor.errors import ConfigError, InputError
from docanchor.vocabulary import ADDRESS, utc_text, utcnow

CONTRACT_VERSION = 2


class DeployedContract(Protocol):
    @property
    def address(self) -> str: ...

    @property
    def chain_id(self) -> int: ...

    @property
    def tx_hash(self) -> str: ...

    @property
    def block_number(self) -> int: ...


class ContractAdmin(Protocol):
    """What the operator's commands need of a signing chain client."""

    @property
    def chain_id(self) -> int: ...

    @property
    def contract_address(self) -> str: ...

    def has_code(self, address: str) -> bool: ...

    def deploy(self) -> DeployedContract: ...

    def grant_anchorer(self, address: str) -> str: ...

    def revoke_anchorer(self, address: str) -> str: ...

    def list_anchorers(self) -> list[str]: ...


@dataclass(frozen=True)
class DeployOutcome:
    """What ``deploy`` did: ``result`` is the deployment's public record (address,
    chain id, transaction, block, version); ``existing`` when nothing was deployed."""

    result: dict[str, Any]
    previous: list[dict[str, Any]]
    existing: bool


def record_version(record: dict[str, Any]) -> int:
    """The contract version of a deployment record (records without one are version 1)."""
    value = record.get("version", 1)
    return value if isinstance(value, int) else 1


def previous_deployments(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The deployments a new record keeps: they hold receipts already issued.

    Every replaced deployment stays trusted for its own receipts (receipt
    spec step 5): a version 1 contract, or a version 2 one replaced by
    --force (its log ends there; the new contract starts a new one).
    """
    if record is None:
        return []
    kept = [p for p in record.get("previous", []) if isinstance(p, dict)]
    entry = {k: v for k, v in record.items() if k != "previous"}
    entry["version"] = record_version(record)
    if entry not in kept:
        kept.append(entry)
    return kept


def write_deployment(path: Path, record: dict[str, Any]) -> None:
    """Write the deployment record atomically: a crash leaves the old record or the new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write the deployment record {path}: {exc.strerror}") from exc


def deploy(
    client: ContractAdmin,
    *,
    record: dict[str, Any] | None,
    record_path: Path,
    force: bool,
    now: datetime | None = None,
) -> DeployOutcome:
    """Deploy a new contract and record it at ``record_path``, keeping the replaced ones
    under ``previous``; nothing when ``record`` is a version 2 deployment that still has
    code on the client's chain, unless ``force``."""
    if (
        not force
        and record is not None
        and record_version(record) >= CONTRACT_VERSION
        and record.get("chain_id") == client.chain_id
        and client.has_code(str(record["address"]))
    ):
        result = {
            k: record.get(k) for k in ("address", "chain_id", "tx_hash", "block_number", "version")
        }
        return DeployOutcome(result, [], existing=True)
    deployed = client.deploy()
    result = {
        "address": deployed.address,
        "chain_id": deployed.chain_id,
        "tx_hash": deployed.tx_hash,
        "block_number": deployed.block_number,
        "version": CONTRACT_VERSION,
    }
    previous = previous_deployments(record)
    write_deployment(
        record_path,
        {
            **result,
            "deployed_at": utc_text(now or utcnow(), timespec="seconds"),
            **({"previous": previous} if previous else {}),
        },
    )
    return DeployOutcome(result, previous, existing=False)


def checked_address(address: str) -> str:
    """``address`` in EIP-55 form; :class:`InputError` when it is not an address (text
    that is not 0x and 40 hex digits is refused before web3 is imported)."""
    body = address.strip()
    if not ADDRESS.fullmatch(body):
        raise InputError(f"not an Ethereum address: {address!r} (expected 0x and 40 hex digits)")
    from docanchor.chain import checksum_address

    return str(checksum_address(body))  # refuses a mixed-case address with a bad checksum


def anchorers(client: ContractAdmin) -> dict[str, Any]:
    """The accounts that hold ANCHORER_ROLE now, with the contract and its chain."""
    accounts = client.list_anchorers()
    return {"contract": client.contract_address, "chain_id": client.chain_id, "anchorers": accounts}


def change_anchorer(client: ContractAdmin, account: str, *, grant: bool) -> str:
    """Grant (or revoke) ANCHORER_ROLE to ``account``; the transaction's hash."""
    return client.grant_anchorer(account) if grant else client.revoke_anchorer(account)


__all__ = [
    "CONTRACT_VERSION",
    "ContractAdmin",
    "DeployOutcome",
    "anchorers",
    "change_anchorer",
    "checked_address",
    "deploy",
    "previous_deployments",
    "record_version",
    "write_deployment",
]

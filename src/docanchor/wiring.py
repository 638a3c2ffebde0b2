"""Builds the adapters and the service from settings. Used by the edges only.

``cli`` and ``api`` call these, and reach the store, the chain, the signer,
the devnet and a remote service's log only through what this module builds;
nothing in the core, the adapters or the service reads settings on its own.
The chain adapter (web3) is imported only when a chain is asked for, because
importing web3 costs seconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from docanchor.config import DEV_CHAIN_ID, Settings
from docanchor.errors import ConfigError
from docanchor.receipt import TrustPolicy, trust_policy
from docanchor.service import DocAnchorService, TxPolicy
from docanchor.store import Store

if TYPE_CHECKING:
    from docanchor.chain import ChainClient
    from docanchor.remote import RemoteLogSource
    from docanchor.signing import LazyReceiptSigner


def open_store(settings: Settings) -> Store:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(settings.resolved_database_url)


def prepare_database(settings: Settings) -> None:
    """Create the data directory and migrate the database to the newest schema."""
    open_store(settings).close()


def close_all() -> None:
    """Close every database connection this process opened (at the end of a command)."""
    from docanchor.store import close_all_stores

    close_all_stores()


def open_chain(settings: Settings, *, signer: bool = True) -> ChainClient:
    from docanchor.chain import connect_chain

    return connect_chain(settings, require_signer=signer)


def open_reader(
    settings: Settings, *, request_timeout: float | None = None, pin_chain_id: bool = False
) -> ChainClient:
    """A read-only client of the configured node, for trustless receipt checks. With
    ``pin_chain_id``, a node on another chain than ``DOCANCHOR_CHAIN_ID`` is refused."""
    from docanchor.chain import ChainClient

    expected = settings.chain_id if pin_chain_id else None
    return (
        ChainClient(rpc_url=settings.rpc_url, poa=settings.poa, expected_chain_id=expected)
        if request_timeout is None
        else ChainClient(
            rpc_url=settings.rpc_url,
            poa=settings.poa,
            expected_chain_id=expected,
            request_timeout=request_timeout,
        )
    )


def anchoring_service(settings: Settings, base: DocAnchorService) -> DocAnchorService:
    """``base`` (its store, signer and policies) over a signing chain client connected now."""
    client = open_chain(settings, signer=True)
    return base.with_chain(client, confirmations=settings.required_confirmations(client.chain_id))


def open_remote_log(url: str, key: str | None) -> RemoteLogSource:
    """Another docanchor service's log over HTTP (``--url``, ``--key``), for a remote audit."""
    from docanchor.remote import RemoteLogSource

    return RemoteLogSource.connect(url, key)


def devnet_argv(settings: Settings, *, port: int, silent: bool) -> tuple[list[str], Path]:
    """The command line of Anvil (chain 31337) with its state in the data directory,
    and the state file."""
    from docanchor.devnet import anvil_argv, find_anvil

    binary = find_anvil(os.environ)
    state = settings.devnet_state_path.resolve()
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the data directory {state.parent}: {exc.strerror}"
        ) from exc
    argv = anvil_argv(binary, port=port, state_path=state, chain_id=DEV_CHAIN_ID, silent=silent)
    return list(argv), state


def run_devnet(argv: Sequence[str]) -> int:
    """Run Anvil in the foreground until it exits or is interrupted; its exit code."""
    from docanchor.devnet import run_devnet as run

    return run(argv)


def open_signer(settings: Settings) -> LazyReceiptSigner | None:
    """The receipt signer; its key is read, or created, when it first signs."""
    if not settings.sign_receipts:
        return None
    from docanchor.signing import LazyReceiptSigner

    return LazyReceiptSigner(settings.signing_key_path)


def build_service(
    settings: Settings,
    *,
    chain: bool = False,
    store: Store | None = None,
    chain_client: ChainClient | None = None,
) -> DocAnchorService:
    """The service over the configured database, and the chain when ``chain`` is set."""
    client = chain_client
    if client is None and chain:
        client = open_chain(settings)
    confirmations = settings.required_confirmations(client.chain_id) if client else 1
    return DocAnchorService(
        store=store or open_store(settings),
        chain=client,
        signer=open_signer(settings),
        confirmations=confirmations,
        batch_max=settings.batch_max,
        tx_policy=tx_policy(settings),
    )


def tx_policy(settings: Settings) -> TxPolicy:
    """The transaction manager's settings (DOCANCHOR_TX_*)."""
    return TxPolicy(
        bump_percent=settings.tx_bump_percent,
        max_attempts=settings.tx_max_attempts,
        bump_after=settings.tx_bump_after,
        pending_wait=settings.tx_pending_wait,
    )


def verifier_trust(
    settings: Settings,
    node_chain_id: int | None,
    *,
    own_key: bytes | None = None,
    extra_keys: tuple[bytes, ...] = (),
) -> TrustPolicy:
    """What a verifier with these settings trusts (receipt spec section 6 step 5, and the
    signature check): :meth:`Settings.trusted_deployments`, and as signing keys
    ``own_key`` (the service's), the data dir's key file if it exists,
    ``DOCANCHOR_TRUSTED_SIGNING_KEYS`` and ``extra_keys``.
    """
    from docanchor.signing import ed25519_verify, public_key_of

    keys = [*settings.signing_public_keys(), *extra_keys]
    if own_key is not None:
        keys.append(own_key)
    else:
        data_dir_key = public_key_of(settings.signing_key_path)
        if data_dir_key is not None:
            keys.append(data_dir_key)
    return trust_policy(settings.trusted_deployments(node_chain_id), keys, ed25519_verify)

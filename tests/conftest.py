"""Shared fixtures. Each fixture is small; helpers live in their own modules
(``tests/support/``: the devnet process, database URLs, the CLI driver)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from docanchor.config import ANVIL_DEV_PRIVATE_KEY
from tests.support.anvil import AnvilNode
from tests.support.dbfixtures import database_url

if TYPE_CHECKING:
    from docanchor.chain import ChainClient

REPO_ROOT = Path(__file__).resolve().parents[1]

__all__ = ["database_url"]  # a fixture, parametrized over SQLite and PostgreSQL


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """One Anvil devnet (chain 31337) for the whole session, on a free port."""
    folder = tmp_path_factory.mktemp("anvil")
    node = AnvilNode(folder / "state.json")
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def deployed(anvil: AnvilNode) -> Iterator[tuple[ChainClient, str]]:
    """A fresh DocumentAnchor on the session devnet: (ChainClient signed by the
    first dev account, contract address)."""
    from docanchor.chain import ChainClient  # web3 is slow to import; only chain tests pay

    client = ChainClient(rpc_url=anvil.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY)
    deployment = client.deploy()
    yield client, deployment.address

"""The real app served for the browser tests, and what those tests share.

``deployed_service`` deploys a fresh contract on the devnet and builds the
service over it; ``serve`` runs the app under uvicorn on a loopback port for
the length of a ``with`` block. The page's fixtures (the browser, a tab that
records what it sends) are in ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docanchor.config import ANVIL_DEV_PRIVATE_KEY, Settings
from docanchor.devnet import free_port
from tests.support.anvil import AnvilNode

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from docanchor.chain import ChainClient
    from docanchor.service import DocAnchorService

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 20_000


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.02)


@dataclass
class Served:
    """A service over a freshly deployed contract, and the settings it was built with."""

    settings: Settings
    service: DocAnchorService
    client: ChainClient
    contract: str
    deployed_block: int  # the block of the contract's deployment


def deployed_service(anvil: AnvilNode, data_dir: Path, **settings: Any) -> Served:
    """A new ``DocumentAnchor`` on the devnet and a service that anchors in it with the
    devnet's key, one confirmation and plain logs; ``settings`` adds or overrides."""
    from docanchor.chain import ChainClient
    from docanchor.wiring import build_service

    client = ChainClient(rpc_url=anvil.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY)
    deployed = client.deploy()
    built = Settings(
        **{
            "data_dir": data_dir,
            "rpc_url": anvil.rpc_url,
            "contract_address": deployed.address,
            "private_key": ANVIL_DEV_PRIVATE_KEY,
            "confirmations": 1,
            "log_json": False,
            **settings,
        }
    )
    service = build_service(built, chain_client=client)
    return Served(built, service, client, deployed.address, deployed.block_number)


@contextmanager
def serve(served: Served, port: int | None = None) -> Iterator[str]:
    """The app of ``served`` (its loop not started) under uvicorn; yields its base URL."""
    import uvicorn

    from docanchor.api import create_app

    app = create_app(served.settings, service=served.service, start_loop=False)
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"web-uvicorn-{port}", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), "uvicorn did not start")
        assert server.started, "uvicorn exited during startup"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass
class SentRequest:
    method: str
    url: str
    body: bytes


@dataclass
class Tab:
    page: Page
    requests: list[SentRequest]

    def api_calls(self) -> list[SentRequest]:
        return [r for r in self.requests if "/v1/" in r.url]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)

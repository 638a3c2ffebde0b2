"""Every command through a node that rate-limits a third of its answers, delays
them and drops the connection after each transaction it receives.

The CLI runs against the misbehaving proxy ``tests/support/rpcproxy.py`` in front of
the session's Anvil. Each command must complete, the receipt must verify,
and the chain must hold one anchor per batch. And ``anchor --wait`` on a
terminal (a pseudo-terminal here) shows what it waits for.
"""

from __future__ import annotations

import os
import pty
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.anvil import AnvilNode
from tests.support.clihelp import DOCANCHOR, Cli, rpc
from tests.support.rpcproxy import Faults, RpcProxy

ENTITY = "20131370998"


@pytest.fixture
def proxy(anvil: AnvilNode) -> Iterator[RpcProxy]:
    node = RpcProxy(anvil.rpc_url).start()
    try:
        yield node
    finally:
        node.stop()


def test_every_command_completes_through_a_node_that_rate_limits_a_third_of_its_answers(
    proxy: RpcProxy, tmp_path: Path, database_url: str
) -> None:
    proxy.faults = Faults(
        share=1 / 3,
        status=429,
        delay=0.01,
        drop_after_forward=frozenset({"eth_sendRawTransaction"}),
    )
    cli = Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=proxy.url)
    cli.ok("deploy")
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"orden-{i}.pdf").write_bytes(f"orden {i} {tmp_path.name}".encode())
    cli.ok("submit", str(folder), "--entity", ENTITY, "--reference", "OS-9", "--as-versions")
    anchored = cli.ok("anchor", "--wait", "--timeout", "120", "--json").json()["batches"]
    assert [b["status"] for b in anchored] == ["confirmed"]
    status = cli.ok("status", "--json").json()
    assert status["documents"]["confirmed"] == 3
    (batch,) = status["batches"]
    # The connection dropped after the send: the transaction was found on the node,
    # not sent a second time under another hash.
    assert [a["kind"] for a in batch["attempts"]] == ["sent"]
    receipt = tmp_path / "r.json"
    receipt.write_text(cli.ok("receipt", str(folder / "orden-1.pdf")).stdout)
    cli.ok("verify", str(folder / "orden-1.pdf"), "--receipt", str(receipt))
    cli.ok("audit")
    assert proxy.refused.total() > 0  # the node really misbehaved
    assert proxy.methods["eth_sendRawTransaction"] >= 2  # the deployment and the anchor
    contract = cli.ok("status", "--json").json()["batches"][0]["contract"]
    # One anchor on chain for the one batch (anchorCount() of the contract).
    count = rpc(proxy.upstream, "eth_call", {"to": contract, "data": "0x" + ANCHOR_COUNT}, "latest")
    assert int(count, 16) == 1


# The selector of anchorCount(): keccak("anchorCount()")[:4], computed with eth_utils.
ANCHOR_COUNT = "34f96c8c"


@pytest.fixture
def interval_node(tmp_path: Path) -> Iterator[AnvilNode]:
    with AnvilNode(tmp_path / "interval.json") as node:
        yield node


def test_anchor_wait_shows_its_progress_on_a_terminal(
    interval_node: AnvilNode, tmp_path: Path, database_url: str
) -> None:
    cli = Cli(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rpc_url=interval_node.rpc_url,
        extra_env={"DOCANCHOR_CONFIRMATIONS": "3"},
    )
    cli.ok("deploy")
    document = tmp_path / "acta.pdf"
    document.write_bytes(f"acta {tmp_path.name}".encode())
    cli.ok("submit", str(document), "--entity", ENTITY)
    rpc(interval_node.rpc_url, "evm_setIntervalMining", 1)  # a block a second
    controller, terminal = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        # Read the terminal while the command runs: a terminal holds only a few
        # kilobytes, and a command that waits long redraws its line many times.
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal side is closed and drained
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [DOCANCHOR, "anchor", "--wait", "--timeout", "60"],
            env=cli.env(),
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=90,
            check=False,
        )
        os.close(terminal)
        reader.join(timeout=10)
    finally:
        os.close(controller)
    shown = b"".join(chunks)
    assert proc.returncode == 0, proc.stdout
    assert "confirmed" in proc.stdout
    lines = [line for line in shown.decode().split("\r") if line.strip("\x1b[K \n")]
    progress = [line.replace("\x1b[K", "") for line in lines if "waiting for 1 batch" in line]
    assert progress, shown
    # Confirmations so far out of the required three, the head, the seconds waited.
    assert any(" of 3" in p or "/3 confirmations" in p for p in progress), progress
    assert all(", head " in p and p.rstrip().endswith(" s") for p in progress), progress
    seen = {p.split("/3 confirmations")[0].rsplit(" ", 1)[-1] for p in progress if "/3" in p}
    assert len(seen) >= 2, progress  # the count moved while it waited

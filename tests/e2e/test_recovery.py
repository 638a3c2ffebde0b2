"""Crash recovery, reorganisations and reset chains, on a devnet of their own.

Each crash is a real SIGKILL of a process in the middle of anchoring
(``tests/support/crash_driver.py``); the next ``docanchor anchor`` must finish the job with
exactly one anchor per batch. Reorganisations use Anvil's snapshots; a reset
chain is Anvil's ``anvil_reset``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli, rpc

ENTITY = "20131370998"
DRIVER = Path(__file__).resolve().parents[1] / "support" / "crash_driver.py"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    folder = tmp_path_factory.mktemp("recovery-anvil")
    with AnvilNode(folder / "state.json") as anvil:
        yield anvil


@pytest.fixture
def cli(tmp_path: Path, database_url: str, node: AnvilNode) -> Iterator[Cli]:
    rpc(node.rpc_url, "evm_setAutomine", True)
    # A transaction that never reached the node (or was dropped) is looked for
    # during the pending wait, then sent again; on a devnet that mines at once,
    # one second is plenty (the default of 10 s is for public networks).
    c = Cli(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rpc_url=node.rpc_url,
        extra_env={"DOCANCHOR_TX_PENDING_WAIT": "1"},
    )
    c.ok("deploy")
    yield c
    rpc(node.rpc_url, "evm_setAutomine", True)


def submit_some(cli: Cli, tmp_path: Path, n: int = 5) -> None:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"factura-{i}.pdf").write_bytes(f"factura {i} {tmp_path.name}".encode())
    cli.ok("submit", str(folder), "--entity", ENTITY, "--reference", "OC-55", "--as-versions")


def crash_at(cli: Cli, point: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(DRIVER), point],
        env=cli.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr)


def chain_view(cli: Cli) -> tuple[int, list[str]]:
    """(anchorCount, roots of every Anchored event) of the deployed contract."""
    from docanchor.chain import ChainClient

    record = json.loads((cli.data_dir / "deployment.json").read_text())
    client = ChainClient(rpc_url=cli.rpc_url, contract_address=record["address"])
    return client.anchor_count(), [e.root.hex() for e in client.scan_anchored(0)]


def assert_exactly_one_anchor_per_batch(cli: Cli) -> dict[str, object]:
    status = cli.ok("status", "--json").json()
    batches = status["batches"]
    count, roots = chain_view(cli)
    assert count == len(batches) == len(roots)
    assert sorted(roots) == sorted(b["root"] for b in batches)
    assert all(b["status"] == "confirmed" for b in batches)
    return status


@pytest.mark.parametrize(
    "point", ["after_seal", "before_broadcast", "after_broadcast", "after_mined"]
)
def test_a_crash_at_any_point_is_recovered_without_a_second_anchor(
    cli: Cli, tmp_path: Path, point: str
) -> None:
    submit_some(cli, tmp_path)
    crash_at(cli, point)
    state = cli.ok("status", "--json").json()
    assert state["documents"]["sealed"] == 5  # sealed before the crash, and kept
    if point == "after_seal":
        assert chain_view(cli)[0] == 0
    if point in ("after_broadcast", "after_mined"):
        assert chain_view(cli)[0] == 1  # on chain, but the database does not know yet

    recovered = cli.ok("anchor", "--json").json()
    assert [b["status"] for b in recovered["batches"]] == ["confirmed"]
    status = assert_exactly_one_anchor_per_batch(cli)
    assert status["documents"]["confirmed"] == 5
    receipt = cli.data_dir.parent / "r.json"
    receipt.write_text(cli.ok("receipt", str(tmp_path / "docs" / "factura-0.pdf")).stdout)
    cli.ok("verify", str(tmp_path / "docs" / "factura-0.pdf"), "--receipt", str(receipt))


def test_a_transaction_still_pending_after_a_crash_is_awaited_not_resent(
    cli: Cli, tmp_path: Path, node: AnvilNode
) -> None:
    submit_some(cli, tmp_path)
    rpc(node.rpc_url, "evm_setAutomine", False)
    crash_at(cli, "after_broadcast")
    assert chain_view(cli)[0] == 0  # in the mempool only
    rpc(node.rpc_url, "evm_mine")
    rpc(node.rpc_url, "evm_setAutomine", True)
    cli.ok("anchor")
    assert_exactly_one_anchor_per_batch(cli)


def test_a_dropped_transaction_is_sent_again(cli: Cli, tmp_path: Path, node: AnvilNode) -> None:
    submit_some(cli, tmp_path)
    rpc(node.rpc_url, "evm_setAutomine", False)
    crash_at(cli, "after_broadcast")
    tx_hash = cli.ok("status", "--json").json()["batches"][0]["tx_hash"]
    assert tx_hash
    rpc(node.rpc_url, "anvil_dropTransaction", tx_hash)
    rpc(node.rpc_url, "evm_setAutomine", True)
    cli.ok("anchor")
    assert_exactly_one_anchor_per_batch(cli)
    # Signed again with the same nonce and fees, the transaction is the same
    # one, byte for byte: it was sent again, and now it is mined.
    assert rpc(node.rpc_url, "eth_getTransactionReceipt", tx_hash)["status"] == "0x1"


def test_a_reorganisation_sends_the_batch_back_and_anchors_it_again(
    cli: Cli, tmp_path: Path, node: AnvilNode
) -> None:
    submit_some(cli, tmp_path)
    snapshot = rpc(node.rpc_url, "evm_snapshot")
    first = cli.ok("anchor", "--json").json()["batches"][0]
    assert first["status"] == "confirmed"
    old_receipt = tmp_path / "old.json"
    old_receipt.write_text(cli.ok("receipt", str(tmp_path / "docs" / "factura-3.pdf")).stdout)
    # The anchoring block leaves the canonical chain; other blocks replace it.
    rpc(node.rpc_url, "evm_revert", snapshot)
    rpc(node.rpc_url, "anvil_mine", "0x5")
    assert chain_view(cli)[0] == 0
    # The receipt of the lost anchor: step 6 fails, and its confirmations are not counted.
    lost = cli.run("verify", "--receipt", str(old_receipt))
    assert lost.code == 1 and lost.stdout.startswith("NOT VALID: 0 confirmations"), lost.stdout
    assert "[FAIL] 6. block_hash" in lost.stdout
    assert "[skip] 7. confirmations" in lost.stdout and "[ok  ] 7." not in lost.stdout

    again = cli.ok("anchor").stdout
    assert f"batch {first['id']}:" in again
    assert "(re-anchored after a reorganisation)" in again
    again = cli.ok("status", "--json").json()["batches"]
    assert [b["id"] for b in again] == [first["id"]]
    assert again[0]["root"] == first["root"]  # the root never changes
    assert again[0]["status"] == "confirmed"
    assert again[0]["reanchored"] is True
    assert [a["kind"] for a in again[0]["attempts"]] == ["sent", "reorg", "sent"]
    assert again[0]["attempts"][1]["lost_tx_hash"] == first["tx_hash"]
    assert (
        again[0]["block_number"] != first["block_number"] or again[0]["tx_hash"] != first["tx_hash"]
    )
    assert_exactly_one_anchor_per_batch(cli)
    receipt = tmp_path / "r.json"
    receipt.write_text(cli.ok("receipt", str(tmp_path / "docs" / "factura-3.pdf")).stdout)
    cli.ok("verify", "--receipt", str(receipt))


def test_a_lost_checkpoint_is_anchored_again_with_a_proof_from_the_one_before(
    cli: Cli, tmp_path: Path, node: AnvilNode
) -> None:
    submit_some(cli, tmp_path, n=3)
    first = cli.ok("anchor", "--json").json()["batches"][0]
    snapshot = rpc(node.rpc_url, "evm_snapshot")
    later = tmp_path / "later"
    later.mkdir()
    for i in range(4):
        (later / f"orden-{i}.pdf").write_bytes(f"orden {i} {tmp_path.name}".encode())
    cli.ok("submit", str(later), "--entity", ENTITY)
    second = cli.ok("anchor", "--json").json()["batches"][0]
    assert second["seq"] == 1
    # Only the second checkpoint's block leaves the chain; the first stays.
    rpc(node.rpc_url, "evm_revert", snapshot)
    rpc(node.rpc_url, "anvil_mine", "0x2")
    assert chain_view(cli)[0] == 1

    again = cli.ok("anchor", "--json").json()["batches"]
    assert [b["id"] for b in again] == [second["id"]]
    assert again[0]["root"] == second["root"] and again[0]["status"] == "confirmed"
    # The contract took it only with a valid consistency proof from checkpoint 0
    # (size 3) to this one (size 7): the history on chain is one log.
    checkpoints = cli.ok("log", "checkpoints", "--json").json()["checkpoints"]
    assert [(c["seq"], c["tree_size"], c["root"]) for c in checkpoints] == [
        (0, 3, first["root"]),
        (1, 7, second["root"]),
    ]
    verified = cli.ok("log", "verify", "--json").json()
    assert verified["ok"] is True and verified["events"] == 2
    assert_exactly_one_anchor_per_batch(cli)
    receipt = tmp_path / "r.json"
    receipt.write_text(cli.ok("receipt", str(later / "orden-2.pdf")).stdout)
    assert json.loads(receipt.read_text())["proof"]["tree_size"] == 7
    cli.ok("verify", "--receipt", str(receipt))


def test_a_reset_chain_is_reported_and_nothing_is_called_confirmed(
    tmp_path: Path, database_url: str
) -> None:
    with AnvilNode(tmp_path / "own-state.json") as own:
        cli = Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=own.rpc_url)
        cli.ok("deploy")
        submit_some(cli, tmp_path)
        cli.ok("anchor")
        receipt = tmp_path / "r.json"
        receipt.write_text(cli.ok("receipt", str(tmp_path / "docs" / "factura-1.pdf")).stdout)
        cli.ok("verify", "--receipt", str(receipt))

        rpc(own.rpc_url, "anvil_reset")
        reset = cli.run("anchor")
        assert reset.code == 3
        assert "no contract" in reset.stderr
        gone = cli.run("verify", "--receipt", str(receipt), "--json")
        assert gone.code == 1
        assert gone.json()["valid"] is False
        # The database never claims more than the chain holds: the confirm pass
        # refuses to run, and status shows what was recorded before the reset.
        assert cli.run("anchor", "--wait", "--timeout", "1").code == 3

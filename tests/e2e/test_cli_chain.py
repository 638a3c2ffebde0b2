"""``docanchor devnet``, ``deploy`` and ``anchorers`` through the installed
console script, as a user runs them: a subprocess with DOCANCHOR_* variables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from docanchor.devnet import free_port, rpc_chain_id, wait_for_rpc
from tests.support.anvil import FIRST_DEV_ADDRESS, SECOND_DEV_ADDRESS, AnvilNode
from tests.support.clihelp import run_in_process

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCANCHOR = REPO_ROOT / ".venv" / "bin" / "docanchor"


def cli_env(data_dir: Path, rpc_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCANCHOR_")}
    env.update(DOCANCHOR_DATA_DIR=str(data_dir), DOCANCHOR_RPC_URL=rpc_url)
    return env


def run(env: dict[str, str], *args: str, real: bool = False) -> subprocess.CompletedProcess[str]:
    """``docanchor ARGS``: in this process through the console script's entry point,
    or (``real``) as the installed executable in a process of its own."""
    if not real:
        result = run_in_process(list(args), env)
        return subprocess.CompletedProcess(args, result.code, result.stdout, result.stderr)
    assert DOCANCHOR.is_file(), f"{DOCANCHOR} is missing: run scripts/setup"
    return subprocess.run(
        [str(DOCANCHOR), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_deploy_is_idempotent_and_force_redeploys(anvil: AnvilNode, tmp_path: Path) -> None:
    env = cli_env(tmp_path, anvil.rpc_url)
    first = run(env, "deploy", real=True)
    assert first.returncode == 0, first.stderr
    record = json.loads((tmp_path / "deployment.json").read_text(encoding="utf-8"))
    assert record["chain_id"] == 31337 and record["deployed_at"].endswith("Z")
    assert record["address"] in first.stdout
    code = anvil.rpc("eth_getCode", record["address"], "latest")
    assert isinstance(code, str) and len(code) > 2

    head = anvil.rpc("eth_blockNumber")
    again = run(env, "deploy", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {
        k: record[k] for k in ("address", "chain_id", "tx_hash", "block_number", "version")
    }
    assert anvil.rpc("eth_blockNumber") == head  # nothing was sent

    forced = run(env, "deploy", "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    replaced = json.loads(forced.stdout)
    # The replaced deployment stays trusted for the receipts it anchored: it is
    # kept under "previous".
    assert set(replaced) == {
        "address",
        "chain_id",
        "tx_hash",
        "block_number",
        "version",
        "previous",
    }
    assert replaced["version"] == record["version"] == 2
    assert replaced["address"] != record["address"]
    assert [p["address"] for p in replaced["previous"]] == [record["address"]]
    assert anvil.rpc("eth_getCode", replaced["address"], "latest") == code
    record = json.loads((tmp_path / "deployment.json").read_text(encoding="utf-8"))
    assert record["address"] == replaced["address"]


def test_anchorers_grant_list_revoke(
    anvil: AnvilNode, deployed: tuple[object, str], tmp_path: Path
) -> None:
    _, address = deployed
    (tmp_path / "deployment.json").write_text(
        json.dumps({"address": address, "chain_id": 31337}), encoding="utf-8"
    )
    env = cli_env(tmp_path, anvil.rpc_url)

    granted = run(env, "anchorers", "grant", SECOND_DEV_ADDRESS.lower(), "--json")
    assert granted.returncode == 0, granted.stderr
    grant = json.loads(granted.stdout)
    assert grant["address"] == SECOND_DEV_ADDRESS and grant["anchorer"] is True
    assert grant["tx_hash"].startswith("0x")

    listed = run(env, "anchorers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {
        "contract": address,
        "chain_id": 31337,
        "anchorers": [FIRST_DEV_ADDRESS, SECOND_DEV_ADDRESS],
    }

    revoked = run(env, "anchorers", "revoke", SECOND_DEV_ADDRESS)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in revoked.stdout
    text = run(env, "anchorers", "list")
    assert text.stdout.split() == [FIRST_DEV_ADDRESS]


def test_usage_and_environment_errors_map_to_exit_codes(anvil: AnvilNode, tmp_path: Path) -> None:
    env = cli_env(tmp_path, anvil.rpc_url)
    bad = run(env, "anchorers", "grant", "0x1234")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "not an Ethereum address" in bad.stderr

    no_contract = run(env, "anchorers", "list")
    assert no_contract.returncode == 3
    assert "docanchor deploy" in no_contract.stderr

    down = cli_env(tmp_path, f"http://127.0.0.1:{free_port()}")
    unreachable = run(down, "deploy")
    assert unreachable.returncode == 3
    assert "cannot reach the Ethereum node" in unreachable.stderr


def test_devnet_keeps_its_chain_in_the_data_dir(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = cli_env(tmp_path, url)
    state = tmp_path / "devnet-state.json"

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [str(DOCANCHOR), "devnet", "--port", str(port), "--silent"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_rpc(url, timeout=30, process=process)
        return process

    def stop(process: subprocess.Popen[str]) -> str:
        process.send_signal(signal.SIGTERM)  # forwarded to Anvil, which dumps its state
        _, err = process.communicate(timeout=30)
        assert process.returncode is not None
        return err

    devnet = start()
    try:
        assert rpc_chain_id(url) == 31337
        deployed = run(env, "deploy", "--json")
        assert deployed.returncode == 0, deployed.stderr
        address = json.loads(deployed.stdout)["address"]
    finally:
        messages = stop(devnet)
    assert str(state.resolve()) in messages
    assert state.is_file()

    devnet = start()
    try:
        again = run(env, "deploy", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["address"] == address  # still there: not redeployed
    finally:
        stop(devnet)

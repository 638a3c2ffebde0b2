"""A node that serves another chain than the recorded deployment is named as such.

The data dir records a deployment on chain 31337; the node at the configured
URL now serves chain 99 (another Anvil, or the same URL restarted). Every
command refuses with exit 3 naming both chains, never advises a deployment,
and leaves deployment.json alone; ``/healthz`` answers 503; a running
client notices the change at its next pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_cli_chain import cli_env, run

from docanchor.chain import ChainClient
from docanchor.config import ANVIL_DEV_PRIVATE_KEY, load_settings
from docanchor.errors import ChainIdentityError
from tests.support.anvil import AnvilNode


@pytest.fixture
def chain_99(tmp_path: Path) -> Iterator[AnvilNode]:
    node = AnvilNode(tmp_path / "chain99.json", chain_id=99).start()
    try:
        yield node
    finally:
        node.stop()


def test_commands_refuse_a_node_on_another_chain(
    anvil: AnvilNode, chain_99: AnvilNode, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert run(cli_env(data, anvil.rpc_url), "deploy").returncode == 0
    recorded = (data / "deployment.json").read_text(encoding="utf-8")
    env = cli_env(data, chain_99.rpc_url)
    for args in (["deploy"], ["deploy", "--force"], ["anchor"], ["anchorers", "list"]):
        result = run(env, *args)
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        assert "is on chain 99" in result.stderr and "on chain 31337" in result.stderr, args
        assert "DOCANCHOR_PRIVATE_KEY" not in result.stderr, args
        assert "docanchor deploy" not in result.stderr, args
        assert "Traceback" not in result.stderr
    assert (data / "deployment.json").read_text(encoding="utf-8") == recorded
    assert chain_99.rpc("eth_blockNumber") == "0x0"  # nothing was sent to chain 99


def test_a_node_restarted_on_another_chain_is_caught_at_the_next_pass(tmp_path: Path) -> None:
    node = AnvilNode(tmp_path / "a.json").start()
    try:
        client = ChainClient(rpc_url=node.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY)
        client.deploy(timeout=30)
        client.verify_identity()  # same chain: fine
        node.stop()
        other = AnvilNode(tmp_path / "b.json", chain_id=99, port=node.port).start()
        try:
            with pytest.raises(ChainIdentityError) as failure:
                client.verify_identity()
            assert "now serves chain 99, not chain 31337" in failure.value.message
            assert failure.value.exit_code == 3 and failure.value.http_status == 503
        finally:
            other.stop()
    finally:
        node.stop()


def test_healthz_names_both_chains(anvil: AnvilNode, chain_99: AnvilNode, tmp_path: Path) -> None:
    from docanchor.api import create_app

    data = tmp_path / "data"
    assert run(cli_env(data, anvil.rpc_url), "deploy").returncode == 0
    settings = load_settings(data_dir=data, rpc_url=chain_99.rpc_url)
    with TestClient(create_app(settings)) as http:
        answer = http.get("/healthz")
        assert answer.status_code == 503
        node = answer.json()["checks"]["node"]
        assert not node["ok"]
        assert "chain 99" in node["detail"] and "chain 31337" in node["detail"]
    settings = load_settings(data_dir=data, rpc_url=anvil.rpc_url)
    with TestClient(create_app(settings)) as http:
        assert http.get("/healthz").status_code == 200
    assert json.loads((data / "deployment.json").read_text())["chain_id"] == 31337


def test_verify_on_a_node_of_another_chain_cannot_check_here(
    anvil: AnvilNode, chain_99: AnvilNode, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = cli_env(data, anvil.rpc_url)
    document = tmp_path / "factura.pdf"
    document.write_bytes(f"factura {tmp_path.name}".encode())
    assert run(env, "deploy").returncode == 0
    assert run(env, "submit", str(document), "--entity", "20131370998").returncode == 0
    assert run(env, "anchor").returncode == 0
    receipt = tmp_path / "r.json"
    made = run(env, "receipt", str(document))
    assert made.returncode == 0, made.stderr
    receipt.write_text(made.stdout, encoding="utf-8")
    assert run(env, "verify", str(document), "--receipt", str(receipt)).returncode == 0

    # The same receipt on a node of chain 99: nothing could be checked there (exit 3),
    # which is not the same as a receipt that failed a check (exit 1).
    elsewhere = run(
        env, "verify", str(document), "--receipt", str(receipt), "--rpc-url", chain_99.rpc_url
    )
    assert elsewhere.returncode == 3, (elsewhere.stdout, elsewhere.stderr)
    assert elsewhere.stdout.startswith("CANNOT CHECK HERE")
    assert "cannot check here" in elsewhere.stderr
    assert "chain 99" in elsewhere.stderr and "chain 31337" in elsewhere.stderr
    as_json = run(env, "verify", "--receipt", str(receipt), "--rpc-url", chain_99.rpc_url, "--json")
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["verdict"] == "cannot_check"

    # A check that ran and failed stays NOT VALID (exit 1), whatever the node.
    other = tmp_path / "other.pdf"
    other.write_bytes(b"not the document of the receipt")
    wrong = run(env, "verify", str(other), "--receipt", str(receipt), "--rpc-url", chain_99.rpc_url)
    assert wrong.returncode == 1, (wrong.stdout, wrong.stderr)
    assert wrong.stdout.startswith("NOT VALID")

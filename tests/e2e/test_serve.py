"""``docanchor serve`` and ``docanchor keys`` as a user runs them: real processes.

The server runs as a subprocess on a free loopback port over a real Anvil;
a document submitted over HTTP must reach ``confirmed`` on its own (the
anchoring loop), and the server must stop cleanly on SIGTERM.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from docanchor.devnet import free_port
from tests.support.anvil import AnvilNode
from tests.support.clihelp import DOCANCHOR, Cli

ENTITY = "20131370998"


@pytest.fixture
def cli(tmp_path: Path, database_url: str, anvil: AnvilNode) -> Cli:
    return Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=anvil.rpc_url)


def _poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fetch()
        except httpx.TransportError as exc:
            last = exc
        else:
            if done(last):
                return last
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s; last: {last!r}")


def test_keys_create_list_revoke(cli: Cli) -> None:
    made = cli.ok("keys", "create", "--role", "entity", "--entity", ENTITY, "--json").json()
    assert made.keys() == {"key", "id", "entity", "role"}
    assert made["role"] == "entity" and made["entity"] == ENTITY and made["key"].startswith("dak_")
    plain = cli.ok("keys", "create", "--role", "auditor")
    secret = plain.stdout.strip()
    assert secret.startswith("dak_") and "not shown again" in plain.stderr

    missing = cli.run("keys", "create", "--role", "entity")
    assert missing.code == 2 and "--entity" in missing.stderr
    bad_role = cli.run("keys", "create", "--role", "root", "--entity", ENTITY)
    assert bad_role.code == 2 and "role" in bad_role.stderr

    listed = cli.ok("keys", "list", "--json").json()["keys"]
    assert [k["role"] for k in listed] == ["entity", "auditor"]
    assert all(k["revoked_at"] is None for k in listed)
    # The key itself is never listed, only its prefix.
    assert made["key"] not in json.dumps(listed) and secret not in json.dumps(listed)
    assert made["key"].startswith(listed[0]["prefix"])

    assert cli.ok("keys", "revoke", str(made["id"])).code == 0
    after = cli.ok("keys", "list", "--json").json()["keys"]
    assert after[0]["revoked_at"] is not None and after[1]["revoked_at"] is None
    unknown = cli.run("keys", "revoke", "999")
    assert unknown.code == 1 and "999" in unknown.stderr


@pytest.fixture
def server(cli: Cli, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    deployed = cli.ok("deploy", "--json").json()
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = cli.env(
        DOCANCHOR_ANCHOR_INTERVAL="0.5",
        DOCANCHOR_CONFIRMATIONS="1",
        DOCANCHOR_CONTRACT_ADDRESS=deployed["address"],
        DOCANCHOR_LOG_JSON="true",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [DOCANCHOR, "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _poll(
            lambda: httpx.get(f"{base}/healthz", timeout=5),
            lambda r: r.status_code == 200 or process.poll() is not None,
            timeout=60,
        )
        assert process.poll() is None, log_path.read_text()
        yield base, process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serve_anchors_on_its_own_and_stops_cleanly(
    cli: Cli, server: tuple[str, subprocess.Popen[bytes], Path]
) -> None:
    base, process, log_path = server
    key = cli.ok("keys", "create", "--role", "entity", "--entity", ENTITY, "--json").json()["key"]
    document = b"%PDF-1.7 orden de compra servida\n" * 100
    digest = hashlib.sha256(document).hexdigest()
    with httpx.Client(base_url=base, timeout=30) as http:
        made = http.post(
            "/v1/documents",
            files={"file": ("oc.pdf", document, "application/pdf")},
            data={"metadata": json.dumps({"reference": "OC-SERVE-1"})},
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": "serve-test-1"},
        )
        assert made.status_code == 201, made.text
        assert made.headers["x-request-id"] == "serve-test-1"

        # No POST /v1/batches: the loop seals, anchors and confirms by itself.
        answer = _poll(
            lambda: http.post("/v1/verify", json={"sha256": digest}).json(),
            lambda a: a["status"] == "confirmed",
            timeout=60,
        )
        anchor = answer["registrations"][0]["anchor"]
        assert anchor["tx_hash"].startswith("0x") and anchor["chain_id"] == 31337
        assert http.get("/readyz").status_code == 200
        metrics = http.get("/metrics").text
        assert 'docanchor_batches{status="confirmed"} 1.0' in metrics
        assert 'docanchor_anchor_loop_passes_total{result="ok"}' in metrics

    # The receipt from the API stands alone: the CLI's trustless check accepts it.
    receipt_path = log_path.with_name("receipt.json")
    receipt_path.write_text(json.dumps(answer["receipts"][0]))
    verified = cli.ok("verify", "--receipt", str(receipt_path), "--json").json()
    assert verified["valid"] is True

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(line["message"] == "Application shutdown complete." for line in lines)
    requests = [line for line in lines if line.get("logger") == "docanchor.http"]
    assert any(
        line.get("request_id") == "serve-test-1" and line.get("status") == 201 for line in requests
    )
    assert key not in log_path.read_text()

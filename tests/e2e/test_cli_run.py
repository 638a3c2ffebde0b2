"""``scripts/run`` for real: devnet, deploy and serve in a temporary data
directory on free ports; it must stop on SIGTERM or SIGINT sent to its PID
and leave no process behind, and it must refuse someone else's devnet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docanchor.devnet import free_port
from tests.support.anvil import AnvilNode

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN = REPO_ROOT / "scripts" / "run"


def run_env(data_dir: Path, api_port: int, devnet_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCANCHOR_")}
    env.update(
        DOCANCHOR_DATA_DIR=str(data_dir),
        DOCANCHOR_PORT=str(api_port),
        DOCANCHOR_DEVNET_PORT=str(devnet_port),
    )
    return env


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def processes_of_group(pgid: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ProcessLookupError):
            continue
        found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes this test started in their own session; killed if a test fails."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_serves_then_stops_on_a_signal_and_leaves_nothing(
    signum: int, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    api_port, devnet_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [str(RUN)],
        env=run_env(data_dir, api_port, devnet_port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started.append(proc)
    deadline = time.monotonic() + 240
    health = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            health = httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=2)
            if health.status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert health is not None and health.status_code == 200, output
    assert json.loads((data_dir / "deployment.json").read_text())["chain_id"] == 31337

    os.kill(proc.pid, signum)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"scripts/run still runs 60 s after the signal: {processes_of_group(proc.pid)}"
        ) from None
    # Its children (docanchor serve, docanchor devnet, anvil) are gone too.
    deadline = time.monotonic() + 30
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(proc.pid), processes_of_group(proc.pid)
    for port in (api_port, devnet_port):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert (data_dir / "devnet-state.json").is_file()  # the devnet saved its chain on the way out


def test_run_refuses_a_devnet_that_lacks_the_recorded_deployment(
    anvil: AnvilNode, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    record = {"address": "0x" + "11" * 20, "chain_id": 31337, "tx_hash": "0x" + "22" * 32}
    (data_dir / "deployment.json").write_text(json.dumps(record), encoding="utf-8")
    head = anvil.rpc("eth_blockNumber")
    api_port = free_port()
    proc = subprocess.Popen(
        [str(RUN)],
        env=run_env(data_dir, api_port, anvil.port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    started.append(proc)
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 3, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"run: refusing the devnet that already answers on port {anvil.port}"
    )
    assert record["address"] in lines[0]
    assert anvil.rpc("eth_blockNumber") == head  # nothing deployed or anchored on it
    assert json.loads((data_dir / "deployment.json").read_text()) == record
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=2)

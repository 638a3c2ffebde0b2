"""A local Anvil devnet: find the pinned binary, build its command line, run it.

Used by ``docanchor devnet`` (foreground, state kept in the data dir), by the
test fixtures and by ``scripts/gas_report``. Anvil keeps its chain in a state
file that it loads at start and dumps every ``state_interval`` seconds and on
exit, so a devnet survives restarts and even a ``kill -9`` after a dump.

This module never imports web3 (it only speaks ``eth_chainId`` over plain
HTTP to wait for readiness) and never reads the environment itself: callers
pass the environment mapping in.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from docanchor.config import DEV_CHAIN_ID
from docanchor.errors import ChainError, ConfigError, NodeUnavailableError

ANVIL_BIN_ENV: Final = "DOCANCHOR_ANVIL_BIN"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8545
DEFAULT_STATE_INTERVAL: Final = 1
_WRAPPER_BIN: Final = Path("node_modules") / ".bin" / "anvil"
_MACHINES: Final = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _native_bin() -> Path | None:
    """``node_modules/@foundry-rs/anvil-<os>-<arch>/bin/anvil`` for this machine.

    ``node_modules/.bin/anvil`` is a Node wrapper that spawns this binary; running
    the binary directly saves Node's start-up and means that a signal (even
    SIGKILL) reaches Anvil itself instead of orphaning it.
    """
    arch = _MACHINES.get(platform.machine().lower())
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform)
    if arch is None or system is None:
        return None
    return Path("node_modules") / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"


def find_anvil(environ: Mapping[str, str], *, cwd: Path | None = None) -> Path:
    """The Anvil binary to run.

    In order: ``$DOCANCHOR_ANVIL_BIN``; the Anvil of ``node_modules`` in
    ``cwd`` (default: the current directory) or any parent, then in the
    checkout this package was installed from (the native binary of the
    ``@foundry-rs/anvil`` package when present, else ``node_modules/.bin/anvil``);
    ``anvil`` on ``PATH``.
    Raises :class:`ConfigError` when none exists.
    """
    explicit = environ.get(ANVIL_BIN_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ConfigError(f"{ANVIL_BIN_ENV}={explicit} is not an executable file")
    start = (cwd or Path.cwd()).resolve()
    # src/docanchor/devnet.py -> the checkout is three levels up in an editable install.
    checkout = Path(__file__).resolve().parents[2]
    relative = [p for p in (_native_bin(), _WRAPPER_BIN) if p is not None]
    for folder in (start, *start.parents, checkout):
        for rel in relative:
            candidate = folder / rel
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    on_path = shutil.which("anvil", path=environ.get("PATH"))
    if on_path:
        return Path(on_path)
    raise ConfigError(
        "the Anvil devnet binary was not found (node_modules/.bin/anvil, "
        f"${ANVIL_BIN_ENV} or anvil on PATH); run scripts/setup"
    )


def anvil_argv(
    anvil: Path,
    *,
    port: int,
    state_path: Path,
    chain_id: int = DEV_CHAIN_ID,
    host: str = DEFAULT_HOST,
    state_interval: int = DEFAULT_STATE_INTERVAL,
    silent: bool = False,
) -> list[str]:
    """The command line that runs Anvil with its chain persisted in ``state_path``.

    ``--state`` both loads the file (when it exists) and dumps to it, every
    ``state_interval`` seconds and on a clean exit.
    """
    if not 0 < port < 65536:
        raise ConfigError(f"the devnet port must be between 1 and 65535, got {port}")
    if state_interval < 1:
        raise ConfigError("the devnet state interval must be at least 1 second")
    argv = [
        str(anvil),
        "--host",
        host,
        "--port",
        str(port),
        "--state",
        str(state_path),
        "--state-interval",
        str(state_interval),
        "--chain-id",
        str(chain_id),
    ]
    if silent:
        argv.append("--silent")
    return argv


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that was free a moment ago (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def rpc_chain_id(rpc_url: str, *, timeout: float = 2.0) -> int:
    """``eth_chainId`` of the node at ``rpc_url``; :class:`NodeUnavailableError` if unreachable."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(  # noqa: S310 - the URL is validated to be http(s) by config
        rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            reply = json.loads(response.read())
        return int(reply["result"], 16)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NodeUnavailableError(f"cannot reach the Ethereum node at {rpc_url}: {exc}") from exc


def wait_for_rpc(
    rpc_url: str, *, timeout: float, process: subprocess.Popen[Any] | None = None
) -> int:
    """Polls ``eth_chainId`` until the node answers or ``timeout`` seconds pass.

    Returns the chain id. Raises :class:`ChainError` at once if ``process``
    exits first, and :class:`NodeUnavailableError` at the deadline.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if process is not None and process.poll() is not None:
            raise ChainError(f"anvil exited with status {process.returncode} before answering")
        try:
            return rpc_chain_id(rpc_url, timeout=1.0)
        except NodeUnavailableError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def start_anvil(
    argv: Sequence[str], *, stdout: IO[bytes] | int | None = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """Starts Anvil in the background (its own process group, so Ctrl-C in a
    terminal does not reach it before the caller decides)."""
    try:
        return subprocess.Popen(
            list(argv), stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True
        )
    except OSError as exc:
        raise ConfigError(f"cannot start {argv[0]}: {exc.strerror}; run scripts/setup") from exc


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # start_anvil() made the process the leader of its own group; signalling the
    # group also reaches a native Anvil spawned by a wrapper script.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def kill_process(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL (no final state dump) to a process from :func:`start_anvil`; waits for it."""
    if process.poll() is None:
        _signal_group(process, signal.SIGKILL)
    return process.wait()


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> int:
    """Stops a process from :func:`start_anvil`: SIGTERM (Anvil dumps its state
    and exits), then SIGKILL if it is still running after ``timeout`` seconds."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return kill_process(process)
    return process.returncode


def run_devnet(argv: Sequence[str]) -> int:
    """Runs Anvil in the foreground until it exits or the user interrupts.

    On Ctrl-C (or SIGTERM) Anvil is asked to stop, which makes it dump its
    state file one last time. Returns Anvil's exit status.
    """
    try:
        process = subprocess.Popen(list(argv))
    except OSError as exc:
        raise ConfigError(f"cannot start {argv[0]}: {exc.strerror}; run scripts/setup") from exc

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                # The terminal already sent SIGINT to Anvil too; wait for its final dump.
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = [
    "ANVIL_BIN_ENV",
    "DEFAULT_PORT",
    "anvil_argv",
    "find_anvil",
    "free_port",
    "kill_process",
    "rpc_chain_id",
    "run_devnet",
    "start_anvil",
    "stop_process",
    "wait_for_rpc",
]

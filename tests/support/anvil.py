"""A real Anvil process for tests: free port, own state file, bounded waits.

Used by the session fixture in ``conftest.py`` and by tests that need a node
of their own (a restart, another chain id). Every wait polls with a deadline;
nothing sleeps blindly. ``stop()`` asks Anvil to exit (it dumps its state),
then kills it if it does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import IO

from docanchor.devnet import (
    anvil_argv,
    find_anvil,
    free_port,
    kill_process,
    start_anvil,
    stop_process,
    wait_for_rpc,
)

START_DEADLINE = 30.0
# Anvil's first two development accounts (public knowledge; the first is
# docanchor.config.ANVIL_DEV_PRIVATE_KEY).
FIRST_DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SECOND_DEV_PRIVATE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
SECOND_DEV_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


class AnvilNode:
    """One Anvil devnet. ``start()`` returns once ``eth_chainId`` answers."""

    def __init__(
        self,
        state_path: Path,
        *,
        chain_id: int = 31337,
        port: int | None = None,
        log_path: Path | None = None,
        deadline: float = START_DEADLINE,
    ) -> None:
        self.state_path = state_path
        self.chain_id = chain_id
        self.port = port if port is not None else free_port()
        self.log_path = log_path or state_path.with_suffix(".log")
        self.deadline = deadline
        self._binary = find_anvil(os.environ)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> AnvilNode:
        if self.running:
            return self
        argv = anvil_argv(
            self._binary, port=self.port, state_path=self.state_path, chain_id=self.chain_id
        )
        self._log = self.log_path.open("ab")
        self._process = start_anvil(argv, stdout=self._log)
        try:
            answered = wait_for_rpc(self.rpc_url, timeout=self.deadline, process=self._process)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"anvil did not start: {exc}; log:\n{self.log_text()}") from exc
        assert answered == self.chain_id, (answered, self.chain_id)
        return self

    def stop(self) -> None:
        """Clean stop: Anvil writes its state file one last time."""
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        self._close_log()

    def kill(self) -> None:
        """SIGKILL: no final dump; the state file holds the last periodic dump."""
        if self._process is not None:
            kill_process(self._process)
            self._process = None
        self._close_log()

    def restart(self, *, hard: bool = False) -> None:
        """Stops (``hard``: kills) and starts again on the same port and state file."""
        if hard:
            self.kill()
        else:
            self.stop()
        self.start()

    def wait_for_state_dump(
        self, needle: str, *, after: float = 0.0, timeout: float = 15.0
    ) -> None:
        """Polls until the state file, written after ``after`` (a ``time.time()``),
        contains ``needle`` (for example a transaction hash without ``0x``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.state_path.stat().st_mtime >= after:
                    text = self.state_path.read_text(encoding="utf-8", errors="replace")
                    if needle.lower() in text.lower():
                        return
            except OSError:
                pass  # not written yet, or being replaced
            time.sleep(0.05)
        raise TimeoutError(f"{self.state_path} did not contain {needle!r} within {timeout} s")

    def rpc(self, method: str, *params: object) -> object:
        """One raw JSON-RPC call (for Anvil's own methods such as ``evm_mine``)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        request = urllib.request.Request(
            self.rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            reply = json.loads(response.read())
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

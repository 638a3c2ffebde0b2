"""Runs one anchoring pass and kills its own process (SIGKILL) at a chosen point.

Usage: ``python tests/support/crash_driver.py POINT`` with the usual ``DOCANCHOR_*``
variables. POINT is one of:

- ``after_seal``: the batch is sealed; nothing was sent.
- ``before_broadcast``: the transaction hash is recorded; nothing was sent.
- ``after_broadcast``: the node has the transaction; its outcome is not recorded.
- ``after_mined``: the transaction is mined; the database still says sealed.

A real process death, not an exception: no ``finally`` runs and nothing is
flushed, as when a machine loses power or an operator kills the process.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from docanchor.config import load_settings
from docanchor.wiring import build_service, open_chain


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class CrashingChain:
    def __init__(self, inner: Any, point: str) -> None:
        self._inner = inner
        self._point = point

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def chain_id(self) -> int:
        return int(self._inner.chain_id)

    @property
    def contract_address(self) -> str:
        return str(self._inner.contract_address)

    def get_anchor(self, root: bytes) -> Any:
        if self._point == "after_seal":
            die()
        return self._inner.get_anchor(root)

    def broadcast(self, prepared: Any) -> str:
        if self._point == "before_broadcast":
            die()
        tx_hash = str(self._inner.broadcast(prepared))
        if self._point == "after_broadcast":
            die()
        return tx_hash

    def wait_for_anchor(self, tx_hash: str, timeout: float) -> Any:
        mined = self._inner.wait_for_anchor(tx_hash, timeout)
        if self._point == "after_mined":
            die()
        return mined


def main() -> None:
    point = sys.argv[1]
    settings = load_settings()
    chain = CrashingChain(open_chain(settings), point)
    service = build_service(settings, chain_client=chain)  # type: ignore[arg-type]
    service.anchor_all()
    print("the pass finished without reaching the crash point", file=sys.stderr)
    sys.exit(4)


if __name__ == "__main__":
    main()

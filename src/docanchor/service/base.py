"""The state every part of the service holds: a store, a chain (optional), a signer
and policies.

The adapters are keyword arguments, so tests hand in a real devnet or a fake
without patching anything; so is the clock, so that a test decides what time
it is and how long a wait lasts, and never sleeps.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from docanchor.errors import ChainError
from docanchor.merkle import MerkleTree
from docanchor.service.ports import ChainPort, Clock, Signer
from docanchor.service.records import SharedRecords
from docanchor.store import Store
from docanchor.vocabulary import utcnow


@dataclass(frozen=True)
class TxPolicy:
    """How the anchoring account's transactions are managed.

    A pass waits at most ``pending_wait`` seconds for its transaction to be
    mined, then leaves it for the next pass. A transaction pending for
    ``bump_after`` seconds, or whose max fee fell under the base fee, is
    replaced with the same nonce and fees ``bump_percent`` higher (at most
    the fee cap), up to ``max_attempts`` transactions per batch.
    """

    bump_percent: int = 20
    max_attempts: int = 10
    bump_after: float = 60.0
    pending_wait: float = 10.0


class SystemClock:
    """The system's clock: UTC wall time, the monotonic clock and a real sleep."""

    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ServiceBase:
    """What every part of DocAnchorService holds: its adapters and policies."""

    def __init__(
        self,
        *,
        store: Store,
        chain: ChainPort | None = None,
        signer: Signer | None = None,
        confirmations: int = 1,
        batch_max: int = 1_000_000,
        tx_timeout: float = 120.0,
        tx_policy: TxPolicy | None = None,
        tree_cache_size: int = 4,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self._chain = chain
        self.signer = signer
        self.confirmations = confirmations
        self.batch_max = batch_max
        self.tx_timeout = tx_timeout
        self.tx_policy = tx_policy or TxPolicy()
        # The transaction manager's times and waits go through this clock (see
        # docs/architecture.md for the three that do not).
        self.clock: Clock = clock or SystemClock()
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()
        self._tree_cache_size = tree_cache_size
        self._tree_lock = threading.Lock()
        # The batch records of the verify look-up's rows (shared by the store).
        self._lookup_records = SharedRecords()
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{id(self):x}"

    @property
    def chain(self) -> ChainPort:
        if self._chain is None:
            raise ChainError("no blockchain node is configured for this operation")
        return self._chain

    @property
    def has_chain(self) -> bool:
        """Whether this service was given a chain client (look-ups need none)."""
        return self._chain is not None

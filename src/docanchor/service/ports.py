"""What the service needs from the world, as protocols.

The chain client (``docanchor.chain.ChainClient`` in production, a devnet or
``tests/support/fakechain.py`` in tests), the trustless receipt check's node reader,
the receipt signer, and the remote audit's node. The service is typed
against these, never against an adapter's class; this module imports no
adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from docanchor.audit import AnchorChain, LogSource
from docanchor.onchain import (
    AnchoredEvent,
    MinedAnchor,
    MinedTransaction,
    OnChainCheckpoint,
    OnChainRecord,
)
from docanchor.receipt import TrustedDeployment


class Clock(Protocol):
    """The time the service reads and the waiting it does.

    ``now`` is the UTC time recorded in batches and compared with a
    transaction's age; ``monotonic`` and ``sleep`` measure and spend the
    waits for a transaction to be mined and for confirmations. Production
    uses the system's clock; a test hands in one it advances itself.
    """

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class PreparedAnchor(Protocol):
    @property
    def tx_hash(self) -> str: ...

    @property
    def nonce(self) -> int: ...

    @property
    def fees(self) -> dict[str, int]: ...


class ChainPort(Protocol):
    """The chain operations the service relies on (``docanchor.chain.ChainClient``)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def contract_address(self) -> str: ...

    def head_number(self) -> int: ...

    def block_hash(self, number: int) -> str | None: ...

    def block_timestamp(self, number: int) -> int | None:
        """The timestamp of block ``number``; None when the node has no such block."""
        ...

    def check_contract(self) -> None: ...

    def verify_identity(self) -> None: ...

    def get_anchor(self, root: bytes) -> OnChainRecord | None: ...

    def latest(self) -> OnChainCheckpoint | None: ...

    def prepare_anchor(
        self,
        root: bytes,
        tree_size: int,
        consistency: Sequence[bytes],
        *,
        nonce: int | None = None,
        fee_floor: dict[str, int] | None = None,
    ) -> PreparedAnchor: ...

    def broadcast(self, prepared: Any) -> str: ...

    def transaction_known(self, tx_hash: str) -> bool: ...

    def transaction_receipt(self, tx_hash: str) -> MinedTransaction | None: ...

    def base_fee(self) -> int | None: ...

    def fee_cap_shortfall(self) -> tuple[int, int] | None: ...

    def account_nonce(self) -> int: ...

    def wait_for_anchor(self, tx_hash: str, timeout: float) -> MinedAnchor: ...

    def scan_anchored(
        self, from_block: int, to_block: int | None = None
    ) -> Sequence[AnchoredEvent]: ...


class ChainReader(Protocol):
    """What the trustless receipt check needs: any node, any contract address."""

    @property
    def chain_id(self) -> int: ...

    def verify_identity(self) -> None: ...

    def head_number(self) -> int: ...

    def block_hash(self, number: int) -> str | None: ...

    def get_anchor_at(self, contract: str, root: bytes) -> OnChainRecord | None: ...


class Signer(Protocol):
    """Signs receipts (``docanchor.signing.ReceiptSigner``)."""

    @property
    def public_raw(self) -> bytes:
        """The raw Ed25519 public key of the signatures."""
        ...

    def sign(self, receipt_json: dict[str, Any]) -> dict[str, Any]:
        """The receipt with a ``signature`` member over the rest of it."""
        ...

    def sign_payload(self, receipt_json: dict[str, Any], payload: bytes) -> dict[str, Any]:
        """As :meth:`sign`, with the receipt's RFC 8785 signing payload already made.

        Precondition: ``payload`` is the signing payload of ``receipt_json``.
        """
        ...


class CheckedAnchorChain(AnchorChain, Protocol):
    """The verifier's node at the trusted deployment, before its code is checked."""

    @property
    def has_contract(self) -> bool: ...

    def check_contract(self) -> None: ...


class AuditorChain(CheckedAnchorChain, Protocol):
    """The auditor's own node, before it is pointed at the deployment a remote audit
    reads (``use_contract``) once the auditor's trust allows it."""

    @property
    def chain_id(self) -> int: ...

    def use_contract(self, address: str) -> None: ...


class RemoteLogSource(LogSource, Protocol):
    """Another service's log, which also names the contract it anchors in."""

    def current_deployment(self) -> TrustedDeployment: ...

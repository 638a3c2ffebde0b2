"""What the anchor contract holds and what a mined anchor says, as plain values.

One type for each thing read from the chain, whichever layer reads it: the
chain adapter (:mod:`docanchor.chain`) builds them from the node's answers;
the receipt checks, the period audit and the service read them. Fetching
and checking stay apart: nothing here talks to a node.

Pure core: standard library only (and the core's errors and vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass

from docanchor.errors import InputError
from docanchor.vocabulary import ADDRESS, UINT64_MAX, ZERO_ADDRESS


@dataclass(frozen=True)
class OnChainRecord:
    """What ``getAnchor(root)`` returned; an all-zero record means the root is unknown."""

    seq: int
    tree_size: int
    timestamp: int
    block_number: int
    anchorer: str

    def __post_init__(self) -> None:
        for name in ("seq", "tree_size", "timestamp", "block_number"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= UINT64_MAX:
                raise InputError(f"on-chain record field {name} must be a uint64, got {value!r}")
        if not isinstance(self.anchorer, str) or ADDRESS.fullmatch(self.anchorer) is None:
            raise InputError(f"on-chain record anchorer must be an address, got {self.anchorer!r}")

    @property
    def is_unknown(self) -> bool:
        """True when the contract has no record of the root (zero anchorer)."""
        return self.anchorer.lower() == ZERO_ADDRESS


@dataclass(frozen=True)
class OnChainCheckpoint:
    """The latest checkpoint ``latest()`` returns: the log's size and root, and its seq."""

    root: bytes
    tree_size: int
    seq: int


@dataclass(frozen=True)
class MinedAnchor:
    """A mined ``anchor()`` transaction, from its ``Anchored`` event and its block."""

    seq: int
    tx_hash: str
    block_number: int
    block_hash: str
    timestamp: int
    tree_size: int
    anchorer: str
    gas_used: int


@dataclass(frozen=True)
class AnchoredEvent:
    """One ``Anchored`` log found by ``ChainClient.scan_anchored``."""

    seq: int
    root: bytes
    tree_size: int
    anchorer: str
    tx_hash: str
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class MinedTransaction:
    """The receipt of a mined transaction (whatever it called)."""

    tx_hash: str
    block_number: int
    block_hash: str
    succeeded: bool
    gas_used: int


__all__ = [
    "AnchoredEvent",
    "MinedAnchor",
    "MinedTransaction",
    "OnChainCheckpoint",
    "OnChainRecord",
]

"""Reading ``DocumentAnchor``: whether it has code, ``getAnchor``, ``latest()``, roles and
``Anchored`` events. Reads need no key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractLogicError,
)

from docanchor.chain.abi import ANCHORED_TOPIC, ANCHORER_ROLE, _hex
from docanchor.chain.rpc import NodeClient, checksum_address
from docanchor.errors import (
    ChainError,
    ChainResetError,
    ConfigError,
    ContractRevertError,
    InputError,
)
from docanchor.onchain import (
    AnchoredEvent,
    OnChainCheckpoint,
    OnChainRecord,
)
from docanchor.vocabulary import ZERO_ADDRESS


class ContractReader(NodeClient):
    """A node connection with (optionally) one ``DocumentAnchor`` contract to read."""

    @property
    def contract_address(self) -> str:
        """The configured contract (EIP-55); :class:`ConfigError` when there is none."""
        if self._contract_address is None:
            raise _no_contract()
        return self._contract_address

    @property
    def has_contract(self) -> bool:
        """Whether a contract address is configured (no node call)."""
        return self._contract_address is not None

    def use_contract(self, address: str) -> None:
        """Points the client at another deployment of the contract."""
        self._contract_address = checksum_address(address)
        self._contract_checked = False

    def _contract(self) -> Any:
        if self._contract_address is None:
            raise _no_contract()
        if not self._contract_checked:
            self.check_contract()
        return self._w3.eth.contract(address=self._contract_address, abi=self._abi)

    def contract_has_code(self) -> bool:
        """Whether the configured contract address holds code on this chain."""
        return self.has_code(self.contract_address)

    def check_contract(self) -> None:
        """Raises :class:`ChainResetError` when the contract address holds no code."""
        if not self.contract_has_code():
            self._contract_checked = False
            raise ChainResetError(
                f"there is no contract code at {self._contract_address} on chain {self.chain_id} "
                f"(node {self.node}): the chain was reset or this is another chain; nothing is "
                "confirmed on it. Deploy again (docanchor deploy) and run docanchor anchor "
                "to re-anchor."
            )
        self._contract_checked = True

    def _read(self, fn_name: str, *args: Any) -> Any:
        contract = self._contract()
        function = getattr(contract.functions, fn_name)(*args)
        try:
            return self._rpc(function.call, "eth_call " + fn_name)
        except BadFunctionCallOutput:
            # An empty answer means the code is gone (a reset chain).
            self.check_contract()
            raise ChainError(f"{fn_name}() returned malformed data") from None
        except ContractLogicError as exc:
            raise self._errors.decode(exc.data, str(exc)) from None

    def get_anchor(self, root: bytes) -> OnChainRecord | None:
        """The on-chain record of ``root``; None when it was never anchored."""
        return _anchor_record(self._read("getAnchor", _root_bytes(root)))

    def get_anchor_at(self, contract: str, root: bytes) -> OnChainRecord | None:
        """``getAnchor(root)`` on any ``contract`` address (a receipt's, say).

        None when the root is unknown there, or when the address holds no code.
        """
        address = checksum_address(contract)
        instance = self._w3.eth.contract(address=address, abi=self._abi)
        call = instance.functions.getAnchor(_root_bytes(root)).call
        try:
            return _anchor_record(self._rpc(call, "eth_call getAnchor"))
        except BadFunctionCallOutput:
            if not self.has_code(address):
                return None
            raise ChainError(f"getAnchor() at {address} returned malformed data") from None
        except ContractLogicError as exc:
            raise self._errors.decode(exc.data, str(exc)) from None

    def anchor_count(self) -> int:
        return int(self._read("anchorCount"))

    def latest(self) -> OnChainCheckpoint | None:
        """The latest anchored checkpoint (``latest()``); None before the first anchor.

        Needs a version 2 contract: a version 1 deployment has no ``latest()``
        and raises :class:`ChainError` saying so.
        """
        try:
            root, tree_size, seq = self._read("latest")
        except ContractRevertError as exc:
            if exc.error_name is not None:
                raise
            raise ChainError(
                f"the contract at {self._contract_address} has no latest(): it is not a "
                "DocumentAnchor version 2 (a version 1 deployment can only be read)"
            ) from None
        # The contract answers all zeros before the first anchor; an anchored
        # checkpoint always has a tree size of at least 1.
        if int(tree_size) == 0:
            return None
        return OnChainCheckpoint(root=bytes(root), tree_size=int(tree_size), seq=int(seq))

    def is_anchorer(self, address: str) -> bool:
        return bool(self._read("hasRole", ANCHORER_ROLE, checksum_address(address)))

    def list_anchorers(self) -> list[str]:
        """Accounts holding ANCHORER_ROLE now, in the order of their first grant."""
        registered = self._read("registeredAnchorers")
        return [
            str(to_checksum_address(a))
            for a in registered
            if self._read("hasRole", ANCHORER_ROLE, to_checksum_address(a))
        ]

    def _decode_anchored(self, entry: Any) -> AnchoredEvent | None:
        topics = [bytes(t) for t in entry["topics"]]
        if (
            len(topics) != 4
            or _hex(topics[0]) != ANCHORED_TOPIC
            or self._contract_address is None
            or str(entry["address"]).lower() != self._contract_address.lower()
        ):
            return None
        (tree_size,) = abi_decode(["uint64"], bytes(entry["data"]))
        return AnchoredEvent(
            seq=int.from_bytes(topics[1], "big"),
            root=topics[2],
            tree_size=int(tree_size),
            anchorer=str(to_checksum_address(topics[3][12:])),
            tx_hash=_hex(entry["transactionHash"]),
            block_number=int(entry["blockNumber"]),
            block_hash=_hex(entry["blockHash"]),
        )

    def scan_anchored(
        self,
        from_block: int,
        to_block: int | None = None,
        step: int = 5000,
        *,
        root: bytes | None = None,
    ) -> list[AnchoredEvent]:
        """Every ``Anchored`` event of the contract in ``[from_block, to_block]``
        (default: up to the head), optionally only those of ``root``, in chain order.

        Queries ``step`` blocks at a time, as many providers cap ``eth_getLogs``.
        """
        if step < 1:
            raise InputError("step must be at least 1")
        self._contract()
        last = self.head_number() if to_block is None else to_block
        topics: list[Any] = [ANCHORED_TOPIC]
        if root is not None:
            topics += [None, _hex(_root_bytes(root))]
        found: list[AnchoredEvent] = []
        start = max(0, from_block)
        while start <= last:
            end = min(start + step - 1, last)
            params = {
                "address": self._contract_address,
                "fromBlock": start,
                "toBlock": end,
                "topics": topics,
            }
            entries = self._rpc(lambda p=params: self._w3.eth.get_logs(p), "eth_getLogs")  # type: ignore[misc]
            for entry in entries:
                event = self._decode_anchored(entry)
                if event is not None:
                    found.append(event)
            start = end + 1
        return found


def _no_contract() -> ConfigError:
    return ConfigError(
        "no DocumentAnchor contract is configured: run `docanchor deploy` "
        "or set DOCANCHOR_CONTRACT_ADDRESS"
    )


def _anchor_record(values: Sequence[Any]) -> OnChainRecord | None:
    seq, tree_size, timestamp, block_number, anchorer = values
    # The contract answers all zeros for an unknown root; a real record always
    # names its anchorer (seq 0 is a valid sequence number, so seq cannot tell).
    if str(anchorer).lower() == ZERO_ADDRESS:
        return None
    return OnChainRecord(
        seq=int(seq),
        tree_size=int(tree_size),
        timestamp=int(timestamp),
        block_number=int(block_number),
        anchorer=str(to_checksum_address(anchorer)),
    )


def _root_bytes(root: bytes) -> bytes:
    if not isinstance(root, bytes | bytearray) or len(root) != 32:
        raise InputError("a Merkle root must be 32 bytes")
    return bytes(root)

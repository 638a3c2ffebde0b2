"""Signing and sending: deploying the contract, granting roles, and anchoring checkpoints
(prepare, broadcast, wait), with nonces from the node's pending count and EIP-1559 fees.

A signed anchoring transaction is never sent again blindly: before a resend the client
asks whether the node already knows the transaction and whether the root is anchored.
Keys are never logged, printed or put in error messages.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3.exceptions import (
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)

from docanchor.chain.abi import ANCHORER_ROLE, _hex
from docanchor.chain.contract import ContractReader, _root_bytes
from docanchor.chain.rpc import (
    _Backoff,
    _failure,
    _is_rate_limited,
    _is_transient,
    _rpc_message,
    _tx_hash_text,
    checksum_address,
)
from docanchor.config import ANVIL_DEV_PRIVATE_KEY, DEV_CHAIN_ID
from docanchor.errors import (
    ChainError,
    ChainResetError,
    ConfigError,
    ContractRevertError,
    FeeCapError,
    InputError,
    NodeUnavailableError,
    NonceTooLowError,
    UnderpricedError,
)
from docanchor.onchain import (
    MinedAnchor,
    MinedTransaction,
)
from docanchor.vocabulary import UINT64_MAX

log = logging.getLogger(__name__)
GAS_MARGIN: Final = 1.25
# A consistency proof between uint64 tree sizes has at most 2 * 64 hashes
# (merkle.consistency_proof_size); anything longer is refused before signing.
MAX_CONSISTENCY_HASHES: Final = 128
DEFAULT_PRIORITY_FEE_WEI: Final = 1_000_000_000
_FEE_KEYS: Final = ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")
# How nodes say that a transaction's fees are too low to enter the pool.
_UNDERPRICED_WORDS: Final = (
    "underpriced",
    "fee cap",
    "less than block base fee",
    "max fee per gas less than",
    "fee too low",
)


@dataclass(frozen=True)
class DeploymentRecord:
    """Where ``DocumentAnchor`` was deployed: what ``docanchor deploy`` records."""

    address: str  # EIP-55 checksummed
    chain_id: int
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class PreparedAnchor:
    """A signed, not yet broadcast ``anchor()`` transaction."""

    tx_hash: str
    root: bytes
    tree_size: int
    nonce: int
    raw_transaction: bytes = field(repr=False)
    consistency: tuple[bytes, ...] = field(default=(), repr=False)
    # maxFeePerGas and maxPriorityFeePerGas (EIP-1559), or gasPrice (legacy), in wei.
    fees: dict[str, int] = field(default_factory=dict, compare=False)


class ChainClient(ContractReader):
    """A connection to one node and (optionally) one ``DocumentAnchor`` contract.

    Constructing a client does not contact the node; the first call does.
    Reading needs no key; deploying, anchoring and role changes need
    ``private_key`` or ``account``.
    """

    def _signer(self) -> LocalAccount:
        if self._account is None:
            raise ConfigError(
                "no signing account is configured: set DOCANCHOR_PRIVATE_KEY or DOCANCHOR_KEYSTORE"
            )
        if self._account.address == _DEV_ADDRESS and self.chain_id != DEV_CHAIN_ID:
            raise ConfigError(_dev_key_refused(self.chain_id))
        return self._account

    def base_fee(self) -> int | None:
        """The latest block's base fee in wei; None on a node without EIP-1559."""
        block = self._rpc(lambda: self._w3.eth.get_block("latest"), "eth_getBlockByNumber")
        base_fee = block.get("baseFeePerGas")
        return None if base_fee is None else int(base_fee)

    def fee_cap_shortfall(self) -> tuple[int, int] | None:
        """(base fee, cap) in wei when the base fee is above the configured cap; else None.

        A transaction whose max fee is under the base fee is refused by most
        nodes and never mined by any, so nothing should be sent then.
        """
        cap = self._max_fee_wei
        if cap is None:
            return None
        base_fee = self.base_fee()
        if base_fee is None or base_fee <= cap:
            return None
        return base_fee, cap

    def account_nonce(self) -> int:
        """The signing account's nonce at the latest block (its mined transactions)."""
        address = self._signer().address
        return int(
            self._rpc(
                lambda: self._w3.eth.get_transaction_count(address, "latest"),
                "eth_getTransactionCount",
            )
        )

    def _fees(self, floor: dict[str, int] | None = None) -> dict[str, int]:
        """Fees for a new transaction: the node's price, at least ``floor`` (a replacement's
        bumped fees), never above the cap; :class:`FeeCapError` when the base fee is above
        the cap."""
        block = self._rpc(lambda: self._w3.eth.get_block("latest"), "eth_getBlockByNumber")
        base_fee = block.get("baseFeePerGas")
        cap = self._max_fee_wei
        floor = floor or {}
        if base_fee is None:
            gas_price = int(self._rpc(lambda: self._w3.eth.gas_price, "eth_gasPrice"))
            gas_price = max(gas_price, floor.get("gasPrice", 0))
            return {"gasPrice": gas_price if cap is None else min(gas_price, cap)}
        if cap is not None and cap < int(base_fee):
            raise FeeCapError(
                f"the base fee ({int(base_fee) / 1e9:g} gwei) is above DOCANCHOR_MAX_FEE_GWEI "
                f"({cap / 1e9:g} gwei); nothing is sent until it falls under the cap"
            )
        try:
            priority = int(
                self._rpc(lambda: self._w3.eth.max_priority_fee, "eth_maxPriorityFeePerGas")
            )
        except ChainError:  # eth_maxPriorityFeePerGas is not on every node
            priority = DEFAULT_PRIORITY_FEE_WEI
        priority = max(priority, floor.get("maxPriorityFeePerGas", 0))
        # Twice the base fee keeps the transaction includable through six full blocks.
        max_fee = max(2 * int(base_fee) + priority, floor.get("maxFeePerGas", 0))
        if cap is not None and max_fee > cap:
            max_fee = cap
            priority = min(priority, cap)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority, "type": 2}

    def _prepare(
        self,
        tx: dict[str, Any],
        *,
        nonce: int | None = None,
        fee_floor: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Fills chain id, gas (estimated, with a margin), fees and the nonce (``nonce``,
        or the pending count)."""
        account = self._signer()
        tx = {"from": account.address, "value": 0, "chainId": self.chain_id, **tx}
        try:
            estimate = self._rpc(lambda: self._w3.eth.estimate_gas(tx), "eth_estimateGas")  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self._errors.decode(exc.data, str(exc)) from None
        tx["gas"] = math.ceil(int(estimate) * GAS_MARGIN)
        tx.update(self._fees(fee_floor))
        if nonce is None:
            nonce = int(
                self._rpc(
                    lambda: self._w3.eth.get_transaction_count(account.address, "pending"),
                    "eth_getTransactionCount",
                )
            )
        tx["nonce"] = nonce
        del tx["from"]
        return tx

    def _broadcast(
        self,
        raw: bytes,
        tx_hash: str,
        superseded: Callable[[], ChainError | None] = lambda: None,
    ) -> None:
        """Sends a signed transaction.

        After a transient failure the same bytes (same hash, same nonce) are
        sent again, but only once the node says it does not know the
        transaction and ``superseded()`` finds nothing that makes a resend
        pointless (it returns the error to raise instead).
        """
        backoff = _Backoff(self._retry_backoff, self._retry_deadline)
        try:
            while True:
                failure: BaseException
                try:
                    self._w3.eth.send_raw_transaction(raw)
                    return
                except OSError as exc:
                    if not _is_transient(exc):
                        raise NodeUnavailableError(
                            f"the Ethereum node at {self.node} answered the transaction with "
                            f"{_failure(exc)}"
                        ) from exc
                    failure = exc
                except Web3RPCError as exc:
                    text = _rpc_message(exc).lower()
                    if "already known" in text or "already imported" in text:
                        return
                    if "nonce too low" in text:
                        if self.transaction_known(tx_hash):
                            return
                        raise NonceTooLowError(
                            f"the node rejected transaction {tx_hash}: {_rpc_message(exc)}"
                        ) from None
                    if any(word in text for word in _UNDERPRICED_WORDS):
                        raise UnderpricedError(
                            f"the node rejected transaction {tx_hash}: {_rpc_message(exc)}"
                        ) from None
                    if not _is_rate_limited(exc):
                        raise ChainError(
                            f"the node rejected transaction {tx_hash}: {_rpc_message(exc)}"
                        ) from None
                    failure = exc
                if not backoff.wait(failure):
                    raise NodeUnavailableError(
                        f"cannot send transaction {tx_hash} to the Ethereum node at {self.node}: "
                        f"{_failure(failure)} {backoff.summary}"
                    ) from failure
                if self.transaction_known(tx_hash):
                    return
                reason = superseded()
                if reason is not None:
                    raise reason
        except NodeUnavailableError as exc:
            raise NodeUnavailableError(
                f"{exc.message}; transaction {tx_hash} may or may not have reached the node "
                "(check it with transaction_known before sending anything else)"
            ) from exc

    def _sign(
        self,
        tx: dict[str, Any],
        *,
        nonce: int | None = None,
        fee_floor: dict[str, int] | None = None,
    ) -> tuple[str, bytes, int, dict[str, int]]:
        """(tx hash, signed raw bytes, nonce, fees) of ``tx``, completed by :meth:`_prepare`."""
        with self._send_lock:
            prepared = self._prepare(tx, nonce=nonce, fee_floor=fee_floor)
            signed = self._signer().sign_transaction(prepared)
        fees: dict[str, int] = {str(k): int(prepared[k]) for k in _FEE_KEYS if k in prepared}
        return _hex(signed.hash), bytes(signed.raw_transaction), int(prepared["nonce"]), fees

    def _sign_and_send(self, tx: dict[str, Any]) -> str:
        tx_hash, raw, nonce, _ = self._sign(tx)
        self._broadcast(raw, tx_hash)
        log.info("sent transaction %s (nonce %d)", tx_hash, nonce)
        return tx_hash

    def _await_receipt(self, tx_hash: str, timeout: float) -> MinedTransaction:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            mined = self.transaction_receipt(tx_hash)
            if mined is not None:
                return mined
            if time.monotonic() >= deadline:
                raise ChainError(f"transaction {tx_hash} was not mined within {timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _revert_reason(self, mined: MinedTransaction) -> ContractRevertError | None:
        """Why a mined transaction reverted, by replaying it on the state of its block.

        Best effort: the replay sees the state after the whole block, which
        explains the usual cases (a root anchored by a competing transaction,
        a revoked role); None when the replay succeeds or cannot be made.
        """
        try:
            tx = self._rpc(
                lambda: self._w3.eth.get_transaction(HexStr(mined.tx_hash)),
                "eth_getTransactionByHash",
            )
            call = {"from": tx["from"], "to": tx["to"], "data": tx["input"]}
            self._rpc(
                lambda: self._w3.eth.call(call, mined.block_number),  # type: ignore[arg-type]
                "eth_call",
            )
        except ContractLogicError as exc:
            return self._errors.decode(exc.data, str(exc))
        except (Web3RPCError, TransactionNotFound, ChainError):
            return None
        return None

    def _transact_and_wait(self, fn_name: str, args: Sequence[Any], timeout: float) -> str:
        contract = self._contract()
        data = contract.encode_abi(fn_name, args=list(args))
        tx_hash = self._sign_and_send({"to": self._contract_address, "data": data})
        mined = self._await_receipt(tx_hash, timeout)
        if not mined.succeeded:
            raise ChainError(
                f"{fn_name} transaction {tx_hash} reverted in block {mined.block_number}"
            )
        return tx_hash

    def deploy(self, *, timeout: float = 120.0) -> DeploymentRecord:
        """Deploys a new ``DocumentAnchor`` (the signer becomes admin and anchorer)
        and points this client at it."""
        tx_hash = self._sign_and_send({"data": self._bytecode})
        mined = self._await_receipt(tx_hash, timeout)
        if not mined.succeeded:
            raise ChainError(f"the deployment transaction {tx_hash} reverted")
        created = self._raw_receipt(tx_hash)["contractAddress"]
        if created is None:
            raise ChainError(f"the deployment transaction {tx_hash} created no contract")
        address = str(to_checksum_address(created))
        self.use_contract(address)
        self._contract_checked = True  # it was created by this very transaction
        return DeploymentRecord(
            address=address,
            chain_id=self.chain_id,
            tx_hash=tx_hash,
            block_number=mined.block_number,
        )

    def grant_anchorer(self, address: str, *, timeout: float = 120.0) -> str:
        """Grants ANCHORER_ROLE (the signer must hold DEFAULT_ADMIN_ROLE); returns the tx hash."""
        return self._transact_and_wait(
            "grantRole", [ANCHORER_ROLE, checksum_address(address)], timeout
        )

    def revoke_anchorer(self, address: str, *, timeout: float = 120.0) -> str:
        """Revokes ANCHORER_ROLE (the signer must hold DEFAULT_ADMIN_ROLE); returns the tx hash."""
        return self._transact_and_wait(
            "revokeRole", [ANCHORER_ROLE, checksum_address(address)], timeout
        )

    def prepare_anchor(
        self,
        root: bytes,
        tree_size: int,
        consistency: Sequence[bytes],
        *,
        nonce: int | None = None,
        fee_floor: dict[str, int] | None = None,
    ) -> PreparedAnchor:
        """Builds and signs ``anchor(root, tree_size, consistency)`` without sending it.

        ``consistency`` is the RFC 9162 consistency proof from the latest
        anchored checkpoint (:meth:`latest`) to (``tree_size``, ``root``);
        empty for the first anchor. The contract verifies it.

        The transaction hash is known from here on, so a caller can record it
        before :meth:`broadcast` and reconcile after a crash. A revert found
        while estimating gas raises :class:`ContractRevertError` with the
        contract's error name (``ZeroRoot``, ``TreeSizeNotGrowing``,
        ``RootAlreadyAnchored``, ``InconsistentHistory``, ...). The nonce is
        the account's pending count unless ``nonce`` is given (a replacement
        of a pending transaction); broadcast one prepared transaction before
        preparing the next. ``fee_floor`` raises the fees to at least these
        values (a replacement's bump), never above the configured cap;
        :class:`FeeCapError` when the base fee is above the cap.
        """
        root = _root_bytes(root)
        if isinstance(tree_size, bool) or not isinstance(tree_size, int):
            raise InputError("the tree size must be an integer")
        if not 0 <= tree_size <= UINT64_MAX:
            raise InputError(f"the tree size must fit in 64 bits, got {tree_size}")
        proof = _consistency_hashes(consistency)
        data = self._contract().encode_abi("anchor", args=[root, tree_size, list(proof)])
        tx_hash, raw, nonce, fees = self._sign(
            {"to": self.contract_address, "data": data}, nonce=nonce, fee_floor=fee_floor
        )
        return PreparedAnchor(
            tx_hash=tx_hash,
            root=root,
            tree_size=tree_size,
            nonce=nonce,
            raw_transaction=raw,
            consistency=proof,
            fees=fees,
        )

    def broadcast(self, prepared: PreparedAnchor) -> str:
        """Sends a prepared anchor; returns its tx hash as soon as the node has it.

        Transient failures are retried with the same signed bytes (same hash,
        same nonce), and only after checking that the node does not already
        know the transaction and that the root is not anchored yet (if it is,
        :class:`ContractRevertError` ``RootAlreadyAnchored``). When the node
        stays unreachable, :class:`NodeUnavailableError`: the transaction may
        or may not have arrived; ask :meth:`transaction_known` later.
        """

        def anchored_meanwhile() -> ChainError | None:
            record = self.get_anchor(prepared.root)
            if record is None:
                return None
            return ContractRevertError(
                f"root {prepared.root.hex()} is already anchored (seq {record.seq}); "
                f"transaction {prepared.tx_hash} was not sent again",
                "RootAlreadyAnchored",
            )

        self._broadcast(prepared.raw_transaction, prepared.tx_hash, anchored_meanwhile)
        log.info("sent anchor transaction %s (nonce %d)", prepared.tx_hash, prepared.nonce)
        return prepared.tx_hash

    def send_anchor(self, root: bytes, tree_size: int, consistency: Sequence[bytes]) -> str:
        """:meth:`prepare_anchor` then :meth:`broadcast`: the tx hash, before mining."""
        return self.broadcast(self.prepare_anchor(root, tree_size, consistency))

    def wait_for_anchor(self, tx_hash: str, timeout: float = 120.0) -> MinedAnchor:
        """Waits until ``tx_hash`` is mined and decodes its ``Anchored`` event.

        Raises :class:`ChainError` when the transaction reverted or emitted no
        ``Anchored`` event of this contract, or at the timeout.
        """
        mined = self._await_receipt(_tx_hash_text(tx_hash), timeout)
        if not mined.succeeded:
            reason = self._revert_reason(mined)
            where = f"the anchoring transaction {mined.tx_hash} reverted in block "
            if reason is not None:
                raise ContractRevertError(
                    f"{where}{mined.block_number}: {reason.message}", reason.error_name
                )
            raise ChainError(f"{where}{mined.block_number}")
        receipt = self._raw_receipt(mined.tx_hash)
        events = [e for e in (self._decode_anchored(lg) for lg in receipt["logs"]) if e is not None]
        if not events:
            raise ChainError(f"transaction {mined.tx_hash} emitted no Anchored event")
        event = events[0]
        timestamp = self.block_timestamp(mined.block_number)
        if timestamp is None:
            raise ChainResetError(f"block {mined.block_number} is no longer on the chain")
        return MinedAnchor(
            seq=event.seq,
            tx_hash=mined.tx_hash,
            block_number=mined.block_number,
            block_hash=mined.block_hash,
            timestamp=timestamp,
            tree_size=event.tree_size,
            anchorer=event.anchorer,
            gas_used=mined.gas_used,
        )

    def anchor(
        self,
        root: bytes,
        tree_size: int,
        consistency: Sequence[bytes],
        *,
        timeout: float = 120.0,
    ) -> MinedAnchor:
        """:meth:`send_anchor`, then :meth:`wait_for_anchor`."""
        return self.wait_for_anchor(self.send_anchor(root, tree_size, consistency), timeout)


_DEV_ADDRESS: Final = str(Account.from_key(ANVIL_DEV_PRIVATE_KEY).address)


def _dev_key_refused(chain_id: int) -> str:
    return (
        f"DOCANCHOR_PRIVATE_KEY or DOCANCHOR_KEYSTORE is required on chain {chain_id}; "
        f"the development key is accepted only on chain {DEV_CHAIN_ID}"
    )


def _consistency_hashes(consistency: Sequence[bytes]) -> tuple[bytes, ...]:
    """``consistency`` as a tuple of 32-byte hashes; :class:`InputError` otherwise.

    Only the form is checked here; whether the proof is right is the
    contract's to say.
    """
    if isinstance(consistency, bytes | bytearray | str) or not isinstance(consistency, Sequence):
        raise InputError("a consistency proof must be a sequence of 32-byte hashes")
    if len(consistency) > MAX_CONSISTENCY_HASHES:
        raise InputError(
            f"a consistency proof has at most {MAX_CONSISTENCY_HASHES} hashes, "
            f"got {len(consistency)}"
        )
    hashes = tuple(consistency)
    for position, item in enumerate(hashes):
        if not isinstance(item, bytes | bytearray) or len(item) != 32:
            raise InputError(f"consistency proof hash {position} is not 32 bytes")
    return tuple(bytes(item) for item in hashes)

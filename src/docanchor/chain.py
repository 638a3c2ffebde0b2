"""The web3 adapter: deploy ``DocumentAnchor``, anchor checkpoints, read anchors back.

It deploys version 2 of the contract, whose ``anchor(root, treeSize,
consistency)`` takes an RFC 9162 consistency proof from the latest anchored
checkpoint. Reading a root's record (``getAnchor``) works on version 1
deployments too: the function has the same signature in both.

Everything that talks to an Ethereum node goes through :class:`ChainClient`.
It signs transactions locally (a private key or an encrypted keystore; the
node never holds the key), manages nonces from the node's pending count,
prices transactions with EIP-1559 fees (legacy ``gasPrice`` on nodes without
a base fee), decodes the contract's custom errors into
:class:`~docanchor.errors.ContractRevertError`, and maps node failures onto the
:mod:`docanchor.errors` hierarchy.

Rules this module keeps:

- It is the only module that imports web3. It imports the core and config,
  never the store; the service passes a client in.
- Only transient RPC failures (connection errors, timeouts, HTTP 5xx/429) are
  retried, a few times with a short backoff. A signed anchoring transaction
  is never sent again blindly: before a resend the client asks whether the
  node already knows the transaction and whether the root is anchored.
- The development key (Anvil's first account) is used only on chain 31337.
- Keys are never logged, printed or put in error messages.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import (
    BadFunctionCallOutput,
    BlockNotFound,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import RPCEndpoint

from docanchor.config import ANVIL_DEV_PRIVATE_KEY, DEV_CHAIN_ID, Settings
from docanchor.contracts import ARTIFACT_NAMES, load_artifact
from docanchor.errors import (
    ChainError,
    ChainIdentityError,
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
    AnchoredEvent,
    MinedAnchor,
    MinedTransaction,
    OnChainCheckpoint,
    OnChainRecord,
)
from docanchor.redaction import origin as node_origin
from docanchor.vocabulary import UINT64_MAX, ZERO_ADDRESS

log = logging.getLogger(__name__)

T = TypeVar("T")

ANCHORER_ROLE: Final = keccak(text="ANCHORER_ROLE")
ANCHORED_TOPIC: Final = "0x" + keccak(text="Anchored(uint64,bytes32,uint64,address)").hex()
GAS_MARGIN: Final = 1.25
# A consistency proof between uint64 tree sizes has at most 2 * 64 hashes
# (merkle.consistency_proof_size); anything longer is refused before signing.
MAX_CONSISTENCY_HASHES: Final = 128
DEFAULT_PRIORITY_FEE_WEI: Final = 1_000_000_000
_ERROR_STRING_SELECTOR: Final = bytes.fromhex("08c379a0")
_PANIC_SELECTOR: Final = bytes.fromhex("4e487b71")
_TRANSIENT_HTTP_STATUS: Final = frozenset({429, 500, 502, 503, 504})
CONNECT_RETRY_SECONDS: Final = 3.0
_FEE_KEYS: Final = ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")
# How nodes say that a transaction's fees are too low to enter the pool.
_UNDERPRICED_WORDS: Final = (
    "underpriced",
    "fee cap",
    "less than block base fee",
    "max fee per gas less than",
    "fee too low",
)


# --- values the adapter returns ------------------------------------------------


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


# --- helpers -------------------------------------------------------------------


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _tx_hash_text(tx_hash: str) -> HexStr:
    text = tx_hash.strip().lower()
    body = text[2:] if text.startswith("0x") else text
    if len(body) != 64 or any(c not in "0123456789abcdef" for c in body):
        raise InputError(f"not a transaction hash: {tx_hash!r}")
    return HexStr("0x" + body)


def checksum_address(address: str) -> ChecksumAddress:
    """``address`` in EIP-55 form; :class:`InputError` if it is not an address."""
    if not isinstance(address, str) or not is_address(address.strip()):
        raise InputError(f"not an Ethereum address: {address!r}")
    return to_checksum_address(address.strip())


def _http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _is_transient(exc: BaseException) -> bool:
    """Connection failures, timeouts and HTTP 429/5xx: worth asking again later.

    requests' exceptions derive from OSError; an HTTP error is transient only
    when its status says "try again".
    """
    if not isinstance(exc, OSError):
        return False
    status = _http_status(exc)
    return status is None or status in _TRANSIENT_HTTP_STATUS


# JSON-RPC errors by which providers say "too many requests" in a 200 answer.
_RATE_LIMIT_CODES: Final = frozenset({-32005, -32029, 429})
_RATE_LIMIT_WORDS: Final = ("rate limit", "too many requests", "limit exceeded", "throttl")


def _is_rate_limited(exc: Web3RPCError) -> bool:
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    text = _rpc_message(exc).lower()
    return code in _RATE_LIMIT_CODES or any(word in text for word in _RATE_LIMIT_WORDS)


def _retry_after(exc: BaseException) -> float | None:
    """The node's ``Retry-After`` (seconds or an HTTP date), if it sent one."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _refused_connection(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and _http_status(exc) is None and not _is_timeout(exc)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower()


def _failure(exc: BaseException) -> str:
    status = _http_status(exc)
    if status == 429:
        return "HTTP 429 (too many requests)"
    if status is not None:
        return f"HTTP {status}"
    if _is_timeout(exc):
        return "a timeout"
    return type(exc).__name__


class _Backoff:
    """Exponential backoff with jitter under a total deadline, honouring Retry-After."""

    def __init__(self, base: float, deadline: float, cap: float = 8.0) -> None:
        self.base = base
        self.cap = cap
        self.started = time.monotonic()
        self.deadline = self.started + deadline
        self.attempts = 0

    def wait(self, exc: BaseException | None) -> bool:
        """Sleep before the next attempt; False when the deadline does not allow one.

        A refused connection (no HTTP answer, no timeout: nothing listens)
        is retried for a few seconds only, so that a node that is not
        running is reported at once rather than after the whole deadline.
        """
        self.attempts += 1
        deadline = self.deadline
        if exc is not None and _refused_connection(exc):
            deadline = min(deadline, self.started + CONNECT_RETRY_SECONDS)
        delay = min(self.cap, self.base * 2 ** (self.attempts - 1)) * random.uniform(0.5, 1.0)
        asked = None if exc is None else _retry_after(exc)
        if asked is not None:
            delay = max(delay, min(asked, 60.0))
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)
        return True

    @property
    def summary(self) -> str:
        spent = time.monotonic() - self.started
        return f"after {self.attempts} attempts in {spent:.0f} s"


def _rpc_message(exc: Web3RPCError) -> str:
    """The node's own error message, without web3's wrapping."""
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message)


def _readable_revert(name: str, args: Sequence[Any]) -> str:
    if name == "ZeroRoot":
        return "the Merkle root must not be zero"
    if name == "ZeroTreeSize":
        return "the tree size must not be zero"
    if name == "TreeSizeNotGrowing":
        latest, given = int(args[0]), int(args[1])
        if latest == 0:
            return f"the tree size must be at least 1, got {given}"
        return (
            f"tree size {given} does not grow the log: the latest anchored checkpoint "
            f"already has tree size {latest}"
        )
    if name == "InconsistentHistory":
        latest, given = int(args[0]), int(args[1])
        if latest == 0:
            return (
                f"the first checkpoint (tree size {given}) takes an empty consistency proof; "
                "nothing is anchored yet"
            )
        return (
            f"the consistency proof does not show that the tree of size {given} extends "
            f"the anchored checkpoint of size {latest}; the contract refuses a history "
            "that drops, changes or reorders an anchored leaf"
        )
    if name == "RootAlreadyAnchored":
        return f"root {bytes(args[0]).hex()} is already anchored (seq {args[1]})"
    if name == "AccessControlUnauthorizedAccount":
        role = bytes(args[1])
        role_name = (
            "ANCHORER_ROLE"
            if role == ANCHORER_ROLE
            else "DEFAULT_ADMIN_ROLE"
            if role == bytes(32)
            else "role 0x" + role.hex()
        )
        return f"account {to_checksum_address(args[0])} does not hold {role_name} on the contract"
    if name == "SafeCastOverflowedUintDowncast":
        return f"a value does not fit the contract's {args[0]}-bit field: {args[1]}"
    if name == "Error":
        return f"the contract refused the call: {args[0]}"
    if name == "Panic":
        return f"the contract panicked (code 0x{int(args[0]):02x})"
    shown = ", ".join(_hex(a) if isinstance(a, bytes) else str(a) for a in args)
    return f"the contract refused the call: {name}({shown})"


class _ErrorDecoder:
    """Maps revert data (selector + ABI arguments) to a named, readable error."""

    def __init__(self, abi: Sequence[dict[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {
            _ERROR_STRING_SELECTOR: ("Error", ["string"]),
            _PANIC_SELECTOR: ("Panic", ["uint256"]),
        }
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [str(i["type"]) for i in item.get("inputs", [])]
            signature = f"{item['name']}({','.join(types)})"
            self._errors[keccak(text=signature)[:4]] = (str(item["name"]), types)

    def decode(self, data: Any, fallback: str) -> ContractRevertError:
        raw = self._as_bytes(data)
        if raw is None or len(raw) < 4:
            return ContractRevertError(f"the contract refused the call: {fallback}", None)
        known = self._errors.get(raw[:4])
        if known is None:
            return ContractRevertError(
                f"the contract refused the call with unknown error 0x{raw[:4].hex()}", None
            )
        name, types = known
        try:
            args = list(abi_decode(types, raw[4:]))
        except Exception:  # malformed arguments: still report the name
            return ContractRevertError(f"the contract refused the call: {name}", name)
        return ContractRevertError(_readable_revert(name, args), name)

    @staticmethod
    def _as_bytes(data: Any) -> bytes | None:
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, bytes | bytearray):
            return bytes(data)
        if isinstance(data, str):
            text = data[2:] if data.startswith("0x") else data
            try:
                return bytes.fromhex(text)
            except ValueError:
                return None
        return None


# --- the client ----------------------------------------------------------------


class ChainClient:
    """A connection to one node and (optionally) one ``DocumentAnchor`` contract.

    Constructing a client does not contact the node; the first call does.
    Reading needs no key; deploying, anchoring and role changes need
    ``private_key`` or ``account``.
    """

    def __init__(
        self,
        *,
        rpc_url: str,
        contract_address: str | None = None,
        private_key: str | None = None,
        account: LocalAccount | None = None,
        poa: bool = False,
        request_timeout: float = 10.0,
        expected_chain_id: int | None = None,
        max_fee_gwei: float | None = None,
        retry_deadline: float = 60.0,
        retry_backoff: float = 0.25,
    ) -> None:
        if private_key is not None and account is not None:
            raise ConfigError("give either a private key or an account, not both")
        if private_key is not None:
            try:
                account = Account.from_key(private_key)
            except Exception:  # never echo the key itself
                raise ConfigError("the private key is not a valid secp256k1 key") from None
        self.rpc_url = rpc_url
        # What messages may show of the URL: provider URLs carry access keys.
        self.node = node_origin(rpc_url)
        self._account: LocalAccount | None = account
        self._expected_chain_id = expected_chain_id
        self._max_fee_wei = None if max_fee_gwei is None else int(max_fee_gwei * 10**9)
        self._retry_deadline = max(0.0, retry_deadline)
        self._retry_backoff = retry_backoff
        self._chain_id: int | None = None
        self._contract_checked = False
        self._send_lock = threading.Lock()
        # web3's own retry loop would also resend eth_sendRawTransaction; this
        # class does its own, narrower retrying instead.
        # web3's validation middleware asks for eth_chainId before every call
        # and transaction; a node does not change chains under one connection
        # (a restarted one is caught by the deployment check), so the provider
        # answers that request from its cache after the first time.
        provider = Web3.HTTPProvider(
            rpc_url,
            request_kwargs={"timeout": request_timeout},
            exception_retry_configuration=None,
            cache_allowed_requests=True,
            cacheable_requests={RPCEndpoint("eth_chainId")},
        )
        self._w3 = Web3(provider)
        if poa:
            self._w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        artifact = load_artifact()
        self._abi: list[dict[str, Any]] = artifact["abi"]
        self._bytecode: str = artifact["bytecode"]
        # The errors of every version, so that a revert of a version 1
        # deployment (ZeroTreeSize, say) is named too.
        self._errors = _ErrorDecoder(
            [item for name in ARTIFACT_NAMES for item in load_artifact(name)["abi"]]
        )
        self._contract_address: ChecksumAddress | None = None
        if contract_address is not None:
            self._contract_address = checksum_address(contract_address)

    def __repr__(self) -> str:
        return (
            f"ChainClient(node={self.node!r}, contract_address={self._contract_address!r}, "
            f"account={self.account_address!r})"
        )

    # --- node basics ---------------------------------------------------------

    def _rpc(self, call: Callable[[], T], what: str) -> T:
        """Runs one RPC call, retrying only failures that may pass.

        Connection failures, timeouts, HTTP 429 and 5xx, and JSON-RPC "rate
        limit" errors are retried with exponential backoff and jitter,
        honouring the node's ``Retry-After``, until the client's total retry
        deadline; then :class:`NodeUnavailableError` names the last failure.
        Any other JSON-RPC error answer becomes :class:`ChainError` at once,
        except "not found" answers (``TransactionNotFound``,
        ``BlockNotFound``) and contract reverts (``ContractLogicError``),
        which callers handle themselves.
        """
        backoff = _Backoff(self._retry_backoff, self._retry_deadline)
        while True:
            try:
                return call()
            except (TransactionNotFound, BlockNotFound):
                raise
            except Web3RPCError as exc:
                if not _is_rate_limited(exc):
                    raise ChainError(
                        f"the Ethereum node at {self.node} refused {what}: {_rpc_message(exc)}"
                    ) from None
                if not backoff.wait(exc):
                    raise NodeUnavailableError(
                        f"the Ethereum node at {self.node} keeps refusing {what} as rate "
                        f"limited ({_rpc_message(exc)}) {backoff.summary}"
                    ) from None
            except OSError as exc:
                if not _is_transient(exc):
                    raise NodeUnavailableError(
                        f"the Ethereum node at {self.node} answered {what} with {_failure(exc)}"
                    ) from exc
                if not backoff.wait(exc):
                    raise NodeUnavailableError(
                        f"cannot reach the Ethereum node at {self.node}: {what} failed with "
                        f"{_failure(exc)} {backoff.summary}"
                    ) from exc

    @property
    def chain_id(self) -> int:
        """``eth_chainId`` of the node (fetched once)."""
        if self._chain_id is None:
            chain_id = int(self._rpc(lambda: self._w3.eth.chain_id, "eth_chainId"))
            if self._expected_chain_id is not None and chain_id != self._expected_chain_id:
                raise ChainError(
                    f"the node at {self.node} is on chain {chain_id}, "
                    f"not on the expected chain {self._expected_chain_id}"
                )
            self._chain_id = chain_id
        return self._chain_id

    def verify_identity(self) -> None:
        """Asks the node its chain id afresh; :class:`ChainIdentityError` if it changed.

        The chain id is cached per connection; a node restarted on another
        chain behind the same URL is caught here, once per anchoring pass.
        """
        known = self.chain_id
        self._w3.provider._request_cache.clear()
        now = int(self._rpc(lambda: self._w3.eth.chain_id, "eth_chainId"))
        if now != known:
            raise ChainIdentityError(
                f"the node at {self.node} now serves chain {now}, not chain {known} where "
                f"this service anchors; nothing is sent to it. Point DOCANCHOR_RPC_URL at a "
                f"node of chain {known}"
            )

    @property
    def account_address(self) -> str | None:
        """The signing account's address, or None for a read-only client."""
        return None if self._account is None else str(self._account.address)

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

    def head_number(self) -> int:
        return int(self._rpc(lambda: self._w3.eth.block_number, "eth_blockNumber"))

    def block_hash(self, number: int) -> str | None:
        """The hash of block ``number`` (``0x``, lowercase), or None if there is none."""
        if number < 0:
            return None
        try:
            block = self._rpc(lambda: self._w3.eth.get_block(number), "eth_getBlockByNumber")
        except BlockNotFound:
            return None
        return _hex(block["hash"])

    def block_timestamp(self, number: int) -> int | None:
        try:
            block = self._rpc(lambda: self._w3.eth.get_block(number), "eth_getBlockByNumber")
        except BlockNotFound:
            return None
        return int(block["timestamp"])

    def confirmations(self, block_number: int) -> int:
        """head − ``block_number`` + 1, or 0 while the chain has not reached it."""
        return max(0, self.head_number() - block_number + 1)

    def has_code(self, address: str) -> bool:
        target = checksum_address(address)
        code = self._rpc(lambda: self._w3.eth.get_code(target), "eth_getCode")
        return len(code) > 0

    def transaction_known(self, tx_hash: str) -> bool:
        """True when the node has the transaction, pending or mined."""
        text = _tx_hash_text(tx_hash)
        try:
            self._rpc(lambda: self._w3.eth.get_transaction(text), "eth_getTransactionByHash")
        except TransactionNotFound:
            return False
        return True

    def _raw_receipt(self, tx_hash: str) -> Any:
        text = _tx_hash_text(tx_hash)
        return self._rpc(
            lambda: self._w3.eth.get_transaction_receipt(text), "eth_getTransactionReceipt"
        )

    def transaction_receipt(self, tx_hash: str) -> MinedTransaction | None:
        """The outcome of a mined transaction, or None while it is not mined (or unknown)."""
        text = _tx_hash_text(tx_hash)
        try:
            receipt = self._rpc(
                lambda: self._w3.eth.get_transaction_receipt(text), "eth_getTransactionReceipt"
            )
        except TransactionNotFound:
            return None
        if receipt is None or receipt.get("blockNumber") is None:
            return None
        return MinedTransaction(
            tx_hash=text,
            block_number=int(receipt["blockNumber"]),
            block_hash=_hex(receipt["blockHash"]),
            succeeded=int(receipt["status"]) == 1,
            gas_used=int(receipt["gasUsed"]),
        )

    # --- the contract --------------------------------------------------------

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

    # --- signing and sending -------------------------------------------------

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

    # --- writes --------------------------------------------------------------

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

    # --- events --------------------------------------------------------------

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


# --- building a client from settings ------------------------------------------------


_DEV_ADDRESS: Final = str(Account.from_key(ANVIL_DEV_PRIVATE_KEY).address)


def _no_contract() -> ConfigError:
    return ConfigError(
        "no DocumentAnchor contract is configured: run `docanchor deploy` "
        "or set DOCANCHOR_CONTRACT_ADDRESS"
    )


def _dev_key_refused(chain_id: int) -> str:
    return (
        f"DOCANCHOR_PRIVATE_KEY or DOCANCHOR_KEYSTORE is required on chain {chain_id}; "
        f"the development key is accepted only on chain {DEV_CHAIN_ID}"
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


def _keystore_account(settings: Settings) -> LocalAccount:
    assert settings.keystore is not None
    password = settings.keystore_secret()
    if password is None:
        raise ConfigError(
            "DOCANCHOR_KEYSTORE is set but has no password: set DOCANCHOR_KEYSTORE_PASSWORD "
            "or DOCANCHOR_KEYSTORE_PASSWORD_FILE"
        )
    try:
        encrypted = json.loads(settings.keystore.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"DOCANCHOR_KEYSTORE cannot be read: {exc.strerror}") from None
    except ValueError:
        raise ConfigError("DOCANCHOR_KEYSTORE is not a JSON keystore file") from None
    try:
        key = Account.decrypt(encrypted, password)
    except Exception:  # wrong password or a damaged file; never echo either
        raise ConfigError(
            "DOCANCHOR_KEYSTORE cannot be decrypted (wrong password or damaged file)"
        ) from None
    account: LocalAccount = Account.from_key(key)
    return account


def connect_chain(settings: Settings, *, require_signer: bool = True) -> ChainClient:
    """A :class:`ChainClient` for the configured node, contract and account.

    Contacts the node once (``eth_chainId``). The contract is
    ``DOCANCHOR_CONTRACT_ADDRESS`` or the deployment recorded in the data dir
    for the node's chain id. With ``require_signer``, the account is
    ``DOCANCHOR_PRIVATE_KEY``, else ``DOCANCHOR_KEYSTORE``, else the
    development key, which is refused on any chain but 31337.
    """
    account: LocalAccount | None = None
    if require_signer:
        if settings.private_key is not None:
            account = Account.from_key(settings.private_key)
        elif settings.keystore is not None:
            account = _keystore_account(settings)
    client = ChainClient(
        rpc_url=settings.rpc_url,
        account=account,
        poa=settings.poa,
        expected_chain_id=settings.chain_id,
        max_fee_gwei=settings.max_fee_gwei,
        request_timeout=settings.rpc_timeout,
        retry_deadline=settings.rpc_retry_deadline,
    )
    chain_id = client.chain_id
    record = settings.recorded_deployment()
    if (
        settings.contract_address is None
        and record is not None
        and record.get("chain_id") != chain_id
    ):
        # Never advise a deployment here: that would mix two chains in one
        # data dir and database.
        raise ChainIdentityError(
            f"the node at {client.node} is on chain {chain_id}, but the deployment recorded "
            f"in {settings.deployment_path} is on chain {record.get('chain_id')} "
            f"({record.get('address')}); point DOCANCHOR_RPC_URL at a node of chain "
            f"{record.get('chain_id')}, or use another DOCANCHOR_DATA_DIR for chain {chain_id}"
        )
    if require_signer:
        if account is None:
            if chain_id != DEV_CHAIN_ID:
                raise ConfigError(_dev_key_refused(chain_id))
            client._account = Account.from_key(ANVIL_DEV_PRIVATE_KEY)
        elif account.address == _DEV_ADDRESS and chain_id != DEV_CHAIN_ID:
            raise ConfigError(_dev_key_refused(chain_id))
    address = settings.contract_address
    if address is None and record is not None:
        address = str(record["address"])
    if address is not None:
        client.use_contract(address)
    return client


__all__ = [
    "ANCHORER_ROLE",
    "AnchoredEvent",
    "ChainClient",
    "DeploymentRecord",
    "MinedAnchor",
    "MinedTransaction",
    "OnChainCheckpoint",
    "OnChainRecord",
    "PreparedAnchor",
    "checksum_address",
    "connect_chain",
]

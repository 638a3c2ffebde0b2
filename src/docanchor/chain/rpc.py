"""The connection to one Ethereum node: JSON-RPC calls, the retry policy for transient
failures, the chain's identity, blocks and mined transactions.

Only transient failures (connection errors, timeouts, HTTP 5xx/429, rate limits) are
retried, with a short backoff; everything else maps onto :mod:`docanchor.errors` at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import is_address, to_checksum_address
from web3 import Web3
from web3.exceptions import (
    BlockNotFound,
    TransactionNotFound,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import RPCEndpoint

from docanchor.chain.abi import _ErrorDecoder, _hex
from docanchor.contracts import ARTIFACT_NAMES, load_artifact
from docanchor.errors import (
    ChainError,
    ChainIdentityError,
    ConfigError,
    InputError,
    NodeUnavailableError,
)
from docanchor.onchain import (
    MinedTransaction,
)
from docanchor.redaction import origin as node_origin

T = TypeVar("T")
_TRANSIENT_HTTP_STATUS: Final = frozenset({429, 500, 502, 503, 504})
CONNECT_RETRY_SECONDS: Final = 3.0


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


class NodeClient:
    """A connection to one node: its chain, its blocks, mined transactions.

    Constructing a client does not contact the node; the first call does.
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

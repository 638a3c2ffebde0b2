"""A scripted, in-memory chain for unit tests of the service's anchoring logic.

:class:`FakeChain` fulfils :class:`docanchor.service.ChainPort` (and the
receipt check's :class:`docanchor.service.ChainReader`) without a node: it
holds blocks, a transaction pool, the anchoring account's nonces, mined
transactions with their outcomes, and the ``DocumentAnchor`` contract's
state (its records and latest checkpoint), rebuilt block by block so that a
reorganisation takes back exactly what the lost blocks did.

It behaves like ``docanchor.chain.ChainClient`` in front of Anvil: the
contract's checks and their order (``TreeSizeNotGrowing`` before
``RootAlreadyAnchored``, a consistency proof checked with the project's own
Merkle code), gas estimation that reverts with the contract's error name,
EIP-1559 fees (twice the base fee plus 1 gwei, raised to a floor, capped),
the pending nonce, replacement only at a higher fee, "already known"
answered quietly, "nonce too low" only for a transaction the node does not
know, and the errors of :mod:`docanchor.errors` the client raises.
``tests/integration/test_fakechain_honest.py`` runs the same scenario on
both and compares what the service records, so the two cannot drift apart
silently.

A test scripts the chain between anchoring passes: :meth:`FakeChain.mine`,
:meth:`~FakeChain.reorg` (the lost transactions vanish, or are included
again), :meth:`~FakeChain.drop`, :meth:`~FakeChain.send_foreign` (another
sender of the same account), :meth:`~FakeChain.set_base_fee`,
:meth:`~FakeChain.fail` (an RPC method raises an error once or N times),
:meth:`~FakeChain.when` (an action on the N-th call of a method, for
"mined while the pass waits"), :meth:`~FakeChain.serve_chain` (the node now
answers another chain id) and :meth:`~FakeChain.lose_contract`.

No sleeping, no I/O and no web3: it runs at unit-test speed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from docanchor import merkle
from docanchor.errors import (
    ChainError,
    ChainIdentityError,
    ChainResetError,
    ContractRevertError,
    FeeCapError,
    InputError,
    NodeUnavailableError,
    NonceTooLowError,
    UnderpricedError,
    VerificationError,
)
from docanchor.onchain import (
    AnchoredEvent,
    MinedAnchor,
    MinedTransaction,
    OnChainCheckpoint,
    OnChainRecord,
)
from docanchor.vocabulary import UINT64_MAX

GWEI = 10**9
DEV_CHAIN_ID = 31337
# Anvil's first development account, the one the devnet fixtures sign with.
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
# Another holder of ANCHORER_ROLE (Anvil's second account), anchoring on its own.
OTHER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FAKE_CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NODE = "http://127.0.0.1:8545"
DEFAULT_PRIORITY_FEE = GWEI
ANCHOR_GAS = 95_000
TRANSFER_GAS = 21_000

BLOCK_SECONDS = 12
# A replacement must pay at least this much more (geth's default price bump).
REPLACEMENT_BUMP_PERCENT = 10


# What the fake hands out are docanchor.onchain's values, as the real client's are.


@dataclass(frozen=True)
class FakePrepared:
    """A signed, not yet broadcast ``anchor()`` (or transfer): like ``chain.PreparedAnchor``."""

    tx_hash: str
    root: bytes | None  # None for a plain transfer
    tree_size: int
    nonce: int
    consistency: tuple[bytes, ...] = ()
    fees: dict[str, int] = field(default_factory=dict, compare=False)
    sender: str = DEV_ADDRESS


# --- the chain's own bookkeeping ----------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    tx: FakePrepared
    succeeded: bool
    gas_used: int
    seq: int | None = None
    revert: ContractRevertError | None = None


@dataclass(frozen=True)
class _State:
    """The contract and the account after a block."""

    has_code: bool
    nonce: int
    anchors: dict[bytes, OnChainRecord]
    latest_root: bytes | None


@dataclass(frozen=True)
class _Block:
    number: int
    hash: str
    timestamp: int
    base_fee: int | None
    outcomes: tuple[_Outcome, ...]
    state: _State


def _hash(*parts: object) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _revert(name: str, message: str) -> ContractRevertError:
    return ContractRevertError(message, name)


def _max_fee(fees: dict[str, int]) -> int:
    return fees.get("maxFeePerGas", fees.get("gasPrice", 0))


def _priority_fee(fees: dict[str, int]) -> int:
    return fees.get("maxPriorityFeePerGas", fees.get("gasPrice", 0))


def _execute(
    state: _State, tx: FakePrepared, block: int, timestamp: int
) -> tuple[_Outcome, _State]:
    """``anchor(root, treeSize, consistency)`` as DocumentAnchor.sol runs it (a transfer
    just uses the nonce)."""
    # Only the anchoring account's nonce is tracked; another sender's is its own.
    used = replace(state, nonce=state.nonce + 1) if tx.sender == DEV_ADDRESS else state
    if tx.root is None:
        return _Outcome(tx, True, TRANSFER_GAS), used
    if not state.has_code:  # a call to an address without code succeeds and does nothing
        return _Outcome(tx, True, TRANSFER_GAS), used
    try:
        seq = _check_anchor(state, tx.root, tx.tree_size, tx.consistency)
    except ContractRevertError as exc:
        return _Outcome(tx, False, ANCHOR_GAS // 2, revert=exc), used
    anchors = dict(state.anchors)
    anchors[tx.root] = OnChainRecord(seq, tx.tree_size, timestamp, block, tx.sender)
    return _Outcome(tx, True, ANCHOR_GAS, seq=seq), replace(
        used, anchors=anchors, latest_root=tx.root
    )


def _check_anchor(state: _State, root: bytes, tree_size: int, proof: Sequence[bytes]) -> int:
    """The contract's checks, in its order; the seq the anchor would get."""
    if root == bytes(32):
        raise _revert("ZeroRoot", "the Merkle root must not be zero")
    latest_size, seq = 0, 0
    if state.latest_root is not None:
        last = state.anchors[state.latest_root]
        latest_size, seq = last.tree_size, last.seq + 1
    if tree_size <= latest_size:
        raise _revert(
            "TreeSizeNotGrowing",
            f"tree size {tree_size} does not grow the log: the latest anchored checkpoint "
            f"already has tree size {latest_size}",
        )
    existing = state.anchors.get(root)
    if existing is not None:
        raise _revert(
            "RootAlreadyAnchored", f"root {root.hex()} is already anchored (seq {existing.seq})"
        )
    if state.latest_root is None:
        if proof:
            raise _revert(
                "InconsistentHistory",
                f"the first checkpoint (tree size {tree_size}) takes an empty consistency proof",
            )
        return seq
    try:
        merkle.verify_consistency(latest_size, tree_size, proof, state.latest_root, root)
    except VerificationError:
        raise _revert(
            "InconsistentHistory",
            f"the consistency proof does not show that the tree of size {tree_size} extends "
            f"the anchored checkpoint of size {latest_size}",
        ) from None
    return seq


# --- the fake ---------------------------------------------------------------------


class FakeChain:
    """An in-memory devnet with one deployed ``DocumentAnchor`` and one anchoring account.

    ``automine`` mines a block for each transaction as it arrives (Anvil's
    default); without it, transactions wait in the pool until :meth:`mine`.
    ``base_fee=None`` is a node without EIP-1559 (legacy ``gasPrice``).
    ``max_fee_wei`` is the client's fee cap (``DOCANCHOR_MAX_FEE_GWEI``).
    """

    def __init__(
        self,
        *,
        chain_id: int = DEV_CHAIN_ID,
        contract_address: str = FAKE_CONTRACT,
        automine: bool = True,
        base_fee: int | None = GWEI,
        max_fee_wei: int | None = None,
        start_block: int = 1,
        genesis_time: int = 1_790_000_000,
    ) -> None:
        self._chain_id = chain_id
        self._served_chain_id = chain_id
        self._contract_address = contract_address
        self.automine = automine
        self.max_fee_wei = max_fee_wei
        self._next_base_fee = base_fee
        self._genesis_time = genesis_time
        self._fork = 0
        self.pool: dict[str, FakePrepared] = {}
        self._failures: dict[str, list[BaseException]] = {}
        self._hooks: dict[str, list[tuple[int, Callable[[], object]]]] = {}
        self.calls: dict[str, int] = {}
        self._lost_answers: list[BaseException] = []
        # Some providers prune old logs: eth_getLogs then finds nothing.
        self.forget_logs = False
        state = _State(has_code=False, nonce=0, anchors={}, latest_root=None)
        self.blocks: list[_Block] = [self._block(0, (), state)]
        # The deployment: the contract has code from block 1 on.
        self._mine_block(deploy=True)
        while self.blocks[-1].number < start_block:
            self._mine_block()

    # --- scripting ------------------------------------------------------------------

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` blocks, each taking what the pool can pay for, in nonce order."""
        for _ in range(blocks):
            self._mine_block()

    def reorg(self, depth: int, *, reinclude: bool = False, new_blocks: int | None = None) -> None:
        """Replace the last ``depth`` blocks by ``new_blocks`` others (default ``depth + 1``).

        The lost blocks' transactions vanish (Anvil's ``evm_revert``), or with
        ``reinclude`` go back to the pool after the first new block (which is
        empty) and are mined in the next ones, so at another height and hash
        (with ``new_blocks=1`` they stay pending).
        """
        if not 1 <= depth < len(self.blocks) - 1:
            raise ValueError(f"cannot reorganise {depth} blocks of {len(self.blocks)}")
        lost = self.blocks[-depth:]
        del self.blocks[-depth:]
        self._fork += 1
        again = [o.tx for b in lost for o in b.outcomes] if reinclude else []
        count = depth + 1 if new_blocks is None else new_blocks
        if count < 1:
            raise ValueError("a reorganisation brings at least one new block")
        held, self.pool = self.pool, {}
        self._mine_block()  # an empty block where the lost ones started
        self.pool = {**held, **{tx.tx_hash: tx for tx in again}}
        for _ in range(count - 1):
            self._mine_block()

    def drop(self, tx_hash: str) -> None:
        """The pool forgets a pending transaction (``anvil_dropTransaction``)."""
        del self.pool[tx_hash.lower()]

    def pending(self) -> list[str]:
        """Hashes of the transactions in the pool, by nonce."""
        return [t.tx_hash for t in sorted(self.pool.values(), key=lambda t: t.nonce)]

    def send_foreign(self, *, nonce: int | None = None, fee_factor: int = 3) -> str:
        """Another sender of the anchoring account: a transfer at ``nonce`` (default: the
        pending one), paying ``fee_factor`` times the pool's fees, so that it replaces
        a transaction of ours with that nonce."""
        use = self._pending_nonce() if nonce is None else nonce
        base = self.blocks[-1].base_fee or GWEI
        fees = {
            "maxFeePerGas": fee_factor * (2 * base + DEFAULT_PRIORITY_FEE),
            "maxPriorityFeePerGas": fee_factor * DEFAULT_PRIORITY_FEE,
        }
        tx = FakePrepared(_hash("transfer", use, self._fork, fees), None, 0, use, (), fees)
        self._admit(tx)
        return tx.tx_hash

    def anchor_foreign(
        self, root: bytes, tree_size: int, proof: Sequence[bytes] = (), *, mine: bool = True
    ) -> str:
        """Another anchorer (another account holding ANCHORER_ROLE) anchors ``root``; its
        transaction pays more than ours, so a block takes it first. Mined in a block of
        its own unless ``mine`` is false (then it waits in the pool)."""
        fees = {"maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": 10 * GWEI}
        tx_hash = _hash("foreign", root, tree_size, self._fork, len(self.blocks))
        tx = FakePrepared(tx_hash, bytes(root), tree_size, 0, tuple(proof), fees, OTHER_ADDRESS)
        self.pool[tx_hash] = tx
        if mine:
            self._mine_block()
        return tx_hash

    def set_base_fee(self, wei: int) -> None:
        """The next block's base fee (``anvil_setNextBlockBaseFeePerGas``)."""
        self._next_base_fee = wei

    def fail(self, method: str, error: BaseException, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` raise ``error`` (and do nothing else)."""
        if not callable(getattr(self, method, None)):
            raise ValueError(f"the fake has no method {method}")
        self._failures.setdefault(method, []).extend([error] * times)

    def lose_answer(self, error: BaseException) -> None:
        """The next broadcast reaches the node, but its answer is lost: ``error`` is raised
        after the transaction entered the pool (a connection cut after forwarding)."""
        self._lost_answers.append(error)

    def when(self, method: str, call: int, action: Callable[[], object]) -> None:
        """Run ``action`` just before the ``call``-th call (from now) of ``method`` answers."""
        self._hooks.setdefault(method, []).append((self.calls.get(method, 0) + call, action))

    def serve_chain(self, chain_id: int) -> None:
        """The node behind the client's URL now serves another chain."""
        self._served_chain_id = chain_id

    def lose_contract(self) -> None:
        """The chain was reset under the client: no code at the contract's address."""
        self._mine_block(lose_code=True)

    def anchor_count(self) -> int:
        return len(self._state().anchors)

    # errors the way ChainClient words them
    @staticmethod
    def unavailable(what: str = "eth_blockNumber") -> NodeUnavailableError:
        return NodeUnavailableError(
            f"cannot reach the Ethereum node at {NODE}: {what} failed with ConnectionError "
            "after 4 attempts in 3 s"
        )

    @staticmethod
    def refused(what: str, message: str) -> ChainError:
        return ChainError(f"the Ethereum node at {NODE} refused {what}: {message}")

    @staticmethod
    def underpriced(tx_hash: str = "0x" + "ab" * 32) -> UnderpricedError:
        return UnderpricedError(
            f"the node rejected transaction {tx_hash}: replacement transaction underpriced"
        )

    def unused_script(self) -> list[str]:
        """Scripted failures and actions that have not happened yet (a test that scripts
        a fault checks that the fault was met)."""
        left = [f"{m}: {e!r}" for m, errors in self._failures.items() for e in errors]
        left += [f"{m} call {n}" for m, hooks in self._hooks.items() for n, _ in hooks]
        return left + [f"broadcast answer lost: {e!r}" for e in self._lost_answers]

    def record_of(self, root: bytes) -> OnChainRecord | None:
        """What the contract holds for ``root`` now (not an RPC call: never scripted)."""
        return self._state().anchors.get(root)

    def canonical_hash(self, number: int) -> str | None:
        """The hash of block ``number`` (not an RPC call: never scripted)."""
        return self.blocks[number].hash if 0 <= number < len(self.blocks) else None

    def reader(self) -> FakeReader:
        """The node as a receipt verifier sees it, outside the script."""
        return FakeReader(self)

    # --- ChainPort ------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def contract_address(self) -> str:
        return self._contract_address

    def head_number(self) -> int:
        self._call("head_number")
        return self.blocks[-1].number

    def block_hash(self, number: int) -> str | None:
        self._call("block_hash")
        if not 0 <= number < len(self.blocks):
            return None
        return self.blocks[number].hash

    def contract_has_code(self) -> bool:
        self._call("contract_has_code")
        return self._state().has_code

    def check_contract(self) -> None:
        """Like ``ContractReader.check_contract``: no code at the address is a reset chain."""
        if not self.contract_has_code():
            raise ChainResetError(
                f"there is no contract code at {self.contract_address} on chain {self._chain_id}"
            )

    def verify_identity(self) -> None:
        self._call("verify_identity")
        if self._served_chain_id != self._chain_id:
            raise ChainIdentityError(
                f"the node at {NODE} now serves chain {self._served_chain_id}, not chain "
                f"{self._chain_id} where this service anchors; nothing is sent to it. Point "
                f"DOCANCHOR_RPC_URL at a node of chain {self._chain_id}"
            )

    def get_anchor(self, root: bytes) -> OnChainRecord | None:
        self._call("get_anchor")
        return self._contract_state().anchors.get(self._root(root))

    def get_anchor_at(self, contract: str, root: bytes) -> OnChainRecord | None:
        self._call("get_anchor_at")
        state = self._state()
        if contract.lower() != self._contract_address.lower() or not state.has_code:
            return None
        return state.anchors.get(self._root(root))

    def latest(self) -> OnChainCheckpoint | None:
        self._call("latest")
        state = self._contract_state()
        if state.latest_root is None:
            return None
        record = state.anchors[state.latest_root]
        return OnChainCheckpoint(state.latest_root, record.tree_size, record.seq)

    def prepare_anchor(
        self,
        root: bytes,
        tree_size: int,
        consistency: Sequence[bytes],
        *,
        nonce: int | None = None,
        fee_floor: dict[str, int] | None = None,
    ) -> FakePrepared:
        self._call("prepare_anchor")
        root = self._root(root)
        if isinstance(tree_size, bool) or not isinstance(tree_size, int):
            raise InputError("the tree size must be an integer")
        if not 0 <= tree_size <= UINT64_MAX:
            raise InputError(f"the tree size must fit in 64 bits, got {tree_size}")
        proof = tuple(consistency)
        if any(not isinstance(h, bytes) or len(h) != 32 for h in proof):
            raise InputError("a consistency proof must be a sequence of 32-byte hashes")
        # eth_estimateGas runs the call on the latest state: a revert shows here.
        _check_anchor(self._contract_state(), root, tree_size, proof)
        fees = self._fees(fee_floor or {})
        use = self._pending_nonce() if nonce is None else nonce
        key = (self._chain_id, self._contract_address.lower(), use, root, tree_size, proof)
        tx_hash = _hash(*key, sorted(fees.items()))
        return FakePrepared(tx_hash, root, tree_size, use, proof, fees)

    def broadcast(self, prepared: Any) -> str:
        self._call("broadcast")
        if not isinstance(prepared, FakePrepared):
            raise TypeError("the fake broadcasts only what it prepared")
        self._admit(prepared)
        if self._lost_answers:
            raise self._lost_answers.pop(0)
        return prepared.tx_hash

    def transaction_known(self, tx_hash: str) -> bool:
        self._call("transaction_known")
        return tx_hash.lower() in self.pool or self._mined(tx_hash) is not None

    def transaction_receipt(self, tx_hash: str) -> MinedTransaction | None:
        self._call("transaction_receipt")
        found = self._mined(tx_hash)
        if found is None:
            return None
        block, outcome = found
        return MinedTransaction(
            outcome.tx.tx_hash, block.number, block.hash, outcome.succeeded, outcome.gas_used
        )

    def base_fee(self) -> int | None:
        self._call("base_fee")
        return self.blocks[-1].base_fee

    def fee_cap_shortfall(self) -> tuple[int, int] | None:
        self._call("fee_cap_shortfall")
        base_fee = self.blocks[-1].base_fee
        if self.max_fee_wei is None or base_fee is None or base_fee <= self.max_fee_wei:
            return None
        return base_fee, self.max_fee_wei

    def account_nonce(self) -> int:
        self._call("account_nonce")
        return self._state().nonce

    def wait_for_anchor(self, tx_hash: str, timeout: float) -> MinedAnchor:
        self._call("wait_for_anchor")
        found = self._mined(tx_hash)
        if found is None:  # nothing mines while the fake "waits"
            raise ChainError(f"transaction {tx_hash} was not mined within {timeout:g} s")
        block, outcome = found
        where = f"the anchoring transaction {outcome.tx.tx_hash} reverted in block "
        if outcome.revert is not None:
            raise ContractRevertError(
                f"{where}{block.number}: {outcome.revert.message}", outcome.revert.error_name
            )
        if outcome.seq is None:
            raise ChainError(f"transaction {outcome.tx.tx_hash} emitted no Anchored event")
        return MinedAnchor(
            seq=outcome.seq,
            tx_hash=outcome.tx.tx_hash,
            block_number=block.number,
            block_hash=block.hash,
            timestamp=block.timestamp,
            tree_size=outcome.tx.tree_size,
            anchorer=outcome.tx.sender,
            gas_used=outcome.gas_used,
        )

    def scan_anchored(self, from_block: int, to_block: int | None = None) -> list[AnchoredEvent]:
        self._call("scan_anchored")
        self._contract_state()
        if self.forget_logs:
            return []
        last = self.blocks[-1].number if to_block is None else to_block
        return [
            AnchoredEvent(
                o.seq, o.tx.root, o.tx.tree_size, o.tx.sender, o.tx.tx_hash, b.number, b.hash
            )
            for b in self.blocks[max(0, from_block) : last + 1]
            for o in b.outcomes
            if o.seq is not None and o.tx.root is not None
        ]

    # --- inside ---------------------------------------------------------------------

    def _call(self, method: str) -> None:
        count = self.calls[method] = self.calls.get(method, 0) + 1
        for due, action in list(self._hooks.get(method, [])):
            if due == count:
                self._hooks[method].remove((due, action))
                action()
        queued = self._failures.get(method)
        if queued:
            raise queued.pop(0)

    def _state(self) -> _State:
        return self.blocks[-1].state

    def _contract_state(self) -> _State:
        """The contract's state; a read of an address without code fails as the client's."""
        state = self._state()
        if not state.has_code:
            raise ChainResetError(
                f"there is no contract at {self._contract_address} on chain {self._chain_id} "
                f"(node {NODE}); was the chain reset? Run `docanchor deploy` again"
            )
        return state

    @staticmethod
    def _root(root: bytes) -> bytes:
        if not isinstance(root, bytes | bytearray) or len(root) != 32:
            raise InputError("a Merkle root must be 32 bytes")
        return bytes(root)

    def _block(self, number: int, outcomes: tuple[_Outcome, ...], state: _State) -> _Block:
        parent = self.blocks[number - 1].hash if number else "0x" + "00" * 32
        return _Block(
            number=number,
            hash=_hash(parent, number, self._fork),
            timestamp=self._genesis_time + BLOCK_SECONDS * number,
            base_fee=self._next_base_fee,
            outcomes=outcomes,
            state=state,
        )

    def _mine_block(self, *, deploy: bool = False, lose_code: bool = False) -> None:
        number = self.blocks[-1].number + 1
        state = self._state()
        if deploy or lose_code:
            state = replace(state, has_code=deploy, anchors={}, latest_root=None)
        base_fee = self._next_base_fee
        timestamp = self._genesis_time + BLOCK_SECONDS * number
        outcomes: list[_Outcome] = []
        while True:
            ready = [
                t
                for t in sorted(self.pool.values(), key=lambda t: t.sender != OTHER_ADDRESS)
                if (t.sender == OTHER_ADDRESS or t.nonce == state.nonce)
                and (base_fee is None or _max_fee(t.fees) >= base_fee)
            ]
            if not ready:
                break
            outcome, state = _execute(state, ready[0], number, timestamp)
            outcomes.append(outcome)
            del self.pool[ready[0].tx_hash]
        # Transactions whose nonce was used can never be mined: the pool forgets them.
        self.pool = {
            h: t for h, t in self.pool.items() if t.sender != DEV_ADDRESS or t.nonce >= state.nonce
        }
        self.blocks.append(self._block(number, tuple(outcomes), state))

    def _mined(self, tx_hash: str) -> tuple[_Block, _Outcome] | None:
        wanted = tx_hash.lower()
        for block in self.blocks:
            for outcome in block.outcomes:
                if outcome.tx.tx_hash == wanted:
                    return block, outcome
        return None

    def _pending_nonce(self) -> int:
        nonce = self._state().nonce
        while any(t.nonce == nonce and t.sender == DEV_ADDRESS for t in self.pool.values()):
            nonce += 1
        return nonce

    def _fees(self, floor: dict[str, int]) -> dict[str, int]:
        base_fee = self.blocks[-1].base_fee
        cap = self.max_fee_wei
        if base_fee is None:
            price = max(GWEI, floor.get("gasPrice", 0))
            return {"gasPrice": price if cap is None else min(price, cap)}
        if cap is not None and cap < base_fee:
            raise FeeCapError(
                f"the base fee ({base_fee / 1e9:g} gwei) is above DOCANCHOR_MAX_FEE_GWEI "
                f"({cap / 1e9:g} gwei); nothing is sent until it falls under the cap"
            )
        priority = max(DEFAULT_PRIORITY_FEE, floor.get("maxPriorityFeePerGas", 0))
        max_fee = max(2 * base_fee + priority, floor.get("maxFeePerGas", 0))
        if cap is not None and max_fee > cap:
            max_fee, priority = cap, min(priority, cap)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority}

    def _admit(self, tx: FakePrepared) -> None:
        """eth_sendRawTransaction, with the answers ChainClient.broadcast turns into errors."""
        if tx.tx_hash in self.pool or self._mined(tx.tx_hash) is not None:
            return  # "already known" (or mined: "nonce too low" for a known transaction)
        if tx.nonce < self._state().nonce:
            raise NonceTooLowError(f"the node rejected transaction {tx.tx_hash}: nonce too low")
        rival = next(
            (t for t in self.pool.values() if t.nonce == tx.nonce and t.sender == tx.sender), None
        )
        if rival is not None:
            factor = 100 + REPLACEMENT_BUMP_PERCENT
            if (
                _max_fee(tx.fees) * 100 < _max_fee(rival.fees) * factor
                or _priority_fee(tx.fees) * 100 < _priority_fee(rival.fees) * factor
            ):
                raise self.underpriced(tx.tx_hash)
            del self.pool[rival.tx_hash]
        self.pool[tx.tx_hash] = tx
        if self.automine:
            self._mine_block()


class FakeReader:
    """:class:`docanchor.service.ChainReader` over a :class:`FakeChain`, outside its script."""

    def __init__(self, chain: FakeChain) -> None:
        self._chain = chain

    @property
    def chain_id(self) -> int:
        return self._chain.chain_id

    def verify_identity(self) -> None:
        return None

    def head_number(self) -> int:
        return self._chain.blocks[-1].number

    def block_hash(self, number: int) -> str | None:
        return self._chain.canonical_hash(number)

    def get_anchor_at(self, contract: str, root: bytes) -> OnChainRecord | None:
        state = self._chain.blocks[-1].state
        if contract.lower() != self._chain.contract_address.lower() or not state.has_code:
            return None
        return state.anchors.get(bytes(root))

"""DocumentAnchor version 2 on a real Anvil: the contract refuses every history
that is not an extension of the latest checkpoint (log-v1 section 2).

Checkpoints and consistency proofs come from the project's own Merkle code
(:mod:`docanchor.merkle`, itself checked against the RFC 9162 reference, the
peer vectors and pymerkle in tests/unit). The contract is driven with web3
directly, not through the chain adapter, so that what is tested here is the
contract alone: transactions are sent from Anvil's unlocked development
accounts, revert data is decoded from the artifact's ABI.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError

from docanchor.contracts import load_artifact
from docanchor.errors import ProofError
from docanchor.hashing import leaf_hash
from docanchor.merkle import MerkleTree, verify_consistency
from tests.support.anvil import FIRST_DEV_ADDRESS, SECOND_DEV_ADDRESS, AnvilNode

ANCHORER_ROLE = keccak(text="ANCHORER_ROLE")
# Anvil's third development account: unlocked, never granted a role here.
OUTSIDER_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
ANCHORERS = {"deployer": FIRST_DEV_ADDRESS, "second anchorer": SECOND_DEV_ADDRESS}
# Enough gas for any refused call, so that web3 sends it without estimating
# (an estimate would fail first) and the revert happens in a mined block.
REFUSED_TX_GAS = 1_000_000


def leaves(count: int, *, salt: str = "log") -> list[bytes]:
    """``count`` distinct leaf hashes, the same for the same ``salt``."""
    return [leaf_hash(hashlib.sha256(f"{salt} {i}".encode()).digest() * 3) for i in range(count)]


# The honest log every test grows: 1,000 leaves, so every checkpoint below is a
# prefix of it. The trees are built once.
LOG = leaves(1000)
_TREES: dict[int, MerkleTree] = {}


def tree(size: int, log: list[bytes] = LOG) -> MerkleTree:
    if log is not LOG:
        return MerkleTree(log[:size])
    if size not in _TREES:
        _TREES[size] = MerkleTree(LOG[:size])
    return _TREES[size]


def root(size: int) -> bytes:
    return tree(size).root


def proof(old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 consistency proof of the honest log from ``old_size`` to ``new_size``."""
    return tree(new_size).consistency_proof(old_size)


@dataclass(frozen=True)
class Revert:
    """A decoded custom error (or Error/Panic) of the contract."""

    name: str
    args: tuple[Any, ...]


class Anchor:
    """One freshly deployed DocumentAnchor v2, driven with plain web3."""

    def __init__(self, anvil: AnvilNode) -> None:
        self.w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        artifact = load_artifact("DocumentAnchor")
        self.abi = artifact["abi"]
        factory = self.w3.eth.contract(abi=self.abi, bytecode=artifact["bytecode"])
        tx = factory.constructor().transact({"from": FIRST_DEV_ADDRESS})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt["status"] == 1
        self.address = receipt["contractAddress"]
        self.contract = self.w3.eth.contract(address=self.address, abi=self.abi)
        self._errors: dict[bytes, tuple[str, list[str]]] = {
            bytes.fromhex("08c379a0"): ("Error", ["string"]),
            bytes.fromhex("4e487b71"): ("Panic", ["uint256"]),
        }
        for item in self.abi:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self._errors[selector] = (item["name"], types)

    def grant(self, account: str) -> None:
        tx = self.contract.functions.grantRole(ANCHORER_ROLE, account).transact(
            {"from": FIRST_DEV_ADDRESS}
        )
        assert self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 1

    def anchor(self, root: bytes, size: int, consistency: list[bytes], sender: str) -> Any:
        """Sends anchor() and returns its mined receipt (asserting success)."""
        tx = self.contract.functions.anchor(root, size, consistency).transact({"from": sender})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt["status"] == 1, f"anchor({size}) reverted"
        return receipt

    def call_anchor(self, root: bytes, size: int, consistency: list[bytes], sender: str) -> Any:
        """anchor() as an eth_call on the latest state: its return value, nothing mined."""
        return self.contract.functions.anchor(root, size, consistency).call({"from": sender})

    def refusal(
        self, root: bytes, size: int, consistency: list[bytes], sender: str
    ) -> Revert | None:
        """The decoded revert of anchor() as an eth_call; None if it would succeed."""
        try:
            self.call_anchor(root, size, consistency, sender)
        except ContractLogicError as exc:
            return self.decode(exc.data)
        return None

    def send_refused(self, root: bytes, size: int, consistency: list[bytes], sender: str) -> int:
        """Sends anchor() with a fixed gas limit; returns the mined receipt's status."""
        tx = self.contract.functions.anchor(root, size, consistency).transact(
            {"from": sender, "gas": REFUSED_TX_GAS}
        )
        return int(self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"])

    def decode(self, data: Any) -> Revert:
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
        assert len(raw) >= 4, f"revert without an error selector: {raw.hex()}"
        name, types = self._errors[raw[:4]]
        values = abi_decode(types, raw[4:])
        return Revert(
            name,
            tuple(
                to_checksum_address(v) if t == "address" else v
                for t, v in zip(types, values, strict=True)
            ),
        )

    def latest(self) -> tuple[bytes, int, int]:
        got_root, size, seq = self.contract.functions.latest().call()
        return bytes(got_root), int(size), int(seq)

    def anchor_count(self) -> int:
        return int(self.contract.functions.anchorCount().call())

    def get_anchor(self, root: bytes) -> tuple[int, int, int, int, str]:
        seq, size, timestamp, block_number, anchorer = self.contract.functions.getAnchor(
            root
        ).call()
        return int(seq), int(size), int(timestamp), int(block_number), str(anchorer)


@pytest.fixture
def contract(anvil: AnvilNode) -> Iterator[Anchor]:
    """A fresh DocumentAnchor v2 whose role ANCHORER_ROLE is held by the
    deployer and by the second development account."""
    deployed = Anchor(anvil)
    deployed.grant(SECOND_DEV_ADDRESS)
    yield deployed


# --- the honest log --------------------------------------------------------------

HONEST_SIZES = [1, 2, 3, 4, 7, 8, 9, 16, 17, 100, 1000]


def test_latest_is_all_zero_before_the_first_anchor(contract: Anchor) -> None:
    assert contract.latest() == (bytes(32), 0, 0)
    assert contract.anchor_count() == 0


def test_an_honest_chain_of_checkpoints_is_accepted_and_latest_follows(
    contract: Anchor,
) -> None:
    previous = 0
    senders = list(ANCHORERS.values())
    for seq, size in enumerate(HONEST_SIZES):
        sender = senders[seq % 2]  # both anchorers take turns on the same log
        consistency = [] if previous == 0 else proof(previous, size)
        # The return value (eth_call on the same state) is the next seq.
        assert contract.call_anchor(root(size), size, consistency, sender) == seq
        receipt = contract.anchor(root(size), size, consistency, sender)

        assert contract.latest() == (root(size), size, seq)
        assert contract.anchor_count() == seq + 1
        block = contract.w3.eth.get_block(receipt["blockNumber"])
        assert contract.get_anchor(root(size)) == (
            seq,
            size,
            int(block["timestamp"]),
            int(receipt["blockNumber"]),
            sender,
        )
        (event,) = contract.contract.events.Anchored().process_receipt(receipt)
        assert event["args"]["seq"] == seq
        assert bytes(event["args"]["root"]) == root(size)
        assert event["args"]["treeSize"] == size
        assert event["args"]["anchorer"] == sender
        previous = size
    # Every earlier checkpoint keeps its record.
    for seq, size in enumerate(HONEST_SIZES):
        assert contract.get_anchor(root(size))[:2] == (seq, size)


def test_the_first_anchor_may_have_any_size_and_takes_an_empty_proof(contract: Anchor) -> None:
    contract.anchor(root(100), 100, [], FIRST_DEV_ADDRESS)
    assert contract.latest() == (root(100), 100, 0)
    contract.anchor(root(1000), 1000, proof(100, 1000), SECOND_DEV_ADDRESS)
    assert contract.latest() == (root(1000), 1000, 1)


@pytest.mark.parametrize("old_size", [1, 2, 3, 5, 6, 8, 13, 32, 33, 63])
def test_every_proof_from_one_checkpoint_agrees_with_the_merkle_core(
    anvil: AnvilNode, old_size: int
) -> None:
    """For every new size up to old_size + 40, the contract accepts the honest
    proof and refuses it with its last hash changed, without its last hash and
    with one hash too many (eth_call: nothing is mined)."""
    contract = Anchor(anvil)
    contract.anchor(root(old_size), old_size, [], FIRST_DEV_ADDRESS)
    for new_size in range(old_size + 1, old_size + 41):
        honest = proof(old_size, new_size)
        assert contract.call_anchor(root(new_size), new_size, honest, FIRST_DEV_ADDRESS) == 1
        refused = Revert("InconsistentHistory", (old_size, new_size))
        for broken in (
            [*honest[:-1], _flip(honest[-1], 0)],
            honest[:-1],
            [*honest, honest[-1]],
        ):
            got = contract.refusal(root(new_size), new_size, broken, FIRST_DEV_ADDRESS)
            assert got == refused, (old_size, new_size, len(broken))


# --- refused anchors, table-driven ----------------------------------------------------

# The log holds checkpoints at sizes 3 and LATEST (a power of two or not, since
# RFC 9162 verification differs); each row builds one anchor() call on top of it.
# NEXT is chosen so that both proofs have several hashes (5 from 6, 2 from 8).
NEXT = 21


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(changed)


def _changed_earlier_leaf(latest: int) -> tuple[bytes, int, list[bytes]]:
    # Leaf 1 (inside the anchored tree) altered; the proof is honest for the
    # altered log, so only the contract's check against its latest root catches it.
    other = list(LOG[:NEXT])
    other[1] = leaf_hash(b"forged" * 16)
    forged = MerkleTree(other)
    return forged.root, NEXT, forged.consistency_proof(latest)


def _reordered_leaves(latest: int) -> tuple[bytes, int, list[bytes]]:
    other = list(LOG[:NEXT])
    other[0], other[2] = other[2], other[0]
    forged = MerkleTree(other)
    return forged.root, NEXT, forged.consistency_proof(latest)


def _dropped_leaf(latest: int) -> tuple[bytes, int, list[bytes]]:
    other = [leaf for i, leaf in enumerate(LOG[: NEXT + 1]) if i != latest - 1]
    forged = MerkleTree(other)
    return forged.root, NEXT, forged.consistency_proof(latest)


@dataclass(frozen=True)
class Row:
    name: str
    call: Callable[[int], tuple[bytes, int, list[bytes]]]
    error: Callable[[int], Revert]


def _inconsistent(latest: int) -> Revert:
    return Revert("InconsistentHistory", (latest, NEXT))


REFUSALS = [
    Row("a changed earlier leaf", _changed_earlier_leaf, _inconsistent),
    Row("reordered earlier leaves", _reordered_leaves, _inconsistent),
    Row("a dropped earlier leaf", _dropped_leaf, _inconsistent),
    Row(
        "an honest proof with the root of another log",
        lambda m: (tree(NEXT, leaves(NEXT, salt="other")).root, NEXT, proof(m, NEXT)),
        _inconsistent,
    ),
    Row(
        "a proof from another old size",
        lambda m: (root(NEXT), NEXT, proof(m - 1, NEXT)),
        _inconsistent,
    ),
    Row(
        "a shrinking size",
        lambda m: (root(m - 1), m - 1, []),
        lambda m: Revert("TreeSizeNotGrowing", (m, m - 1)),
    ),
    Row(
        "an equal size with another root",
        lambda m: (tree(m, leaves(m, salt="other")).root, m, []),
        lambda m: Revert("TreeSizeNotGrowing", (m, m)),
    ),
    Row(
        "a zero size",
        lambda m: (root(NEXT), 0, []),
        lambda m: Revert("TreeSizeNotGrowing", (m, 0)),
    ),
    Row("an empty proof", lambda m: (root(NEXT), NEXT, []), _inconsistent),
    Row(
        "a proof without its last hash",
        lambda m: (root(NEXT), NEXT, proof(m, NEXT)[:-1]),
        _inconsistent,
    ),
    Row(
        "a proof without its first hash",
        lambda m: (root(NEXT), NEXT, proof(m, NEXT)[1:]),
        _inconsistent,
    ),
    Row(
        "a proof padded with a zero hash",
        lambda m: (root(NEXT), NEXT, [*proof(m, NEXT), bytes(32)]),
        _inconsistent,
    ),
    Row(
        "a proof padded with a copy of its last hash",
        lambda m: (root(NEXT), NEXT, [*proof(m, NEXT), proof(m, NEXT)[-1]]),
        _inconsistent,
    ),
    Row(
        "a proof with the old root prepended",
        lambda m: (root(NEXT), NEXT, [root(m), *proof(m, NEXT)]),
        _inconsistent,
    ),
    Row(
        "a proof with one bit flipped in its first hash",
        lambda m: (root(NEXT), NEXT, [_flip(proof(m, NEXT)[0], 7), *proof(m, NEXT)[1:]]),
        _inconsistent,
    ),
    Row(
        "a proof with one bit flipped in its last hash",
        lambda m: (root(NEXT), NEXT, [*proof(m, NEXT)[:-1], _flip(proof(m, NEXT)[-1], 255)]),
        _inconsistent,
    ),
    Row(
        "a proof with its first two hashes swapped",
        lambda m: (root(NEXT), NEXT, [proof(m, NEXT)[1], proof(m, NEXT)[0], *proof(m, NEXT)[2:]]),
        _inconsistent,
    ),
    Row(
        "the new root with one bit flipped",
        lambda m: (_flip(root(NEXT), 0), NEXT, proof(m, NEXT)),
        _inconsistent,
    ),
    Row(
        "the old root given as the new one",
        lambda m: (root(m), NEXT, proof(m, NEXT)),
        lambda m: Revert("RootAlreadyAnchored", (root(m), 1)),
    ),
    Row(
        "an earlier checkpoint's root",
        lambda m: (root(3), NEXT, proof(m, NEXT)),
        lambda m: Revert("RootAlreadyAnchored", (root(3), 0)),
    ),
    Row(
        "a zero root",
        lambda m: (bytes(32), NEXT, proof(m, NEXT)),
        lambda m: Revert("ZeroRoot", ()),
    ),
]


@pytest.mark.parametrize("latest", [6, 8], ids=["latest size 6", "latest size 8"])
@pytest.mark.parametrize("row", REFUSALS, ids=[row.name for row in REFUSALS])
def test_a_history_that_does_not_extend_the_latest_checkpoint_is_refused(
    anvil: AnvilNode, row: Row, latest: int
) -> None:
    contract = Anchor(anvil)
    contract.grant(SECOND_DEV_ADDRESS)
    contract.anchor(root(3), 3, [], FIRST_DEV_ADDRESS)
    contract.anchor(root(latest), latest, proof(3, latest), SECOND_DEV_ADDRESS)
    before = (contract.latest(), contract.anchor_count())
    bad_root, bad_size, bad_proof = row.call(latest)
    if row.error(latest).name == "InconsistentHistory":
        # The Merkle core refuses the same proof: contract and core agree.
        with pytest.raises(ProofError):
            verify_consistency(latest, bad_size, bad_proof, root(latest), bad_root)

    # Every holder of the role is refused alike, the deployer included, and a
    # transaction that is mined anyway changes nothing.
    for sender in ANCHORERS.values():
        assert contract.refusal(bad_root, bad_size, bad_proof, sender) == row.error(latest)
        assert contract.send_refused(bad_root, bad_size, bad_proof, sender) == 0
        assert (contract.latest(), contract.anchor_count()) == before
    if bad_root != bytes(32) and row.error(latest).name != "RootAlreadyAnchored":
        assert contract.get_anchor(bad_root)[4] == "0x" + "0" * 40

    # The honest extension is still accepted afterwards.
    contract.anchor(root(NEXT), NEXT, proof(latest, NEXT), FIRST_DEV_ADDRESS)
    assert contract.latest() == (root(NEXT), NEXT, 2)


FIRST_ANCHOR_REFUSALS = [
    Row(
        "a non-empty proof on the first anchor",
        lambda m: (root(4), 4, proof(2, 4)),
        lambda m: Revert("InconsistentHistory", (0, 4)),
    ),
    Row(
        "a zero size on the first anchor",
        lambda m: (root(4), 0, []),
        lambda m: Revert("TreeSizeNotGrowing", (0, 0)),
    ),
    Row(
        "a zero root on the first anchor",
        lambda m: (bytes(32), 4, []),
        lambda m: Revert("ZeroRoot", ()),
    ),
]


@pytest.mark.parametrize("row", FIRST_ANCHOR_REFUSALS, ids=[r.name for r in FIRST_ANCHOR_REFUSALS])
def test_a_malformed_first_anchor_is_refused(contract: Anchor, row: Row) -> None:
    bad_root, bad_size, bad_proof = row.call(0)
    for sender in ANCHORERS.values():
        assert contract.refusal(bad_root, bad_size, bad_proof, sender) == row.error(0)
        assert contract.send_refused(bad_root, bad_size, bad_proof, sender) == 0
    assert contract.latest() == (bytes(32), 0, 0)
    assert contract.anchor_count() == 0


@pytest.mark.parametrize("anchored", [0, 4], ids=["first anchor", "after a checkpoint"])
def test_a_caller_without_the_role_is_refused(contract: Anchor, anchored: int) -> None:
    if anchored:
        contract.anchor(root(anchored), anchored, [], FIRST_DEV_ADDRESS)
    consistency = proof(anchored, 7) if anchored else []
    assert contract.refusal(root(7), 7, consistency, OUTSIDER_ADDRESS) == Revert(
        "AccessControlUnauthorizedAccount", (OUTSIDER_ADDRESS, ANCHORER_ROLE)
    )
    assert contract.send_refused(root(7), 7, consistency, OUTSIDER_ADDRESS) == 0
    assert contract.anchor_count() == (1 if anchored else 0)


def test_a_revoked_anchorer_is_refused_and_its_records_keep_its_address(
    contract: Anchor,
) -> None:
    contract.anchor(root(2), 2, [], SECOND_DEV_ADDRESS)
    tx = contract.contract.functions.revokeRole(ANCHORER_ROLE, SECOND_DEV_ADDRESS).transact(
        {"from": FIRST_DEV_ADDRESS}
    )
    assert contract.w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 1
    assert contract.refusal(root(5), 5, proof(2, 5), SECOND_DEV_ADDRESS) == Revert(
        "AccessControlUnauthorizedAccount", (SECOND_DEV_ADDRESS, ANCHORER_ROLE)
    )
    assert contract.get_anchor(root(2))[4] == SECOND_DEV_ADDRESS
    contract.anchor(root(5), 5, proof(2, 5), FIRST_DEV_ADDRESS)
    assert contract.latest() == (root(5), 5, 1)


def test_role_answers_follow_grants_revocations_and_renunciations(contract: Anchor) -> None:
    # hasRole(ANCHORER_ROLE, ...) is answered from the anchorer registry slot;
    # it must agree with every way AccessControl changes a role.
    has_role = contract.contract.functions.hasRole
    registered = contract.contract.functions.registeredAnchorers
    assert has_role(ANCHORER_ROLE, SECOND_DEV_ADDRESS).call()
    assert not has_role(ANCHORER_ROLE, OUTSIDER_ADDRESS).call()
    assert has_role(bytes(32), FIRST_DEV_ADDRESS).call()  # DEFAULT_ADMIN_ROLE
    assert not has_role(bytes(32), SECOND_DEV_ADDRESS).call()
    contract.anchor(root(3), 3, [], SECOND_DEV_ADDRESS)

    tx = contract.contract.functions.renounceRole(ANCHORER_ROLE, SECOND_DEV_ADDRESS).transact(
        {"from": SECOND_DEV_ADDRESS}
    )
    assert contract.w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 1
    assert not has_role(ANCHORER_ROLE, SECOND_DEV_ADDRESS).call()
    assert contract.refusal(root(4), 4, proof(3, 4), SECOND_DEV_ADDRESS) == Revert(
        "AccessControlUnauthorizedAccount", (SECOND_DEV_ADDRESS, ANCHORER_ROLE)
    )

    contract.grant(SECOND_DEV_ADDRESS)
    assert has_role(ANCHORER_ROLE, SECOND_DEV_ADDRESS).call()
    # A second grant keeps the registry entry: no duplicate, the same index.
    assert registered().call() == [FIRST_DEV_ADDRESS, SECOND_DEV_ADDRESS]
    contract.anchor(root(4), 4, proof(3, 4), SECOND_DEV_ADDRESS)
    assert contract.get_anchor(root(4))[4] == SECOND_DEV_ADDRESS
    assert contract.get_anchor(root(3))[4] == SECOND_DEV_ADDRESS
    assert contract.anchor_count() == 2

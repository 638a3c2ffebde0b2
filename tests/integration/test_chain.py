"""The chain adapter and the DocumentAnchor contract on a real Anvil devnet.

Most tests share the session devnet and deploy a fresh contract each
(``deployed``); the restart and chain-id tests start Anvil nodes of their own.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from eth_account import Account

from docanchor.chain import ChainClient, connect_chain
from docanchor.config import ANVIL_DEV_PRIVATE_KEY, Settings
from docanchor.contracts import load_artifact
from docanchor.devnet import ANVIL_BIN_ENV, anvil_argv, find_anvil, free_port
from docanchor.errors import (
    ChainError,
    ChainIdentityError,
    ChainResetError,
    ConfigError,
    ContractRevertError,
    InputError,
    NodeUnavailableError,
)
from docanchor.hashing import leaf_hash
from docanchor.merkle import MerkleTree
from docanchor.onchain import OnChainCheckpoint, OnChainRecord
from tests.support.anvil import (
    FIRST_DEV_ADDRESS,
    SECOND_DEV_ADDRESS,
    SECOND_DEV_PRIVATE_KEY,
    AnvilNode,
)

# The limit the project commits to for an anchor() after the first, with a
# consistency proof of 20 hashes (total transaction gas).
ANCHOR_GAS_LIMIT = 100_000

# An honest test log: every checkpoint anchored after a first one is a prefix.
LOG = [leaf_hash(hashlib.sha256(f"chain test {i}".encode()).digest() * 3) for i in range(64)]


def root_of(label: str) -> bytes:
    """A distinct, non-zero 32-byte root per label (SHA-256 of the label)."""
    return hashlib.sha256(label.encode()).digest()


def checkpoint(size: int) -> bytes:
    """The root of the first ``size`` leaves of LOG."""
    return MerkleTree(LOG[:size]).root


def extend(client: ChainClient, size: int) -> tuple[bytes, int, list[bytes]]:
    """The arguments of anchor() that grow the client's contract to the first
    ``size`` leaves of LOG: root, size and the proof from its latest checkpoint."""
    latest = client.latest()
    tree = MerkleTree(LOG[:size])
    return tree.root, size, [] if latest is None else tree.consistency_proof(latest.tree_size)


def second_client(anvil: AnvilNode, address: str) -> ChainClient:
    return ChainClient(
        rpc_url=anvil.rpc_url, contract_address=address, private_key=SECOND_DEV_PRIVATE_KEY
    )


@contextmanager
def automine_off(anvil: AnvilNode) -> Iterator[None]:
    anvil.rpc("evm_setAutomine", False)
    try:
        yield
    finally:
        anvil.rpc("evm_setAutomine", True)


# --- deploy and read back ------------------------------------------------------


def test_deploy_puts_the_artifact_code_on_chain(
    anvil: AnvilNode, deployed: tuple[ChainClient, str]
) -> None:
    client, address = deployed
    assert client.chain_id == 31337
    assert client.contract_address == address
    assert client.has_code(address)
    code = anvil.rpc("eth_getCode", address, "latest")
    assert code == load_artifact()["deployedBytecode"]
    assert client.anchor_count() == 0
    assert client.latest() is None
    assert client.list_anchorers() == [FIRST_DEV_ADDRESS]
    assert client.is_anchorer(FIRST_DEV_ADDRESS)
    assert not client.is_anchorer(SECOND_DEV_ADDRESS)


def test_anchor_is_recorded_with_its_block(
    anvil: AnvilNode, deployed: tuple[ChainClient, str]
) -> None:
    client, _ = deployed
    root = root_of("first")
    receipt = client.anchor(root, 7, [])

    block = anvil.rpc("eth_getBlockByNumber", hex(receipt.block_number), False)
    assert isinstance(block, dict)
    assert receipt.seq == 0
    assert receipt.tree_size == 7
    assert receipt.anchorer == FIRST_DEV_ADDRESS
    assert receipt.block_hash == block["hash"]
    assert receipt.timestamp == int(block["timestamp"], 16)
    assert client.get_anchor(root) == OnChainRecord(
        seq=0,
        tree_size=7,
        timestamp=int(block["timestamp"], 16),
        block_number=int(block["number"], 16),
        anchorer=FIRST_DEV_ADDRESS,
    )
    assert client.anchor_count() == 1
    assert client.latest() == OnChainCheckpoint(root=root, tree_size=7, seq=0)
    assert client.block_hash(receipt.block_number) == block["hash"]
    assert client.block_hash(receipt.block_number + 10_000) is None
    assert (
        client.confirmations(receipt.block_number)
        == client.head_number() - receipt.block_number + 1
    )
    assert client.confirmations(client.head_number() + 5) == 0
    assert client.get_anchor(root_of("never anchored")) is None


def test_get_anchor_at_reads_any_contract_address(deployed: tuple[ChainClient, str]) -> None:
    client, address = deployed
    root = root_of("read elsewhere")
    client.anchor(root, 3, [])
    reader = ChainClient(rpc_url=client.rpc_url)  # no key, no contract configured
    record = reader.get_anchor_at(address.lower(), root)
    assert record is not None and record.tree_size == 3
    assert reader.get_anchor_at(address, root_of("unknown")) is None
    # An address without code: nothing anchored there.
    assert reader.get_anchor_at("0x" + "12" * 20, root) is None


def test_a_version_1_deployment_stays_readable(anvil: AnvilNode) -> None:
    """Receipts anchored in a version 1 contract are checked with getAnchor,
    which both versions share; latest() exists only in version 2."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    v1 = load_artifact("DocumentAnchorV1")
    factory = w3.eth.contract(abi=v1["abi"], bytecode=v1["bytecode"])
    created = w3.eth.wait_for_transaction_receipt(
        factory.constructor().transact({"from": FIRST_DEV_ADDRESS}), timeout=30
    )
    address = created["contractAddress"]
    assert anvil.rpc("eth_getCode", address, "latest") == v1["deployedBytecode"]
    contract = w3.eth.contract(address=address, abi=v1["abi"])
    roots = [root_of("v1 batch 1"), root_of("v1 batch 2")]  # independent trees in v1
    for size, root in enumerate(roots, start=3):
        mined = w3.eth.wait_for_transaction_receipt(
            contract.functions.anchor(root, size).transact({"from": FIRST_DEV_ADDRESS}),
            timeout=30,
        )
        assert mined["status"] == 1

    reader = ChainClient(rpc_url=anvil.rpc_url)
    record = reader.get_anchor_at(address, roots[1])
    assert record is not None
    assert (record.seq, record.tree_size, record.anchorer) == (1, 4, FIRST_DEV_ADDRESS)
    configured = ChainClient(rpc_url=anvil.rpc_url, contract_address=address)
    assert configured.get_anchor(roots[0]) == reader.get_anchor_at(address, roots[0])
    assert configured.anchor_count() == 2
    with pytest.raises(ChainError, match="not a DocumentAnchor version 2"):
        configured.latest()


# --- refusals, by their contract error names ---------------------------------------


def test_refusals_revert_with_named_readable_errors(
    deployed: tuple[ChainClient, str],
) -> None:
    client, _ = deployed
    first = client.anchor(*extend(client, 2))
    root = checkpoint(2)

    with pytest.raises(ContractRevertError) as dup:
        client.send_anchor(root, 3, [])
    assert dup.value.error_name == "RootAlreadyAnchored"
    assert root.hex() in dup.value.message and f"seq {first.seq}" in dup.value.message

    with pytest.raises(ContractRevertError) as zero_root:
        client.send_anchor(bytes(32), 3, [])
    assert zero_root.value.error_name == "ZeroRoot"

    for size in (0, 1, 2):
        with pytest.raises(ContractRevertError) as not_growing:
            client.send_anchor(root_of(f"size {size}"), size, [])
        assert not_growing.value.error_name == "TreeSizeNotGrowing"
        assert not_growing.value.message == (
            f"tree size {size} does not grow the log: the latest anchored checkpoint "
            "already has tree size 2"
        )

    # A proof of another history: leaf 0 changed.
    forged = MerkleTree([root_of("forged leaf"), *LOG[1:5]])
    with pytest.raises(ContractRevertError) as inconsistent:
        client.send_anchor(forged.root, 5, forged.consistency_proof(2))
    assert inconsistent.value.error_name == "InconsistentHistory"
    assert inconsistent.value.message == (
        "the consistency proof does not show that the tree of size 5 extends the anchored "
        "checkpoint of size 2; the contract refuses a history that drops, changes or "
        "reorders an anchored leaf"
    )
    with pytest.raises(ContractRevertError) as no_proof:
        client.send_anchor(checkpoint(5), 5, [])
    assert no_proof.value.error_name == "InconsistentHistory"

    assert client.anchor_count() == 1  # none of the refused calls changed state
    assert client.latest() == OnChainCheckpoint(root=root, tree_size=2, seq=0)
    assert client.anchor(*extend(client, 5)).seq == 1


def test_a_first_anchor_takes_an_empty_proof_and_a_size_of_at_least_one(
    deployed: tuple[ChainClient, str],
) -> None:
    client, _ = deployed
    with pytest.raises(ContractRevertError) as with_proof:
        client.send_anchor(checkpoint(4), 4, MerkleTree(LOG[:4]).consistency_proof(2))
    assert with_proof.value.error_name == "InconsistentHistory"
    assert with_proof.value.message == (
        "the first checkpoint (tree size 4) takes an empty consistency proof; "
        "nothing is anchored yet"
    )
    with pytest.raises(ContractRevertError) as zero_size:
        client.send_anchor(checkpoint(4), 0, [])
    assert zero_size.value.error_name == "TreeSizeNotGrowing"
    assert zero_size.value.message == "the tree size must be at least 1, got 0"
    assert client.latest() is None
    # Any size is a valid first checkpoint; all 64 bits of it are kept.
    client.anchor(root_of("huge"), 2**64 - 1, [])
    record = client.get_anchor(root_of("huge"))
    assert record is not None and record.tree_size == 2**64 - 1
    assert client.latest() == OnChainCheckpoint(root=root_of("huge"), tree_size=2**64 - 1, seq=0)


def test_malformed_arguments_are_input_errors(deployed: tuple[ChainClient, str]) -> None:
    client, _ = deployed
    with pytest.raises(InputError):
        client.send_anchor(b"\x01" * 31, 1, [])
    with pytest.raises(InputError):
        client.send_anchor(root_of("too big"), 2**64, [])
    with pytest.raises(InputError, match="consistency proof hash 1 is not 32 bytes"):
        client.send_anchor(root_of("short hash"), 3, [bytes(32), bytes(31)])
    with pytest.raises(InputError, match="sequence of 32-byte hashes"):
        client.send_anchor(root_of("bytes proof"), 3, bytes(32))
    with pytest.raises(InputError, match="at most 128 hashes"):
        client.send_anchor(root_of("long proof"), 3, [bytes(32)] * 129)
    with pytest.raises(InputError):
        client.grant_anchorer("0x1234")
    assert client.anchor_count() == 0


def test_roles_grant_revoke_and_contiguous_seq_across_anchorers(
    anvil: AnvilNode, deployed: tuple[ChainClient, str]
) -> None:
    admin, address = deployed
    other = second_client(anvil, address)

    with pytest.raises(ContractRevertError) as refused:
        other.send_anchor(*extend(other, 1))
    assert refused.value.error_name == "AccessControlUnauthorizedAccount"
    assert SECOND_DEV_ADDRESS in refused.value.message and "ANCHORER_ROLE" in refused.value.message

    # A non-admin cannot grant either.
    with pytest.raises(ContractRevertError) as not_admin:
        other.grant_anchorer(SECOND_DEV_ADDRESS)
    assert not_admin.value.error_name == "AccessControlUnauthorizedAccount"

    admin.grant_anchorer(SECOND_DEV_ADDRESS)
    assert admin.list_anchorers() == [FIRST_DEV_ADDRESS, SECOND_DEV_ADDRESS]

    # Both anchorers grow the same log.
    receipts = [
        admin.anchor(*extend(admin, 1)),
        other.anchor(*extend(other, 2)),
        admin.anchor(*extend(admin, 3)),
        other.anchor(*extend(other, 4)),
    ]
    assert [r.seq for r in receipts] == [0, 1, 2, 3]
    assert [r.anchorer for r in receipts] == [FIRST_DEV_ADDRESS, SECOND_DEV_ADDRESS] * 2
    record = admin.get_anchor(checkpoint(4))
    assert record is not None and record.anchorer == SECOND_DEV_ADDRESS and record.seq == 3
    assert other.latest() == OnChainCheckpoint(root=checkpoint(4), tree_size=4, seq=3)

    # The second anchorer is held to the log like the deployer.
    forged = MerkleTree([*LOG[:3], root_of("changed leaf 3"), *LOG[4:6]])
    with pytest.raises(ContractRevertError) as inconsistent:
        other.send_anchor(forged.root, 6, forged.consistency_proof(4))
    assert inconsistent.value.error_name == "InconsistentHistory"

    admin.revoke_anchorer(SECOND_DEV_ADDRESS)
    assert admin.list_anchorers() == [FIRST_DEV_ADDRESS]
    with pytest.raises(ContractRevertError) as revoked:
        other.send_anchor(*extend(other, 5))
    assert revoked.value.error_name == "AccessControlUnauthorizedAccount"
    # Records made before the revocation keep naming their anchorer.
    again = admin.get_anchor(checkpoint(2))
    assert again is not None and again.anchorer == SECOND_DEV_ADDRESS

    # Granting again reuses the registry entry: the list does not grow duplicates.
    admin.grant_anchorer(SECOND_DEV_ADDRESS)
    assert admin.list_anchorers() == [FIRST_DEV_ADDRESS, SECOND_DEV_ADDRESS]
    assert other.anchor(*extend(other, 5)).seq == 4


def test_anchor_with_a_20_hash_proof_stays_within_the_gas_budget(
    deployed: tuple[ChainClient, str],
) -> None:
    client, _ = deployed
    # From 2^20 - 2 to 2^20 leaves: 20 hashes, 18 of them left siblings of
    # both paths (two SHA-256 calls each), the costliest shape of that length.
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2**20)]
    old = MerkleTree(leaves[: 2**20 - 2])
    new = MerkleTree(leaves)
    proof = new.consistency_proof(old.size)
    assert len(proof) == 20
    first = client.anchor(old.root, old.size, [])
    steady = client.anchor(new.root, new.size, proof)
    assert steady.gas_used <= ANCHOR_GAS_LIMIT, steady.gas_used
    assert first.gas_used <= ANCHOR_GAS_LIMIT, first.gas_used
    assert client.latest() == OnChainCheckpoint(root=new.root, tree_size=2**20, seq=1)


# --- transactions, before and after mining ---------------------------------------


def test_send_anchor_returns_the_hash_before_mining(
    anvil: AnvilNode, deployed: tuple[ChainClient, str]
) -> None:
    client, _ = deployed
    root = root_of("pending")
    with automine_off(anvil):
        tx_hash = client.send_anchor(root, 9, [])
        assert tx_hash.startswith("0x") and len(tx_hash) == 66
        assert client.transaction_known(tx_hash)
        assert client.transaction_receipt(tx_hash) is None
        assert client.get_anchor(root) is None
        with pytest.raises(ChainError, match="not mined within"):
            client.wait_for_anchor(tx_hash, timeout=0.3)
        anvil.rpc("evm_mine")
    receipt = client.wait_for_anchor(tx_hash, timeout=10)
    assert receipt.tx_hash == tx_hash and receipt.tree_size == 9
    mined = client.transaction_receipt(tx_hash)
    assert mined is not None and mined.succeeded and mined.block_number == receipt.block_number
    assert not client.transaction_known("0x" + "ab" * 32)
    assert client.transaction_receipt("0x" + "ab" * 32) is None


def test_prepared_transaction_is_known_only_after_broadcast(
    anvil: AnvilNode, deployed: tuple[ChainClient, str]
) -> None:
    client, _ = deployed
    prepared = client.prepare_anchor(checkpoint(3), 3, [])
    assert prepared.consistency == ()
    assert not client.transaction_known(prepared.tx_hash)
    assert client.broadcast(prepared) == prepared.tx_hash
    assert client.wait_for_anchor(prepared.tx_hash, timeout=10).tree_size == 3
    # The proof travels in the transaction as given.
    root, size, proof = extend(client, 6)
    after = client.prepare_anchor(root, size, proof)
    assert after.consistency == tuple(proof) and len(proof) == 4
    tx = anvil.rpc("eth_getTransactionByHash", client.broadcast(after))
    assert isinstance(tx, dict) and all(h.hex() in tx["input"] for h in proof)
    assert client.wait_for_anchor(after.tx_hash, timeout=10).seq == 1


def test_a_mined_revert_is_reported_with_its_error_name(
    anvil: AnvilNode, deployed: tuple[ChainClient, str]
) -> None:
    client, _ = deployed
    root = root_of("raced")
    with automine_off(anvil):
        winner = client.send_anchor(root, 1, [])
        # Estimated before the first is mined, so it passes estimation and
        # reverts in the block, behind the first.
        loser = client.send_anchor(root, 2, [])
        anvil.rpc("evm_mine")
    assert client.wait_for_anchor(winner, timeout=10).tree_size == 1
    with pytest.raises(ContractRevertError) as reverted:
        client.wait_for_anchor(loser, timeout=10)
    assert reverted.value.error_name == "RootAlreadyAnchored"
    outcome = client.transaction_receipt(loser)
    assert outcome is not None and not outcome.succeeded


def test_two_first_checkpoints_racing_leave_one_and_the_other_is_inconsistent(
    anvil: AnvilNode, deployed: tuple[ChainClient, str]
) -> None:
    client, _ = deployed
    with automine_off(anvil):
        # Both were prepared while nothing was anchored, so both carry the
        # empty proof of a first checkpoint; only one can be the first.
        winner = client.send_anchor(checkpoint(3), 3, [])
        loser = client.send_anchor(root_of("another log"), 5, [])
        anvil.rpc("evm_mine")
    assert client.wait_for_anchor(winner, timeout=10).seq == 0
    with pytest.raises(ContractRevertError) as reverted:
        client.wait_for_anchor(loser, timeout=10)
    assert reverted.value.error_name == "InconsistentHistory"
    assert "size 5 extends the anchored checkpoint of size 3" in reverted.value.message
    assert client.latest() == OnChainCheckpoint(root=checkpoint(3), tree_size=3, seq=0)


class FlakyProxy:
    """An HTTP proxy in front of Anvil that breaks the connection of the first
    ``eth_sendRawTransaction``: before forwarding it (``forward=False``, the
    node never sees it) or after (``forward=True``, only the answer is lost)."""

    def __init__(self, upstream: str, *, forward: bool) -> None:
        proxy = self
        self.upstream = upstream
        self.forward = forward
        self.sends = 0  # eth_sendRawTransaction requests that reached the proxy

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if b"eth_sendRawTransaction" in body:
                    proxy.sends += 1
                    if proxy.sends == 1:
                        if proxy.forward:
                            proxy._relay(body)
                        self.close_connection = True
                        return  # no answer at all: the client sees a dropped connection
                answer = proxy._relay(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _relay(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data: bytes = response.read()
            return data

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("forward", [False, True], ids=["lost-request", "lost-answer"])
def test_a_dropped_send_is_retried_once_and_never_duplicated(
    anvil: AnvilNode, deployed: tuple[ChainClient, str], forward: bool
) -> None:
    _, address = deployed
    root = root_of(f"flaky {forward}")
    with FlakyProxy(anvil.rpc_url, forward=forward) as proxy:
        client = ChainClient(
            rpc_url=proxy.url, contract_address=address, private_key=ANVIL_DEV_PRIVATE_KEY
        )
        start = client.head_number()
        tx_hash = client.send_anchor(root, 3, [])
        receipt = client.wait_for_anchor(tx_hash, timeout=10)
    # Lost request: the node did not know the transaction, so the same bytes
    # went again. Lost answer: the node knew it, so nothing was sent again.
    assert proxy.sends == (1 if forward else 2)
    assert receipt.tree_size == 3
    reader = ChainClient(rpc_url=anvil.rpc_url, contract_address=address)
    assert [e.tx_hash for e in reader.scan_anchored(start + 1, root=root)] == [tx_hash]


# --- events ------------------------------------------------------------------------


def test_scan_finds_every_anchor_in_order(deployed: tuple[ChainClient, str]) -> None:
    client, _ = deployed
    start = client.head_number()
    receipts = [client.anchor(*extend(client, i + 1)) for i in range(6)]
    for step in (1, 2, 5000):
        events = client.scan_anchored(start, step=step)
        assert [e.seq for e in events] == [r.seq for r in receipts] == list(range(6))
        assert [e.root for e in events] == [checkpoint(i + 1) for i in range(6)]
        assert [e.tx_hash for e in events] == [r.tx_hash for r in receipts]
        assert [e.block_hash for e in events] == [r.block_hash for r in receipts]
        assert [e.tree_size for e in events] == list(range(1, 7))
        assert {e.anchorer for e in events} == {FIRST_DEV_ADDRESS}
    only = client.scan_anchored(start, root=checkpoint(4))
    assert [e.seq for e in only] == [3]
    bounded = client.scan_anchored(receipts[1].block_number, receipts[2].block_number)
    assert [e.seq for e in bounded] == [1, 2]


# --- failures of the world -----------------------------------------------------------


def test_unreachable_node_fails_fast_with_node_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = ChainClient(rpc_url=url, request_timeout=2.0)
    started = time.monotonic()
    with pytest.raises(NodeUnavailableError) as failure:
        _ = client.chain_id
    assert time.monotonic() - started < 5.0
    assert failure.value.message.startswith(f"cannot reach the Ethereum node at {url}")


def test_an_address_without_code_is_a_chain_reset(anvil: AnvilNode) -> None:
    client = ChainClient(rpc_url=anvil.rpc_url, contract_address="0x" + "34" * 20)
    assert not client.contract_has_code()
    with pytest.raises(ChainResetError, match="no contract"):
        client.get_anchor(root_of("x"))
    with pytest.raises(ConfigError, match="no DocumentAnchor contract"):
        ChainClient(rpc_url=anvil.rpc_url).anchor_count()


def test_poa_middleware_still_reads_blocks(anvil: AnvilNode) -> None:
    client = ChainClient(rpc_url=anvil.rpc_url, poa=True)
    head = client.head_number()
    block = anvil.rpc("eth_getBlockByNumber", hex(head), False)
    assert isinstance(block, dict) and client.block_hash(head) == block["hash"]


def test_node_error_answers_become_chain_errors(deployed: tuple[ChainClient, str]) -> None:
    client, _ = deployed
    poor = ChainClient(
        rpc_url=client.rpc_url,
        contract_address=client.contract_address,
        private_key="0x" + "11" * 32,  # an account with no ether
    )
    client.grant_anchorer(poor.account_address or "")
    with pytest.raises(ChainError) as failure:
        poor.send_anchor(root_of("no funds"), 1, [])
    assert not isinstance(failure.value, ContractRevertError)
    assert "insufficient" in failure.value.message.lower(), failure.value.message


def test_expected_chain_id_is_enforced(anvil: AnvilNode) -> None:
    client = ChainClient(rpc_url=anvil.rpc_url, expected_chain_id=1)
    with pytest.raises(ChainError, match="is on chain 31337, not on the expected chain 1"):
        _ = client.chain_id


def test_state_survives_a_kill_and_restart(tmp_path: Path) -> None:
    with AnvilNode(tmp_path / "state.json") as node:
        client = ChainClient(rpc_url=node.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY)
        deployment = client.deploy()
        sent_at = time.time()
        receipt = client.anchor(*extend(client, 11))
        before = client.get_anchor(checkpoint(11))
        # Wait for a periodic dump that includes the anchor, then crash hard.
        node.wait_for_state_dump(receipt.tx_hash[2:], after=sent_at)
        node.restart(hard=True)

        again = ChainClient(
            rpc_url=node.rpc_url,
            contract_address=deployment.address,
            private_key=ANVIL_DEV_PRIVATE_KEY,
        )
        assert again.has_code(deployment.address)
        assert again.get_anchor(checkpoint(11)) == before
        assert again.block_hash(receipt.block_number) == receipt.block_hash
        assert again.anchor_count() == 1
        assert again.latest() == OnChainCheckpoint(root=checkpoint(11), tree_size=11, seq=0)
        assert again.anchor(*extend(again, 12)).seq == 1


# --- building clients from settings ------------------------------------------------------


def test_connect_chain_uses_the_dev_key_only_on_chain_31337(
    anvil: AnvilNode, tmp_path: Path
) -> None:
    local = connect_chain(Settings(rpc_url=anvil.rpc_url, data_dir=tmp_path))
    assert local.account_address == FIRST_DEV_ADDRESS

    with AnvilNode(tmp_path / "other.json", chain_id=1337) as other:
        with pytest.raises(ConfigError) as refused:
            connect_chain(Settings(rpc_url=other.rpc_url, data_dir=tmp_path))
        assert refused.value.message == (
            "DOCANCHOR_PRIVATE_KEY or DOCANCHOR_KEYSTORE is required on chain 1337; "
            "the development key is accepted only on chain 31337"
        )
        # Naming the development key explicitly does not get around it.
        with pytest.raises(ConfigError, match="only on chain 31337"):
            connect_chain(
                Settings(
                    rpc_url=other.rpc_url, data_dir=tmp_path, private_key=ANVIL_DEV_PRIVATE_KEY
                )
            )
        with pytest.raises(ConfigError, match="only on chain 31337"):
            ChainClient(rpc_url=other.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY).deploy()
        # A read-only client needs no key at all.
        assert (
            connect_chain(
                Settings(rpc_url=other.rpc_url, data_dir=tmp_path), require_signer=False
            ).chain_id
            == 1337
        )
        # Any other key works there.
        own = connect_chain(
            Settings(rpc_url=other.rpc_url, data_dir=tmp_path, private_key=SECOND_DEV_PRIVATE_KEY)
        )
        deployment = own.deploy()
        assert deployment.chain_id == 1337
        assert own.anchor(root_of("on 1337"), 1, []).anchorer == SECOND_DEV_ADDRESS


def test_connect_chain_reads_the_recorded_deployment_of_its_chain(
    anvil: AnvilNode, deployed: tuple[ChainClient, str], tmp_path: Path
) -> None:
    _, address = deployed
    record = {"address": address, "chain_id": 31337, "tx_hash": "0x" + "00" * 32, "block_number": 1}
    (tmp_path / "deployment.json").write_text(json.dumps(record), encoding="utf-8")
    client = connect_chain(Settings(rpc_url=anvil.rpc_url, data_dir=tmp_path))
    assert client.contract_address == address
    assert client.anchor_count() == 0

    # A record of another chain: this data dir belongs to that chain, and a node
    # of another one is refused, naming both (never silently used without it).
    (tmp_path / "deployment.json").write_text(
        json.dumps({**record, "chain_id": 5}), encoding="utf-8"
    )
    with pytest.raises(ChainIdentityError, match="is on chain 31337, but the deployment"):
        connect_chain(Settings(rpc_url=anvil.rpc_url, data_dir=tmp_path))


def test_connect_chain_decrypts_a_keystore(anvil: AnvilNode, tmp_path: Path) -> None:
    keystore = tmp_path / "key.json"
    # A cheap KDF keeps the test fast; decryption reads the KDF from the file.
    encrypted = Account.encrypt(SECOND_DEV_PRIVATE_KEY, "s3cret", kdf="pbkdf2", iterations=1000)
    keystore.write_text(json.dumps(encrypted))
    good = Settings(
        rpc_url=anvil.rpc_url, data_dir=tmp_path, keystore=keystore, keystore_password="s3cret"
    )
    assert connect_chain(good).account_address == SECOND_DEV_ADDRESS

    wrong = good.model_copy(update={"keystore_password": "nope"})
    with pytest.raises(ConfigError) as failure:
        connect_chain(wrong)
    assert "nope" not in failure.value.message and "decrypted" in failure.value.message

    missing = good.model_copy(update={"keystore_password": None})
    with pytest.raises(ConfigError, match="DOCANCHOR_KEYSTORE_PASSWORD"):
        connect_chain(missing)


def test_fee_cap_limits_the_max_fee(anvil: AnvilNode, deployed: tuple[ChainClient, str]) -> None:
    _, address = deployed
    cap_gwei = 3.0
    client = ChainClient(
        rpc_url=anvil.rpc_url,
        contract_address=address,
        private_key=ANVIL_DEV_PRIVATE_KEY,
        max_fee_gwei=cap_gwei,
    )
    receipt = client.anchor(root_of("capped"), 1, [])
    tx = anvil.rpc("eth_getTransactionByHash", receipt.tx_hash)
    assert isinstance(tx, dict)
    assert int(tx["type"], 16) == 2
    assert int(tx["maxFeePerGas"], 16) <= int(cap_gwei * 10**9)
    assert int(tx["maxPriorityFeePerGas"], 16) <= int(tx["maxFeePerGas"], 16)


def test_client_repr_never_shows_the_key(anvil: AnvilNode) -> None:
    client = ChainClient(rpc_url=anvil.rpc_url, private_key=SECOND_DEV_PRIVATE_KEY)
    assert SECOND_DEV_PRIVATE_KEY[2:] not in repr(client)
    assert SECOND_DEV_ADDRESS in repr(client)


# --- the devnet launcher ------------------------------------------------------------------


def test_devnet_argv_persists_state_on_localhost(tmp_path: Path) -> None:
    binary = tmp_path / "anvil"
    assert anvil_argv(binary, port=8545, state_path=tmp_path / "s.json", silent=True) == [
        str(binary),
        "--host",
        "127.0.0.1",
        "--port",
        "8545",
        "--state",
        str(tmp_path / "s.json"),
        "--state-interval",
        "1",
        "--chain-id",
        "31337",
        "--silent",
    ]
    with pytest.raises(ConfigError):
        anvil_argv(binary, port=0, state_path=tmp_path / "s.json")


def test_find_anvil_order_and_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "my-anvil"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o755)
    assert find_anvil({ANVIL_BIN_ENV: str(fake)}) == fake
    with pytest.raises(ConfigError, match=ANVIL_BIN_ENV):
        find_anvil({ANVIL_BIN_ENV: str(tmp_path / "missing")})
    # From this checkout: the native binary of node_modules, not the Node wrapper.
    found = find_anvil({"PATH": ""}, cwd=tmp_path)
    assert found.is_file() and "node_modules" in found.parts and ".bin" not in found.parts

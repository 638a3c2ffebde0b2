"""The transaction manager on a real Anvil: stuck, underpriced, dropped and replaced
transactions, "nonce too low", the fee cap and a reorganisation.

Each test deploys a contract of its own on a module devnet whose mining and
base fee the tests change. Nothing waits for a fixed timeout: a pass waits
at most ``pending_wait`` for its transaction and then decides.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docanchor.chain import ChainClient
from docanchor.config import ANVIL_DEV_PRIVATE_KEY
from docanchor.errors import NonceTooLowError
from docanchor.presenters import batch_json
from docanchor.service import BatchRecord, DocAnchorService, TxPolicy
from docanchor.store import Batch, Store
from tests.support.anvil import FIRST_DEV_ADDRESS, AnvilNode

ENTITY = "20131370998"
GWEI = 10**9


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    with AnvilNode(tmp_path_factory.mktemp("txm-anvil") / "state.json") as anvil:
        yield anvil


@pytest.fixture
def automine(node: AnvilNode) -> Iterator[None]:
    node.rpc("evm_setAutomine", True)
    yield
    node.rpc("evm_setAutomine", True)
    node.rpc("anvil_setNextBlockBaseFeePerGas", hex(GWEI))
    node.rpc("evm_mine")


def make_service(
    node: AnvilNode,
    database_url: str,
    *,
    max_fee_gwei: float | None = None,
    bump_after: float = 3600.0,
) -> DocAnchorService:
    deployer = ChainClient(rpc_url=node.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY)
    address = deployer.deploy().address
    client = ChainClient(
        rpc_url=node.rpc_url,
        contract_address=address,
        private_key=ANVIL_DEV_PRIVATE_KEY,
        max_fee_gwei=max_fee_gwei,
        retry_deadline=5.0,
    )
    policy = TxPolicy(bump_percent=20, max_attempts=5, bump_after=bump_after, pending_wait=0.3)
    return DocAnchorService(store=Store(database_url), chain=client, tx_policy=policy)


def register_some(service: DocAnchorService, label: str, n: int = 3) -> None:
    digests = [hashlib.sha256(f"{label} {i} {time.time_ns()}".encode()).digest() for i in range(n)]
    service.register_many(service.prepare_registrations(digests, entity_ruc=ENTITY))


def only_batch(service: DocAnchorService) -> Batch:
    (batch,) = service.store.batches()
    return batch


def attempts(service: DocAnchorService) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = batch_json(BatchRecord.of(only_batch(service)))["attempts"]
    return result


def tx(node: AnvilNode, tx_hash: str) -> dict[str, Any] | None:
    found = node.rpc("eth_getTransactionByHash", tx_hash)
    assert found is None or isinstance(found, dict)
    return found


def anchors_on_chain(service: DocAnchorService) -> int:
    client = service.chain
    assert isinstance(client, ChainClient)
    return client.anchor_count()


def test_a_stuck_transaction_is_replaced_with_a_higher_fee_and_the_replacement_adopted(
    node: AnvilNode, database_url: str, automine: None
) -> None:
    service = make_service(node, database_url, bump_after=0.0)
    register_some(service, "stuck")
    node.rpc("evm_setAutomine", False)
    started = time.monotonic()
    actions = [r.action for r in service.anchor_all()]
    assert actions == ["sealed", "sent"]
    first = attempts(service)[0]
    assert tx(node, first["tx_hash"]) is not None  # in the pool, not mined

    assert [r.action for r in service.anchor_all()] == ["sent"]
    log = attempts(service)
    assert [e["kind"] for e in log] == ["sent", "bump"]
    second = log[1]
    assert second["nonce"] == first["nonce"]
    for key in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert second["fees"][key] >= first["fees"][key] * 120 // 100
    assert tx(node, first["tx_hash"]) is None  # the node replaced it in its pool

    node.rpc("evm_mine")
    reports = service.anchor_all()
    assert [r.action for r in reports] == ["adopted"]
    batch = only_batch(service)
    assert batch.status == "anchored"
    assert batch.tx_hash == second["tx_hash"]
    assert anchors_on_chain(service) == 1
    assert time.monotonic() - started < 60  # never the old 120 s timeout


def test_a_transaction_priced_under_a_risen_base_fee_is_replaced_at_once(
    node: AnvilNode, database_url: str, automine: None
) -> None:
    service = make_service(node, database_url)  # no bump for age: only the price decides
    register_some(service, "underpriced")
    node.rpc("evm_setAutomine", False)
    service.anchor_all()
    first = attempts(service)[0]
    risen = 4 * first["fees"]["maxFeePerGas"]
    node.rpc("anvil_setNextBlockBaseFeePerGas", hex(risen))
    node.rpc("evm_mine")  # the first transaction cannot enter this block
    assert node.rpc("eth_getTransactionReceipt", first["tx_hash"]) is None

    service.anchor_all()
    log = attempts(service)
    assert len(log) == 2
    assert log[1]["kind"] in ("bump", "resent")  # still in the pool, or dropped by it
    assert log[1]["nonce"] == first["nonce"]
    assert log[1]["fees"]["maxFeePerGas"] > risen * 7 // 8  # includable in the next block
    node.rpc("evm_mine")
    service.anchor_all()
    batch = only_batch(service)
    assert batch.status == "anchored"
    assert batch.tx_hash == log[1]["tx_hash"]
    assert anchors_on_chain(service) == 1


def test_a_dropped_transaction_is_sent_again_with_its_nonce(
    node: AnvilNode, database_url: str, automine: None
) -> None:
    service = make_service(node, database_url)
    register_some(service, "dropped")
    node.rpc("evm_setAutomine", False)
    service.anchor_all()
    first = attempts(service)[0]
    node.rpc("anvil_dropTransaction", first["tx_hash"])
    assert tx(node, first["tx_hash"]) is None
    node.rpc("evm_setAutomine", True)

    assert [r.action for r in service.anchor_all()] == ["anchored"]
    log = attempts(service)
    assert log[-1]["nonce"] == first["nonce"]
    assert only_batch(service).status == "anchored"
    assert anchors_on_chain(service) == 1


def test_a_transaction_replaced_by_another_sender_is_signed_again_with_a_fresh_nonce(
    node: AnvilNode, database_url: str, automine: None
) -> None:
    service = make_service(node, database_url)
    register_some(service, "replaced")
    node.rpc("evm_setAutomine", False)
    service.anchor_all()
    first = attempts(service)[0]
    # Another sender of the same account: a transfer with the same nonce, better paid.
    fees = first["fees"]
    node.rpc(
        "eth_sendTransaction",
        {
            "from": FIRST_DEV_ADDRESS,
            "to": FIRST_DEV_ADDRESS,
            "value": "0x1",
            "nonce": hex(first["nonce"]),
            "maxFeePerGas": hex(fees["maxFeePerGas"] * 3),
            "maxPriorityFeePerGas": hex(fees["maxPriorityFeePerGas"] * 3),
        },
    )
    node.rpc("evm_mine")
    assert node.rpc("eth_getTransactionReceipt", first["tx_hash"]) is None
    node.rpc("evm_setAutomine", True)

    assert [r.action for r in service.anchor_all()] == ["anchored"]
    log = attempts(service)
    assert [e["kind"] for e in log] == ["sent", "renonce"]
    assert log[1]["nonce"] == first["nonce"] + 1
    assert only_batch(service).tx_hash == log[1]["tx_hash"]
    assert anchors_on_chain(service) == 1


def test_nonce_too_low_is_named_and_the_pass_signs_again_with_a_fresh_nonce(
    node: AnvilNode, database_url: str, automine: None
) -> None:
    service = make_service(node, database_url)
    client = service.chain
    assert isinstance(client, ChainClient)
    register_some(service, "nonce")
    used = client.account_nonce()
    # Another sender used the account between our signing and our sending.
    batch = service.seal()
    assert batch is not None and batch.checkpoint is not None
    prepared = client.prepare_anchor(batch.root, batch.checkpoint.tree_size, [])
    assert prepared.nonce == used
    node.rpc("eth_sendTransaction", {"from": FIRST_DEV_ADDRESS, "to": FIRST_DEV_ADDRESS})
    # Mined (not only pending), so that the node refuses the nonce outright rather
    # than taking our transaction as a replacement of the pending one.
    deadline = time.monotonic() + 10
    while int(node.rpc("eth_getTransactionCount", FIRST_DEV_ADDRESS, "latest"), 16) <= used:
        assert time.monotonic() < deadline, "the other sender's transaction was not mined"
        time.sleep(0.05)
    with pytest.raises(NonceTooLowError, match="nonce too low"):
        client.broadcast(prepared)
    assert client.get_anchor(batch.root) is None

    # The service, told to reuse that nonce (a bump of a transaction whose nonce was
    # taken meanwhile), records the refusal and signs again with a fresh nonce.
    report = service._send(only_batch(service), kind="bump", nonce=used, fee_floor=prepared.fees)
    assert report.action == "anchored"
    log = attempts(service)
    assert [e["kind"] for e in log] == ["bump", "renonce"]
    assert "nonce too low" in (log[0]["error"] or "").lower()
    assert log[1]["nonce"] == used + 1 and log[1]["error"] is None
    assert anchors_on_chain(service) == 1


def test_under_the_fee_cap_the_batch_waits_sealed_and_is_sent_once_the_fee_falls(
    node: AnvilNode, database_url: str, automine: None
) -> None:
    service = make_service(node, database_url, max_fee_gwei=5.0)
    register_some(service, "capped")
    node.rpc("anvil_setNextBlockBaseFeePerGas", hex(20 * GWEI))
    node.rpc("evm_mine")
    pending_before = node.rpc("eth_getTransactionCount", FIRST_DEV_ADDRESS, "pending")

    assert [r.action for r in service.anchor_all()] == ["sealed", "waiting"]
    batch = only_batch(service)
    assert batch.status == "sealed"
    assert batch.tx_hash is None
    assert batch.last_error is not None and "waiting for the base fee" in batch.last_error
    assert "DOCANCHOR_MAX_FEE_GWEI (5 gwei)" in batch.last_error
    assert node.rpc("eth_getTransactionCount", FIRST_DEV_ADDRESS, "pending") == pending_before
    assert attempts(service) == []

    node.rpc("anvil_setNextBlockBaseFeePerGas", hex(GWEI))
    node.rpc("evm_mine")
    assert [r.action for r in service.anchor_all()] == ["anchored"]
    batch = only_batch(service)
    assert batch.status == "anchored" and batch.last_error is None
    assert anchors_on_chain(service) == 1


def test_an_anchor_lost_in_a_reorganisation_is_sealed_again_and_reported_reanchored(
    node: AnvilNode, database_url: str, automine: None, tmp_path: Path
) -> None:
    service = make_service(node, database_url)
    register_some(service, "reorg")
    snapshot = node.rpc("evm_snapshot")
    service.run_once()
    lost = only_batch(service)
    assert lost.status == "confirmed"
    node.rpc("evm_revert", snapshot)
    node.rpc("anvil_mine", "0x3")

    reports = service.confirm()
    assert [r.action for r in reports] == ["reanchor"]
    batch = only_batch(service)
    assert batch.status == "sealed"  # at once: no longer counted as confirmed
    assert batch.last_error is not None and "reorganisation" in batch.last_error
    shown = batch_json(BatchRecord.of(batch))
    assert shown["reanchored"] is True
    assert shown["attempts"][-1]["kind"] == "reorg"
    assert shown["attempts"][-1]["lost_tx_hash"] == lost.tx_hash

    actions = [r.action for r in service.anchor_all()]
    assert actions == ["reanchored"]
    assert only_batch(service).status == "anchored"
    assert anchors_on_chain(service) == 1

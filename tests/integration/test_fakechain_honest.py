"""The fake chain against a real Anvil: one script, the same observations.

``tests/unit/test_service_confirmations.py`` trusts ``tests/support/fakechain.py`` to
behave like ``ChainClient`` in front of a node. Here the same short script
(anchor and confirm, a pending transaction, a dropped one sent again, a
reorganisation that takes a checkpoint away and its re-anchoring, a refused
estimate) runs through the real service on the fake and on the session's
Anvil, and what the service records and reports must be equal once hashes,
times and absolute numbers are put aside. If the client or the contract
changes behaviour, this test fails until the fake follows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from docanchor.chain import ChainClient
from docanchor.config import ANVIL_DEV_PRIVATE_KEY
from docanchor.errors import ContractRevertError, NonceTooLowError
from docanchor.receipt import Receipt, TrustedDeployment, trust_policy
from docanchor.service import (
    ChainPort,
    ChainReader,
    DocAnchorService,
    TxPolicy,
    receipt_verdict,
    tx_log_of,
    verify_receipt_on_chain,
)
from docanchor.store import Store
from tests.support.anvil import AnvilNode
from tests.support.clock import FakeClock
from tests.support.dbfixtures import fresh_database_url
from tests.support.fakechain import FakeChain

ENTITY = "20131370998"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Devnet(Protocol):
    """What the script does to a chain from outside the service."""

    def head(self) -> int: ...
    def mine(self, blocks: int) -> None: ...
    def automine(self, on: bool) -> None: ...
    def drop(self, tx_hash: str) -> None: ...
    def snapshot(self) -> Any: ...
    def revert_and_mine(self, snapshot: Any, blocks: int) -> None: ...


class FakeDevnet:
    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain

    def head(self) -> int:
        return self.chain.blocks[-1].number

    def mine(self, blocks: int) -> None:
        self.chain.mine(blocks)

    def automine(self, on: bool) -> None:
        self.chain.automine = on

    def drop(self, tx_hash: str) -> None:
        self.chain.drop(tx_hash)

    def snapshot(self) -> Any:
        return self.head()

    def revert_and_mine(self, snapshot: Any, blocks: int) -> None:
        self.chain.reorg(self.head() - int(snapshot), new_blocks=blocks)


class AnvilDevnet:
    def __init__(self, node: AnvilNode) -> None:
        self.node = node

    def head(self) -> int:
        return int(str(self.node.rpc("eth_blockNumber")), 16)

    def mine(self, blocks: int) -> None:
        self.node.rpc("anvil_mine", hex(blocks))

    def automine(self, on: bool) -> None:
        self.node.rpc("evm_setAutomine", on)

    def drop(self, tx_hash: str) -> None:
        self.node.rpc("anvil_dropTransaction", tx_hash)

    def snapshot(self) -> Any:
        return self.node.rpc("evm_snapshot")

    def revert_and_mine(self, snapshot: Any, blocks: int) -> None:
        assert self.node.rpc("evm_revert", snapshot) is True
        self.mine(blocks)


def without_hashes(text: str | None) -> str | None:
    """``text`` with transaction and block hashes (which differ between the two) masked."""
    return None if text is None else re.sub(r"0x[0-9a-f]{64}", "0x…", text)


def digests(label: str, n: int) -> list[bytes]:
    return [hashlib.sha256(f"honest {label} {i}".encode()).digest() for i in range(n)]


def verdict(chain: ChainPort, reader: ChainReader, receipt: Receipt, sha256: bytes) -> str:
    trust = trust_policy([TrustedDeployment(chain.chain_id, chain.contract_address)])
    result = verify_receipt_on_chain(
        receipt, reader, document_sha256=sha256, required_confirmations=2, trust=trust
    )
    return receipt_verdict(result, receipt, node_chain_id=chain.chain_id, trust=trust)


def run_script(
    service: DocAnchorService, devnet: Devnet, reader: ChainReader
) -> list[dict[str, Any]]:
    """The script; after each step, what the service reported and recorded, made
    comparable (numbers relative to the start, hashes and times left out)."""
    chain = service.chain
    start_head = devnet.head()
    start_nonce = chain.account_nonce()
    first, second = digests("first", 3), digests("second", 2)
    seen: list[dict[str, Any]] = []

    def observe(step: str, actions: list[str], **extra: Any) -> None:
        batches = sorted(service.store.batches(), key=lambda b: b.id or 0)
        seen.append(
            {
                "step": step,
                "actions": actions,
                "head": devnet.head() - start_head,
                "batches": [
                    {
                        "status": b.status,
                        "seq": b.seq,
                        "size": b.size,
                        "tree_size": b.tree_size,
                        "block": None if b.block_number is None else b.block_number - start_head,
                        "anchorer": b.anchorer,
                        "chain_id": b.chain_id,
                        "anchor_attempts": b.anchor_attempts,
                        "last_error": without_hashes(b.last_error),
                        "attempts": [
                            {
                                "kind": e["kind"],
                                "nonce": None
                                if e.get("nonce") is None
                                else e["nonce"] - start_nonce,
                                "fees": sorted(e.get("fees") or {}),
                                "error": without_hashes(e.get("error")),
                            }
                            for e in tx_log_of(b)
                        ],
                    }
                    for b in batches
                ],
                **extra,
            }
        )

    def receipt_of(sha256: bytes) -> Receipt:
        (view,) = service.lookup(sha256)
        return service.receipt(view)

    def register(items: list[bytes]) -> None:
        service.register_many(service.prepare_registrations(items, entity_ruc=ENTITY))

    register(first)
    observe("anchor", [r.action for r in service.run_once(now=NOW)])
    devnet.mine(1)
    observe(
        "confirm",
        [r.action for r in service.confirm(now=NOW)],
        verdict=verdict(chain, reader, receipt_of(first[0]), first[0]),
    )

    snapshot = devnet.snapshot()
    register(second)
    devnet.automine(False)
    observe("send, not mined", [r.action for r in service.anchor_all(now=NOW)])
    observe("pending", [r.action for r in service.anchor_all(now=NOW)])
    (pending,) = [e for e in tx_log_of(service.store.batches()[-1]) if e.get("tx_hash")]
    devnet.drop(pending["tx_hash"])
    observe("dropped, sent again", [r.action for r in service.anchor_all(now=NOW)])
    devnet.mine(1)
    devnet.automine(True)
    observe("mined", [r.action for r in service.run_once(now=NOW)])
    devnet.mine(1)
    lost = receipt_of(second[0])
    observe(
        "confirmed",
        [r.action for r in service.confirm(now=NOW)],
        verdict=verdict(chain, reader, lost, second[0]),
    )

    devnet.revert_and_mine(snapshot, 3)
    observe(
        "reorganised",
        [r.action for r in service.confirm(now=NOW)],
        lost=verdict(chain, reader, lost, second[0]),
    )
    observe("re-anchored", [r.action for r in service.anchor_all(now=NOW)])
    devnet.mine(1)
    observe(
        "re-confirmed",
        [r.action for r in service.confirm(now=NOW)],
        verdict=verdict(chain, reader, receipt_of(second[0]), second[0]),
        lost=verdict(chain, reader, lost, second[0]),
    )

    # An estimate the contract refuses: the same error name on both.
    refused = ""
    try:
        chain.prepare_anchor(bytes.fromhex(service.store.batches()[0].root or ""), 3, [])
    except ContractRevertError as exc:
        refused = exc.error_name or ""
    latest = chain.latest()
    head, head_time = service.chain_head()
    anchored = [b for b in service.store.batches() if b.block_number is not None]
    observe(
        "read back",
        [],
        refused=refused,
        latest=None if latest is None else (latest.tree_size, latest.seq),
        pending_nonce_gap=chain.account_nonce() - start_nonce,
        chain_head=head - start_head,
        head_time_after_anchors=head_time is not None
        and all(head_time >= (b.anchor_timestamp or 0) for b in anchored),
        anchor_times=[
            chain.block_timestamp(b.block_number or 0) == b.anchor_timestamp for b in anchored
        ],
    )

    # A transaction signed with a nonce the account already used: "nonce too low".
    register(digests("third", 2))
    third = service.seal(now=NOW)
    assert third is not None and third.checkpoint is not None
    tree_size = third.checkpoint.tree_size
    _, _, proof = service.consistency(5, tree_size)
    stale = chain.prepare_anchor(third.root, tree_size, proof, nonce=start_nonce)
    try:
        chain.broadcast(stale)
        stale_answer = "accepted"
    except NonceTooLowError:
        stale_answer = "nonce too low"
    observe("stale nonce", [], answer=stale_answer, fees=sorted(stale.fees))
    observe("third", [r.action for r in service.run_once(now=NOW)])
    return seen


def policy() -> TxPolicy:
    return TxPolicy(bump_percent=20, max_attempts=5, bump_after=3600.0, pending_wait=0.3)


@pytest.fixture
def fresh_anvil_state(anvil: AnvilNode) -> Iterator[AnvilNode]:
    """The session devnet, mining on its own again afterwards whatever happened."""
    try:
        yield anvil
    finally:
        anvil.rpc("evm_setAutomine", True)


def test_the_fake_chain_and_anvil_give_the_service_the_same_story(
    fresh_anvil_state: AnvilNode,
    deployed: tuple[ChainClient, str],
    database_url: str,
    tmp_path: Path,
) -> None:
    node = fresh_anvil_state
    _, address = deployed
    client = ChainClient(
        rpc_url=node.rpc_url, contract_address=address, private_key=ANVIL_DEV_PRIVATE_KEY
    )
    real = DocAnchorService(
        store=Store(database_url), chain=client, confirmations=2, tx_policy=policy()
    )
    devnet = AnvilDevnet(node)
    start = devnet.head()
    on_anvil = run_script(real, devnet, client)

    # At the same height, so that block numbers in messages agree too.
    fake = FakeChain(start_block=start)
    with fresh_database_url("sqlite", tmp_path / "fake") as url:
        (tmp_path / "fake").mkdir(exist_ok=True)
        # Nothing mines on the fake while the service polls: its waits take no time.
        faked = DocAnchorService(
            store=Store(url),
            chain=fake,
            confirmations=2,
            tx_policy=policy(),
            clock=FakeClock(NOW),
        )
        on_fake = run_script(faked, FakeDevnet(fake), fake.reader())

    for real_step, fake_step in zip(on_anvil, on_fake, strict=True):
        shown = json.dumps({"anvil": real_step, "fake": fake_step}, indent=1)
        assert fake_step == real_step, shown
    # The script did what it says: the dropped transaction was sent again, a
    # reorganisation took the second checkpoint away, and its re-anchoring is valid
    # (the receipt issued before it is not), on both.
    steps = {step["step"]: step for step in on_anvil}
    assert steps["dropped, sent again"]["actions"] == ["sent"]
    assert steps["mined"]["actions"] == ["adopted"]
    assert steps["reorganised"]["actions"] == ["reanchor"]
    assert steps["re-anchored"]["actions"] == ["reanchored"]
    # The head's time and each anchoring block's are read from the node.
    assert steps["read back"]["head_time_after_anchors"] is True
    assert steps["read back"]["anchor_times"] == [True, True]
    assert steps["re-confirmed"]["verdict"] == "valid"
    assert steps["re-confirmed"]["lost"] == "not_valid"
    assert steps["read back"]["refused"] == "TreeSizeNotGrowing"
    assert steps["stale nonce"]["answer"] == "nonce too low"
    assert steps["third"]["actions"] == ["anchored"]

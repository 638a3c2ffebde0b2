"""The transaction manager, confirmations and reorganisations, table-driven on a fake chain.

Each row of ``SCENARIOS`` is a script: chain events (mined blocks, a
reorganisation, a dropped or replaced transaction, a failing RPC call, ...),
then one call of the real service over a real store (SQLite, and PostgreSQL
when ``DOCANCHOR_TEST_DATABASE_URL`` is set), then what must hold: the
reports' actions, every batch's status and ``tx_log`` kinds, the error raised
or recorded, the roots on chain, and the verdict of a receipt checked against
the chain. Only the chain is fake (``tests/support/fakechain.py``); the same kind of
script on a real Anvil is in ``tests/integration/test_tx_manager.py``, and
``tests/integration/test_fakechain_honest.py`` keeps the fake in step with it.

After every step, whatever the row says, the service's records must agree
with the chain (every anchored or confirmed batch of this deployment is the
chain's record of its root, in a block that is still canonical, with enough
confirmations when confirmed; no root twice), and every fault the row
scripted must have been met.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from docanchor.errors import (
    ChainError,
    ChainIdentityError,
    ChainResetError,
    ContractRevertError,
    DocAnchorError,
    FeeCapError,
    NodeUnavailableError,
)
from docanchor.receipt import Receipt, TrustedDeployment, trust_policy
from docanchor.service import (
    DocAnchorService,
    TxPolicy,
    WaitProgress,
    receipt_verdict,
    tx_log_of,
    verify_receipt_on_chain,
)
from docanchor.store import Batch, Store
from tests.support.clock import FakeClock
from tests.support.fakechain import FAKE_CONTRACT, GWEI, OTHER_ADDRESS, FakeChain

ENTITY = "20131370998"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


# --- the world a script acts on ---------------------------------------------------------


@dataclass
class World:
    store: Store
    fake: FakeChain
    service: DocAnchorService
    clock: FakeClock  # the service's: time moves only when the script moves it
    groups: list[list[bytes]] = field(default_factory=list)  # documents, one group a batch
    kept: Receipt | None = None  # the first receipt of batch 0 that had an anchor
    progress: list[WaitProgress] = field(default_factory=list)

    def batches(self) -> list[Batch]:
        return sorted(self.store.batches(), key=lambda b: b.id or 0)

    def batch(self, index: int) -> Batch:
        return self.batches()[index]

    def last_tx(self, index: int = 0) -> dict[str, Any]:
        sent = [e for e in tx_log_of(self.batch(index)) if e.get("tx_hash")]
        return sent[-1]

    def root(self, index: int = 0) -> bytes:
        root = self.batch(index).root
        assert root is not None
        return bytes.fromhex(root)


@dataclass(frozen=True)
class Event:
    """One scripted thing that happens before a step's call."""

    name: str
    act: Callable[[World], object]

    def __repr__(self) -> str:
        return self.name


def register(n: int) -> Event:
    def act(w: World) -> None:
        label = len(w.groups)
        digests = [hashlib.sha256(f"doc {label}.{i}".encode()).digest() for i in range(n)]
        w.groups.append(digests)
        w.service.register_many(w.service.prepare_registrations(digests, entity_ruc=ENTITY))

    return Event(f"register({n})", act)


def mine(blocks: int = 1) -> Event:
    return Event(f"mine({blocks})", lambda w: w.fake.mine(blocks))


def reorg(depth: int, *, reinclude: bool = False) -> Event:
    return Event(
        f"reorg({depth}, reinclude={reinclude})",
        lambda w: w.fake.reorg(depth, reinclude=reinclude),
    )


def automine(on: bool) -> Event:
    def act(w: World) -> None:
        w.fake.automine = on

    return Event(f"automine({on})", act)


def later(seconds: float) -> Event:
    def act(w: World) -> None:
        w.clock.advance(seconds)

    return Event(f"later({seconds})", act)


def base_fee(gwei: int) -> Event:
    def act(w: World) -> None:
        w.fake.set_base_fee(gwei * GWEI)
        w.fake.mine()

    return Event(f"base_fee({gwei} gwei)", act)


def drop_last() -> Event:
    return Event("drop_last", lambda w: w.fake.drop(w.last_tx()["tx_hash"]))


def foreign_same_nonce() -> Event:
    """Another sender of the anchoring account replaces our pending transaction."""
    return Event("foreign_same_nonce", lambda w: w.fake.send_foreign(nonce=w.last_tx()["nonce"]))


def foreign_anchor(size_delta: int = 0, *, of: int | None = 0, mine: bool = True) -> Event:
    """Another anchorer anchors batch ``of``'s root (with its size + ``size_delta``), or,
    with ``of=None``, a root of another log."""

    def act(w: World) -> None:
        if of is None:
            w.fake.anchor_foreign(
                hashlib.sha256(b"another log").digest(), 1 + size_delta, mine=mine
            )
            return
        batch = w.batch(of)
        assert batch.tree_size is not None
        w.fake.anchor_foreign(w.root(of), batch.tree_size + size_delta, mine=mine)

    return Event(f"foreign_anchor(size{size_delta:+d}, of={of}, mine={mine})", act)


def fail(method: str, error: BaseException, times: int = 1) -> Event:
    return Event(
        f"fail({method}, {type(error).__name__} x{times})",
        lambda w: w.fake.fail(method, error, times),
    )


def lose_answer(error: BaseException) -> Event:
    return Event(f"lose_answer({type(error).__name__})", lambda w: w.fake.lose_answer(error))


def when(method: str, call: int, what: Event) -> Event:
    return Event(
        f"when({method} call {call}: {what.name})",
        lambda w: w.fake.when(method, call, lambda: what.act(w)),
    )


def serve_chain(chain_id: int) -> Event:
    return Event(f"serve_chain({chain_id})", lambda w: w.fake.serve_chain(chain_id))


def lose_contract() -> Event:
    return Event("lose_contract", lambda w: w.fake.lose_contract())


def forget_logs() -> Event:
    def act(w: World) -> None:
        w.fake.forget_logs = True

    return Event("forget_logs", act)


def edit_batch(name: str, **fields: Any) -> Event:
    """What an older version (or a crash) left in the database."""

    def act(w: World) -> None:
        batch = w.batch(0)
        assert batch.id is not None
        w.store.update_batch(batch.id, **fields)

    return Event(f"edit_batch({name})", act)


def redeploy() -> Event:
    """A new deployment on the same chain: the service is rebuilt for it (wiring's job)."""

    def act(w: World) -> None:
        w.fake = FakeChain(contract_address="0x" + "cd" * 20)
        w.service = DocAnchorService(
            store=w.store,
            chain=w.fake,
            confirmations=w.service.confirmations,
            tx_policy=w.service.tx_policy,
            clock=w.clock,
        )

    return Event("redeploy", act)


def reset_and_redeploy_at_same_address() -> Event:
    """The chain was reset (a day later) and the contract deployed again by the same
    account at the same nonce, so at the address recorded before the reset."""

    def act(w: World) -> None:
        w.fake = FakeChain(contract_address=FAKE_CONTRACT, genesis_time=1_790_000_000 + 86_400)
        w.service = DocAnchorService(
            store=w.store,
            chain=w.fake,
            confirmations=w.service.confirmations,
            tx_policy=w.service.tx_policy,
            clock=w.clock,
        )

    return Event("redeploy", act)


# --- the table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    do: Sequence[Event] = ()
    run: str = "run_once"  # run_once, anchor_all, confirm, wait, wait_now, anchor_first
    actions: Sequence[str] | None = None  # the reports' actions, in order
    status: Sequence[str] | None = None  # every batch's status, oldest first
    kinds: Sequence[Sequence[str]] | None = None  # every batch's tx_log kinds
    raises: type[DocAnchorError] | None = None
    error: str | None = None  # in the error raised, else in batch 0's last_error
    anchors: int | None = None  # roots the contract holds
    attempts: int | None = None  # batch 0's anchor_attempts
    verdict: str | None = None  # a receipt of batch 0's first document, made now
    kept: str | None = None  # the first anchored receipt of batch 0, checked now
    check: Callable[[World], None] | None = None  # anything else the row asserts


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: Sequence[Step]
    confirmations: int = 1
    max_fee_gwei: int | None = None
    bump_after: float = 3600.0
    max_attempts: int = 5
    pending_wait: float = 0.0  # > 0 where a row needs the pass to poll (on the fake clock)
    legacy: bool = False  # a node without EIP-1559: no base fee, gasPrice


def same_bytes_resent(w: World) -> None:
    (entry,) = tx_log_of(w.batch(0))
    assert w.batch(0).tx_hash == entry["tx_hash"]


def bumped_fees(w: World) -> None:
    first, second = tx_log_of(w.batch(0))[:2]
    assert second["nonce"] == first["nonce"]
    for key in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert second["fees"][key] >= first["fees"][key] * 120 // 100


def bumped_gas_price(w: World) -> None:
    first, second = tx_log_of(w.batch(0))[:2]
    assert set(first["fees"]) == {"gasPrice"} and second["nonce"] == first["nonce"]
    assert second["fees"]["gasPrice"] >= first["fees"]["gasPrice"] * 120 // 100


def anchored_by_bump(w: World) -> None:
    bump = [e for e in tx_log_of(w.batch(0)) if e["kind"] == "bump"][-1]
    assert w.batch(0).tx_hash == bump["tx_hash"]


def anchored_by_other(w: World) -> None:
    assert w.batch(0).anchorer == OTHER_ADDRESS
    assert w.batch(0).tx_hash not in [e["tx_hash"] for e in tx_log_of(w.batch(0))]


def fresh_nonce(w: World) -> None:
    log = tx_log_of(w.batch(0))
    assert log[-1]["nonce"] == log[0]["nonce"] + 1
    assert w.batch(0).tx_hash == log[-1]["tx_hash"]


def refusal_recorded(word: str) -> Callable[[World], None]:
    def check(w: World) -> None:
        errors = [e.get("error") or "" for e in tx_log_of(w.batch(0))]
        assert any(word in e for e in errors), errors

    return check


def moved_to_another_block(w: World) -> None:
    lost = [e for e in tx_log_of(w.batch(0)) if e.get("kind") == "reorg"]
    assert not lost  # re-included: no reorganisation entry, the anchor just moved
    batch = w.batch(0)
    assert batch.block_number is not None and batch.block_hash == w.fake.canonical_hash(
        batch.block_number
    )


def anchor_both_elsewhere(w: World) -> None:
    first, second = w.batches()
    assert first.tree_size is not None and second.tree_size is not None
    _, _, proof = w.service.consistency(first.tree_size, second.tree_size)
    w.fake.anchor_foreign(w.root(0), first.tree_size, mine=False)
    w.fake.anchor_foreign(w.root(1), second.tree_size, proof, mine=False)
    w.fake.mine()


def adopted_each_from_its_event(w: World) -> None:
    first, second = w.batches()
    assert first.block_number == second.block_number
    assert first.tx_hash != second.tx_hash
    assert {first.anchorer, second.anchorer} == {OTHER_ADDRESS}


def lost_to_the_pool(w: World) -> None:
    w.fake.reorg(1, reinclude=True, new_blocks=1)
    assert len(w.fake.pending()) == 1


def fresh_nonce_after_reorg(w: World) -> None:
    log = tx_log_of(w.batch(0))
    assert log[-1]["nonce"] == log[0]["nonce"] + 1  # the lost one holds its nonce in the pool


def anchored_by_the_lost_transaction(w: World) -> None:
    assert w.batch(0).tx_hash == tx_log_of(w.batch(0))[0]["tx_hash"]


def reorg_entry_names_the_lost_anchor(w: World) -> None:
    entry = [e for e in tx_log_of(w.batch(0)) if e.get("kind") == "reorg"][-1]
    assert entry["lost_tx_hash"] and entry["lost_block_hash"]
    assert w.fake.canonical_hash(entry["lost_block_number"]) != entry["lost_block_hash"]


def progress_reported(w: World) -> None:
    assert w.progress and w.progress[-1].required == w.service.confirmations
    assert w.progress[-1].waiting == 0
    # Two rounds, one poll apart: the first found the batch one confirmation short.
    assert [(p.waiting, p.confirmations, p.waited) for p in w.progress] == [
        (1, 1, 0.0),
        (0, None, 1.0),
    ]


def slept(*seconds: float) -> Callable[[World], None]:
    """The service's waits in this step, on its clock."""

    def check(w: World) -> None:
        assert w.clock.sleeps == pytest.approx(list(seconds))

    return check


def nothing_signed(w: World) -> None:
    assert w.batch(0).tx_hash is None and w.fake.pending() == []


ALREADY = ContractRevertError("root is already anchored (seq 0)", "RootAlreadyAnchored")


SCENARIOS = [
    # --- confirmations ------------------------------------------------------------------
    Scenario(
        "anchored and confirmed in one pass",
        [
            Step(
                actions=["sealed", "anchored", "confirmed"],
                status=["confirmed"],
                kinds=[["sent"]],
                anchors=1,
                attempts=1,
                verdict="valid",
            )
        ],
    ),
    Scenario(
        "confirmed once the head is three blocks on, counting the anchoring block",
        [
            Step(actions=["sealed", "anchored"], status=["anchored"], verdict="not_yet_confirmed"),
            Step([mine(1)], run="confirm", actions=[], status=["anchored"]),
            Step([mine(1)], run="confirm", actions=["confirmed"], verdict="valid"),
            Step([mine(5)], run="confirm", actions=[], status=["confirmed"]),
        ],
        confirmations=3,
    ),
    Scenario(
        "a second checkpoint is anchored with a consistency proof from the first",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step(
                [register(2)],
                actions=["sealed", "anchored", "confirmed"],
                status=["confirmed", "confirmed"],
                kinds=[["sent"], ["sent"]],
                anchors=2,
            ),
        ],
    ),
    Scenario(
        "anchoring waits for confirmations only through wait_until_confirmed's rounds",
        [
            Step(run="anchor_all", actions=["sealed", "anchored"], status=["anchored"]),
            Step(
                [when("verify_identity", 2, mine(1))],
                run="wait",
                actions=["confirmed"],
                status=["confirmed"],
                check=progress_reported,
            ),
        ],
        confirmations=2,
    ),
    Scenario(
        "wait_until_confirmed anchors a sealed batch and gives up at its deadline",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                run="wait_now",
                raises=ChainError,
                error="1 batch(es) still wait for 1 confirmations",
                status=["sealed"],
            ),
            Step(
                [when("verify_identity", 2, mine(1))],
                run="wait",
                actions=["pending", "adopted", "confirmed"],
                status=["confirmed"],
            ),
        ],
    ),
    # --- the transaction manager -----------------------------------------------------------
    Scenario(
        "a pending transaction is left for the next pass, then adopted once mined",
        [
            Step(
                [automine(False)],
                run="anchor_all",
                actions=["sealed", "sent"],
                status=["sealed"],
                verdict="not_yet_confirmed",
            ),
            Step(
                [later(30)],
                run="anchor_all",
                actions=["pending"],
                error="is pending for 30 s",
                kinds=[["sent"]],
            ),
            Step([mine(1)], actions=["adopted", "confirmed"], status=["confirmed"], anchors=1),
        ],
    ),
    Scenario(
        "mined while the pass looks among its transactions: awaited and recorded",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [when("transaction_receipt", 1, mine(1))],
                actions=["anchored", "confirmed"],
                status=["confirmed"],
                kinds=[["sent"]],
            ),
        ],
    ),
    Scenario(
        "mined while the pass polls for it (pending_wait): anchored in the same pass",
        [
            Step(
                [automine(False), when("transaction_receipt", 2, mine(1))],
                run="anchor_all",
                actions=["sealed", "anchored"],
                status=["anchored"],
                kinds=[["sent"]],
                check=slept(0.05),
            ),
        ],
        pending_wait=5.0,
    ),
    Scenario(
        "not mined within pending_wait: the pass leaves it, having polled all that time",
        [
            Step(
                [automine(False)],
                run="anchor_all",
                actions=["sealed", "sent"],
                status=["sealed"],
                kinds=[["sent"]],
                check=slept(0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 0.45),
            ),
            Step(
                [later(30)],
                run="anchor_all",
                actions=["pending"],
                error="is pending for 35 s",
                check=slept(0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 0.45),
            ),
            Step([mine(1)], actions=["adopted", "confirmed"], status=["confirmed"]),
        ],
        pending_wait=5.0,
    ),
    Scenario(
        "a transaction pending past bump_after is replaced with the same nonce, fees +20 %",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [later(61)],
                run="anchor_all",
                actions=["sent"],
                kinds=[["sent", "bump"]],
                check=bumped_fees,
            ),
            Step(
                [mine(1)],
                actions=["adopted", "confirmed"],
                status=["confirmed"],
                anchors=1,
                check=anchored_by_bump,
            ),
        ],
        bump_after=60,
    ),
    Scenario(
        "a node without EIP-1559: a legacy transaction bumped by age, gasPrice +20 %",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step([later(59)], run="anchor_all", actions=["pending"], kinds=[["sent"]]),
            Step(
                [later(2)],
                run="anchor_all",
                actions=["sent"],
                kinds=[["sent", "bump"]],
                check=bumped_gas_price,
            ),
            Step([mine(1)], actions=["adopted", "confirmed"], check=anchored_by_bump),
        ],
        bump_after=60,
        legacy=True,
    ),
    Scenario(
        "a transaction priced under a risen base fee is replaced at once",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [base_fee(10)],
                run="anchor_all",
                actions=["sent"],
                kinds=[["sent", "bump"]],
                check=bumped_fees,
            ),
            Step([mine(1)], actions=["adopted", "confirmed"], check=anchored_by_bump),
        ],
    ),
    Scenario(
        "no more bumps after max_attempts transactions",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(run="anchor_all", actions=["sent"], kinds=[["sent", "bump"]]),
            Step(
                run="anchor_all",
                actions=["pending"],
                kinds=[["sent", "bump"]],
                error="still pending after 2 transactions",
            ),
            Step([mine(1)], actions=["adopted", "confirmed"], check=anchored_by_bump),
        ],
        bump_after=0,
        max_attempts=2,
    ),
    Scenario(
        "a dropped transaction is sent again byte for byte, recorded once",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [drop_last(), automine(True)],
                run="anchor_all",
                actions=["anchored"],
                kinds=[["sent"]],
                attempts=2,
                check=same_bytes_resent,
            ),
        ],
    ),
    Scenario(
        "a dropped transaction is signed again with its nonce at the fees of now",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [drop_last(), base_fee(3), automine(True)],
                run="anchor_all",
                actions=["anchored"],
                kinds=[["sent", "resent"]],
            ),
        ],
    ),
    Scenario(
        "a transaction replaced by another sender is signed again with a fresh nonce",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [foreign_same_nonce(), mine(1), automine(True)],
                run="anchor_all",
                actions=["anchored"],
                kinds=[["sent", "renonce"]],
                anchors=1,
                check=fresh_nonce,
            ),
        ],
    ),
    Scenario(
        "a replacement the pool refuses as underpriced is recorded; the next pass moves on",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [foreign_same_nonce()],
                run="anchor_all",
                actions=["pending"],
                kinds=[["sent"]],  # the same bytes again: recorded on the one attempt
                error="replacement transaction underpriced",
                check=refusal_recorded("underpriced"),
            ),
            Step(
                [mine(1), automine(True)],
                actions=["anchored", "confirmed"],
                kinds=[["sent", "renonce"]],
                status=["confirmed"],
            ),
        ],
    ),
    Scenario(
        "nonce too low at broadcast (the account used meanwhile): a fresh nonce",
        [
            Step(
                [when("broadcast", 1, Event("foreign", lambda w: w.fake.send_foreign()))],
                actions=["sealed", "anchored", "confirmed"],
                kinds=[["sent", "renonce"]],
                check=refusal_recorded("nonce too low"),
            ),
        ],
    ),
    Scenario(
        "nonce too low three times in a row: the pass gives up, the next one succeeds",
        [
            Step(
                [
                    when("broadcast", n, Event("foreign", lambda w: w.fake.send_foreign()))
                    for n in (1, 2, 3)
                ],
                raises=ChainError,
                error="'nonce too low' three times",
                status=["sealed"],
                kinds=[["sent", "renonce", "renonce"]],
            ),
            Step(
                actions=["anchored", "confirmed"],
                kinds=[["sent", "renonce", "renonce", "renonce"]],
                anchors=1,
            ),
        ],
    ),
    Scenario(
        "nonce too low because our own earlier transaction anchored the root: adopted",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [when("broadcast", 1, mine(1))],
                run="anchor_all",
                actions=["adopted"],
                kinds=[["sent", "bump"]],
                check=refusal_recorded("nonce too low"),
            ),
        ],
        bump_after=0,
    ),
    Scenario(
        "nonce too low because our own earlier transaction reverted: the revert is raised",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [
                    foreign_anchor(of=None, mine=False),
                    when("broadcast", 1, mine(1)),
                ],
                run="anchor_all",
                raises=ContractRevertError,
                error="reverted in block",
                status=["sealed"],
                anchors=1,
            ),
        ],
        bump_after=0,
    ),
    Scenario(
        "the base fee above the fee cap: nothing is signed until it falls",
        [
            Step(
                [base_fee(20)],
                run="anchor_all",
                actions=["sealed", "waiting"],
                status=["sealed"],
                error="waiting for the base fee (20 gwei)",
                kinds=[[]],
                check=nothing_signed,
            ),
            Step([base_fee(1)], actions=["anchored", "confirmed"], status=["confirmed"]),
        ],
        max_fee_gwei=5,
    ),
    Scenario(
        "the fee cap passed between the check and the signing: waiting",
        [
            Step(
                [fail("prepare_anchor", FeeCapError("the base fee is above the cap"))],
                run="anchor_all",
                actions=["sealed", "waiting"],
                error="above the cap",
                kinds=[[]],
            ),
            Step(actions=["anchored", "confirmed"]),
        ],
    ),
    Scenario(
        "the node unreachable at broadcast: raised and recorded; the same bytes next pass",
        [
            Step(
                [fail("broadcast", FakeChain.unavailable("eth_sendRawTransaction"))],
                raises=NodeUnavailableError,
                error="cannot reach",
                status=["sealed"],
                check=refusal_recorded("cannot reach"),
            ),
            Step(actions=["anchored", "confirmed"], kinds=[["sent"]], attempts=2, anchors=1),
        ],
    ),
    Scenario(
        "the answer to a broadcast lost after the node took it: found, not sent twice",
        [
            Step(
                [lose_answer(FakeChain.unavailable("eth_sendRawTransaction"))],
                raises=NodeUnavailableError,
                status=["sealed"],
            ),
            Step(actions=["adopted", "confirmed"], kinds=[["sent"]], attempts=1, anchors=1),
        ],
    ),
    Scenario(
        "a crash after the transaction was mined: the next pass adopts the anchor",
        [
            Step(
                [fail("wait_for_anchor", FakeChain.unavailable("eth_getTransactionReceipt"))],
                raises=NodeUnavailableError,
                status=["sealed"],
                anchors=1,
            ),
            Step(actions=["adopted", "confirmed"], kinds=[["sent"]], verdict="valid"),
        ],
    ),
    Scenario(
        "the root anchored meanwhile by another anchorer (broadcast says so): adopted",
        [
            Step(
                [
                    when("broadcast", 1, foreign_anchor()),
                    fail("broadcast", ALREADY),
                ],
                actions=["sealed", "adopted", "confirmed"],
                status=["confirmed"],
                anchors=1,
                check=anchored_by_other,
            ),
        ],
    ),
    Scenario(
        "RootAlreadyAnchored with no record on chain: raised and recorded",
        [
            Step(
                [fail("broadcast", ALREADY)],
                raises=ContractRevertError,
                error="already anchored",
                status=["sealed"],
                anchors=0,
                check=refusal_recorded("already anchored"),
            ),
        ],
    ),
    Scenario(
        "another refusal of the transaction: raised and recorded",
        [
            Step(
                [fail("broadcast", FakeChain.refused("eth_sendRawTransaction", "gas too low"))],
                raises=ChainError,
                error="gas too low",
                status=["sealed"],
                check=refusal_recorded("gas too low"),
            ),
        ],
    ),
    Scenario(
        "our transaction reverted behind another anchorer's: that anchor is adopted",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [
                    foreign_anchor(mine=False),
                    when("transaction_receipt", 1, mine(1)),
                ],
                # Found mined (reverted) among the batch's transactions, then adopted.
                actions=["anchored", "confirmed"],
                anchors=1,
                check=anchored_by_other,
            ),
        ],
    ),
    Scenario(
        "our transaction reverted and nothing holds the root: the revert is raised",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [foreign_anchor(of=None, mine=False), mine(1)],
                raises=ContractRevertError,
                error="does not show that the tree of size 3 extends",
                status=["sealed"],
            ),
        ],
    ),
    Scenario(
        "the root anchored by another anchorer before anything was sent: adopted",
        [
            Step(
                [Event("seal", lambda w: w.service.seal()), foreign_anchor()],
                actions=["adopted", "confirmed"],
                kinds=[[]],
                check=anchored_by_other,
            ),
        ],
    ),
    Scenario(
        "another process anchored two checkpoints in one block: each adopted with its own",
        [
            Step(
                [
                    Event("seal", lambda w: w.service.seal()),
                    register(2),
                    Event("seal", lambda w: w.service.seal()),
                    Event("anchor both in one block", anchor_both_elsewhere),
                ],
                actions=["adopted", "adopted", "confirmed", "confirmed"],
                status=["confirmed", "confirmed"],
                kinds=[[], []],
                anchors=2,
                check=adopted_each_from_its_event,
            ),
        ],
    ),
    Scenario(
        "the root anchored with another tree size: refused",
        [
            Step(
                [Event("seal", lambda w: w.service.seal()), foreign_anchor(size_delta=2)],
                raises=ChainError,
                error="anchored on chain with tree size 5",
                status=["sealed"],
            ),
        ],
    ),
    Scenario(
        "pruned logs: the anchor is adopted with the block's hash and our transaction",
        [
            Step(
                [
                    forget_logs(),
                    fail("wait_for_anchor", FakeChain.unavailable("eth_getTransactionReceipt")),
                ],
                raises=NodeUnavailableError,
            ),
            Step(actions=["adopted", "confirmed"], status=["confirmed"], verdict="valid"),
        ],
    ),
    Scenario(
        "pruned logs and no transaction of ours: the anchor cannot be shown",
        [
            Step(
                [forget_logs(), Event("seal", lambda w: w.service.seal()), foreign_anchor()],
                raises=ChainError,
                error="cannot show that block or its transaction",
                status=["sealed"],
            ),
        ],
    ),
    Scenario(
        "a transaction sent before the log of attempts existed, still pending: waited for",
        [
            Step([automine(False)], run="anchor_all", actions=["sealed", "sent"]),
            Step(
                [edit_batch("no tx_log", tx_log=None)],
                run="anchor_all",
                actions=["pending"],
                error="is pending; the next pass",
                kinds=[[]],
            ),
            Step([mine(1)], actions=["adopted", "confirmed"]),
        ],
    ),
    Scenario(
        "a transaction sent before the log of attempts existed, unknown: a fresh nonce",
        [
            Step([Event("seal", lambda w: w.service.seal())], run="confirm", actions=[]),
            Step(
                [edit_batch("unknown tx", tx_hash="0x" + "ee" * 32, tx_log=None)],
                actions=["anchored", "confirmed"],
                kinds=[["renonce"]],
            ),
        ],
    ),
    Scenario(
        "the chain's latest checkpoint is larger than ours: it can no longer be anchored",
        [
            Step(
                [Event("seal", lambda w: w.service.seal()), foreign_anchor(of=None, size_delta=9)],
                raises=ChainError,
                error="can no longer be anchored",
                status=["sealed"],
            ),
        ],
    ),
    Scenario(
        "the chain's latest checkpoint is not one of this log's: refused",
        [
            Step(
                [foreign_anchor(of=None)],
                raises=ChainError,
                error="is not a checkpoint of this log",
                status=["sealed"],
                anchors=1,
            ),
        ],
    ),
    Scenario(
        "a version 1 batch (no tree size) cannot be anchored by the version 2 contract",
        [
            Step([Event("seal", lambda w: w.service.seal())], run="confirm", actions=[]),
            Step(
                [edit_batch("version 1", tree_size=None, first_index=None)],
                run="anchor_first",
                raises=ChainError,
                error="is a version 1 batch",
            ),
        ],
    ),
    # --- reorganisations -------------------------------------------------------------------
    Scenario(
        "a reorganisation that spares the anchoring block changes nothing",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step(
                [mine(3), reorg(2)], run="confirm", actions=[], status=["confirmed"], kept="valid"
            ),
        ],
    ),
    Scenario(
        "an anchored (not yet confirmed) batch lost in a reorganisation is anchored again",
        [
            Step(actions=["sealed", "anchored"], status=["anchored"]),
            Step(
                [reorg(1)],
                run="confirm",
                actions=["reanchor"],
                status=["sealed"],
                error="a reorganisation took the anchor away",
                kinds=[["sent", "reorg"]],
                anchors=0,
                verdict="not_yet_confirmed",
                kept="not_valid",
                check=reorg_entry_names_the_lost_anchor,
            ),
            Step(
                run="anchor_all",
                actions=["reanchored"],
                status=["anchored"],
                kinds=[["sent", "reorg", "sent"]],
                anchors=1,
            ),
            Step(
                [mine(2)], run="confirm", actions=["confirmed"], verdict="valid", kept="not_valid"
            ),
        ],
        confirmations=3,
    ),
    Scenario(
        "a re-anchoring transaction (the lost one's bytes again) left pending is bumped",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step([automine(False), reorg(1)], run="confirm", actions=["reanchor"]),
            Step(run="anchor_all", actions=["sent"], kinds=[["sent", "reorg", "sent"]]),
            Step(
                run="anchor_all",
                actions=["sent"],
                kinds=[["sent", "reorg", "sent", "bump"]],
            ),
            Step([mine(1)], actions=["reanchored", "confirmed"], check=anchored_by_bump),
        ],
        bump_after=0,
    ),
    Scenario(
        "a confirmed batch lost in a reorganisation deeper than the confirmations",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step(
                [reorg(1)],
                actions=["reanchor", "reanchored", "confirmed"],
                status=["confirmed"],
                kinds=[["sent", "reorg", "sent"]],
                anchors=1,
                verdict="valid",
                kept="not_valid",
            ),
        ],
    ),
    Scenario(
        "two confirmed checkpoints lost: each anchored again, the second from the first",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step([register(2)], actions=["sealed", "anchored", "confirmed"]),
            Step(
                [reorg(2)],
                run="confirm",
                actions=["reanchor", "reanchor"],
                status=["sealed", "sealed"],
                anchors=0,
            ),
            Step(
                actions=["reanchored", "reanchored", "confirmed", "confirmed"],
                status=["confirmed", "confirmed"],
                kinds=[["sent", "reorg", "sent"], ["sent", "reorg", "sent"]],
                anchors=2,
            ),
        ],
    ),
    Scenario(
        "only the later checkpoint lost: anchored again with a proof from the one before",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step([register(2)], actions=["sealed", "anchored", "confirmed"]),
            Step(
                [reorg(1)],
                actions=["reanchor", "reanchored", "confirmed"],
                status=["confirmed", "confirmed"],
                kinds=[["sent"], ["sent", "reorg", "sent"]],
                anchors=2,
            ),
        ],
    ),
    Scenario(
        "a reorganisation that re-includes the transaction: the new block is recorded",
        [
            Step(actions=["sealed", "anchored", "confirmed"], verdict="valid"),
            Step(
                [reorg(1, reinclude=True)],
                run="confirm",
                actions=["moved"],
                status=["anchored"],
                kinds=[["sent"]],
                anchors=1,
                kept="not_valid",
                check=moved_to_another_block,
            ),
            Step(run="confirm", actions=["confirmed"], verdict="valid", kept="not_valid"),
        ],
    ),
    Scenario(
        "the lost transaction back in the pool: sent back, and its anchor adopted once mined",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step(
                [automine(False), Event("reorg(1, back to the pool)", lost_to_the_pool)],
                run="confirm",
                actions=["reanchor"],
                status=["sealed"],
                kinds=[["sent", "reorg"]],
            ),
            Step(
                run="anchor_all",
                actions=["sent"],
                kinds=[["sent", "reorg", "sent"]],
                check=fresh_nonce_after_reorg,
            ),
            Step(
                [mine(1)],
                actions=["reanchored", "confirmed"],
                status=["confirmed"],
                anchors=1,
                check=anchored_by_the_lost_transaction,
            ),
        ],
    ),
    # --- the chain under the service --------------------------------------------------------
    Scenario(
        "the node now serves another chain: every pass stops, nothing is sent",
        [
            Step(actions=["sealed", "anchored", "confirmed"]),
            Step(
                [register(1), serve_chain(99)],
                raises=ChainIdentityError,
                error="now serves chain 99",
                status=["confirmed"],
                anchors=1,
            ),
            Step(
                [serve_chain(31337)],
                actions=["sealed", "anchored", "confirmed"],
                status=["confirmed", "confirmed"],
            ),
        ],
    ),
    Scenario(
        "the contract's code is gone (a reset chain): every pass stops",
        [
            Step(actions=["sealed", "anchored", "confirmed"], verdict="valid"),
            Step(
                [lose_contract()],
                raises=ChainResetError,
                error="there is no contract code",
                status=["confirmed"],
                kept="not_valid",
            ),
            Step(run="confirm", raises=ChainResetError),
        ],
    ),
    Scenario(
        "batches anchored through another deployment are left alone, and not waited for",
        [
            Step(actions=["sealed", "anchored"], status=["anchored"]),
            Step([redeploy()], run="confirm", actions=[], status=["anchored"]),
            Step(run="wait_now", actions=[], status=["anchored"]),
            Step(
                [register(2), mine(1)],
                actions=["sealed", "anchored"],
                status=["anchored", "anchored"],
                anchors=1,
            ),
        ],
        confirmations=2,
    ),
    Scenario(
        "a reset chain with the contract deployed again at its old address: anchored again",
        [
            Step(actions=["sealed", "anchored", "confirmed"], verdict="valid"),
            Step(
                [reset_and_redeploy_at_same_address()],
                run="confirm",
                actions=["reanchor"],
                status=["sealed"],
                kinds=[["sent", "reorg"]],
                anchors=0,
            ),
            Step(actions=["reanchored", "confirmed"], anchors=1, verdict="valid", kept="not_valid"),
        ],
    ),
]


# --- running a row ----------------------------------------------------------------------


def run_step(w: World, step: Step) -> list[str] | None:
    """The step's call; the actions of its reports (None when it raised).

    No call is given a time: the service reads its clock, which the script moves.
    """
    if step.run == "run_once":
        return [r.action for r in w.service.run_once()]
    if step.run == "anchor_all":
        return [r.action for r in w.service.anchor_all()]
    if step.run == "confirm":
        return [r.action for r in w.service.confirm()]
    if step.run == "anchor_first":
        return [w.service.anchor_batch(w.batch(0)).action]
    if step.run in ("wait", "wait_now"):
        timeout = 0.0 if step.run == "wait_now" else 5.0
        heard = w.progress.append if step.run == "wait" else None
        reports = w.service.wait_until_confirmed(timeout=timeout, poll=1.0, on_progress=heard)
        return [r.action for r in reports]
    raise AssertionError(f"unknown call {step.run}")


def verdict(w: World, receipt: Receipt) -> str:
    trust = trust_policy([TrustedDeployment(w.fake.chain_id, w.fake.contract_address)])
    result = verify_receipt_on_chain(
        receipt,
        w.fake.reader(),
        document_sha256=w.groups[0][0],
        required_confirmations=w.service.confirmations,
        trust=trust,
    )
    return receipt_verdict(result, receipt, node_chain_id=w.fake.chain_id, trust=trust)


def check_agrees_with_chain(w: World) -> None:
    """The database never claims more than the chain holds (whatever a pass raised)."""
    head = w.fake.head_number()
    roots: set[str] = set()
    for batch in w.batches():
        assert batch.root not in roots
        roots.add(batch.root or "")
        if (
            batch.status not in ("anchored", "confirmed")
            or batch.contract != w.fake.contract_address
        ):
            continue
        record = w.fake.record_of(bytes.fromhex(batch.root or ""))
        assert record is not None, f"batch {batch.id} is {batch.status} but not on chain"
        assert (record.seq, record.block_number) == (batch.seq, batch.block_number)
        assert record.tree_size == batch.tree_size
        assert w.fake.canonical_hash(record.block_number) == batch.block_hash
        if batch.status == "confirmed":
            assert head - record.block_number + 1 >= w.service.confirmations


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, database_url: str) -> None:
    store = Store(database_url)
    fake = FakeChain(
        base_fee=None if scenario.legacy else GWEI,
        max_fee_wei=None if scenario.max_fee_gwei is None else scenario.max_fee_gwei * GWEI,
    )
    policy = TxPolicy(
        bump_percent=20,
        max_attempts=scenario.max_attempts,
        bump_after=scenario.bump_after,
        pending_wait=scenario.pending_wait,
    )
    clock = FakeClock(T0)
    service = DocAnchorService(
        store=store,
        chain=fake,
        confirmations=scenario.confirmations,
        tx_policy=policy,
        clock=clock,
    )
    w = World(store, fake, service, clock)
    register(3).act(w)
    for number, step in enumerate(scenario.steps):
        where = f"step {number}"
        for event in step.do:
            event.act(w)
        w.clock.sleeps.clear()
        raised: DocAnchorError | None = None
        actions: list[str] | None = None
        try:
            actions = run_step(w, step)
        except DocAnchorError as exc:
            raised = exc
        if step.raises is None:
            assert raised is None, f"{where}: {raised!r}"
        else:
            assert isinstance(raised, step.raises), f"{where}: {raised!r}"
        if step.actions is not None:
            assert actions == list(step.actions), where
        batches = w.batches()
        if step.status is not None:
            assert [b.status for b in batches] == list(step.status), where
        if step.kinds is not None:
            assert [[e["kind"] for e in tx_log_of(b)] for b in batches] == [
                list(k) for k in step.kinds
            ], where
        if step.error is not None:
            text = str(raised) if raised is not None else (batches[0].last_error or "")
            assert step.error in text, f"{where}: {text!r}"
        if step.anchors is not None:
            assert w.fake.anchor_count() == step.anchors, where
        if step.attempts is not None:
            assert batches[0].anchor_attempts == step.attempts, where
        if step.verdict is not None:
            (view,) = w.service.lookup(w.groups[0][0])
            assert verdict(w, w.service.receipt(view)) == step.verdict, where
        if w.kept is None and batches and batches[0].status in ("anchored", "confirmed"):
            (view,) = w.service.lookup(w.groups[0][0])
            w.kept = w.service.receipt(view)
        if step.kept is not None:
            assert w.kept is not None, where
            assert verdict(w, w.kept) == step.kept, where
        if step.check is not None:
            step.check(w)
        assert w.fake.unused_script() == [], where
        if not isinstance(raised, ChainResetError):  # a reset chain holds nothing
            check_agrees_with_chain(w)


def test_every_row_names_a_distinct_scenario() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(set(names)) == len(names)
    assert FAKE_CONTRACT != "0x" + "cd" * 20

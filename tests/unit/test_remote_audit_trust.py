"""The remote period audit's trust decision, made by the service: the contract the
remote service claims is read only when it is one the auditor trusts, on the auditor's
node's chain, and then only once its code is checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from docanchor.audit import ListedCheckpoint
from docanchor.errors import ChainError, VerificationError
from docanchor.onchain import AnchoredEvent, OnChainRecord
from docanchor.receipt import TrustedDeployment
from docanchor.service import audit_remote_period

A = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
B = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


class Node:
    """The auditor's node: its contract is checked only where the audit points it."""

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self.calls: list[str] = []
        self.address: str | None = None

    @property
    def has_contract(self) -> bool:
        return self.address is not None

    def use_contract(self, address: str) -> None:
        self.calls.append(f"use {address}")
        self.address = address

    def check_contract(self) -> None:
        self.calls.append("check")
        raise ChainError(f"no contract code at {self.address}")

    def scan_anchored(self, from_block: int) -> Sequence[AnchoredEvent]:
        raise AssertionError("the chain is read only at a trusted, checked contract")

    def get_anchor(self, root: bytes) -> OnChainRecord | None:
        raise AssertionError("the chain is read only at a trusted, checked contract")


class Remote:
    def __init__(self, claimed: TrustedDeployment) -> None:
        self.claimed = claimed

    def current_deployment(self) -> TrustedDeployment:
        return self.claimed

    def checkpoints(self) -> list[ListedCheckpoint]:
        raise AssertionError("the log is read only once its contract is trusted")

    def compact_range(self, size: int) -> list[bytes]:
        raise AssertionError("the log is read only once its contract is trusted")

    def leaves(self, start: int, end: int) -> list[bytes]:
        raise AssertionError("the log is read only once its contract is trusted")

    def entries(self, start: int, end: int) -> list[Mapping[str, Any]]:
        raise AssertionError("the log is read only once its contract is trusted")


def test_a_contract_on_another_chain_than_the_node_is_refused() -> None:
    node = Node(31337)
    remote = Remote(TrustedDeployment(5, A))
    with pytest.raises(VerificationError) as refused:
        audit_remote_period(node, remote, START, END, trusted=frozenset({TrustedDeployment(5, A)}))
    assert str(refused.value) == (
        f"the service anchors on chain 5 ({A}), but the node at --rpc-url is on chain 31337: "
        "point --rpc-url at a node of chain 5"
    )
    assert node.calls == []


@pytest.mark.parametrize(
    ("trusted", "named"),
    [
        (frozenset(), "none"),
        (frozenset({TrustedDeployment(31337, B)}), f"31337:{B}"),
        (frozenset({TrustedDeployment(5, A)}), f"5:{A}"),
    ],
)
def test_an_untrusted_contract_is_refused_before_the_node_is_asked(
    trusted: frozenset[TrustedDeployment], named: str
) -> None:
    node = Node(31337)
    with pytest.raises(VerificationError) as refused:
        audit_remote_period(node, Remote(TrustedDeployment(31337, A)), START, END, trusted=trusted)
    assert str(refused.value) == (
        f"the service anchors in {A} on chain 31337, which is not a trusted deployment "
        f"(trusted: {named}); add it to DOCANCHOR_TRUSTED_CONTRACTS only if you trust it"
    )
    assert node.calls == []


def test_a_trusted_contract_is_read_only_after_its_code_is_checked() -> None:
    node = Node(31337)
    trusted = frozenset({TrustedDeployment(31337, B), TrustedDeployment(31337, A.lower())})
    with pytest.raises(ChainError, match="no contract code"):
        audit_remote_period(node, Remote(TrustedDeployment(31337, A)), START, END, trusted=trusted)
    assert node.calls == [f"use {A}", "check"]

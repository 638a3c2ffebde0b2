"""The chain adapter against a node that misbehaves as public RPC providers do.

A real Anvil behind tests/support/rpcproxy.py, which answers a share of the requests
with HTTP 429 or 503 (with or without Retry-After), or with a JSON-RPC
"rate limit" error, or refuses outright. Retries must carry every call
through the first kind, give up at the deadline naming the failure, and
never retry a refusal that will not change.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docanchor.chain import ChainClient
from docanchor.config import ANVIL_DEV_PRIVATE_KEY
from docanchor.errors import ChainError, NodeUnavailableError
from tests.support.anvil import AnvilNode
from tests.support.rpcproxy import Faults, RpcProxy


def root_of(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@pytest.fixture
def proxy(anvil: AnvilNode) -> Iterator[RpcProxy]:
    node = RpcProxy(anvil.rpc_url).start()
    try:
        yield node
    finally:
        node.stop()


def client_via(proxy: RpcProxy, **kwargs: object) -> ChainClient:
    return ChainClient(
        rpc_url=proxy.url,
        private_key=ANVIL_DEV_PRIVATE_KEY,
        retry_backoff=0.02,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "faults",
    [
        Faults(share=1 / 3, status=429),
        Faults(share=1 / 3, status=429, retry_after="0"),
        Faults(share=1 / 3, status=503),
        Faults(share=1 / 2, status=502, seed=7),
        Faults(share=1 / 3, body_error={"code": -32005, "message": "daily request limit exceeded"}),
    ],
    ids=["429", "429-retry-after", "503", "502-half", "jsonrpc-limit"],
)
def test_every_operation_completes_through_a_rate_limiting_node(
    proxy: RpcProxy, faults: Faults
) -> None:
    proxy.faults = faults
    client = client_via(proxy)
    deployment = client.deploy(timeout=30)
    root = root_of(f"rate limited {faults}")
    mined = client.anchor(root, 4, [], timeout=30)
    record = client.get_anchor(root)
    assert record is not None and record.seq == mined.seq and record.tree_size == 4
    assert client.block_hash(mined.block_number) == mined.block_hash
    assert [e.root for e in client.scan_anchored(deployment.block_number)] == [root]
    assert sum(proxy.refused.values()) > 0  # the node really misbehaved
    # Nothing was sent twice: one deployment and one anchor transaction.
    assert client.anchor_count() == 1


def test_retry_after_is_honoured(proxy: RpcProxy) -> None:
    client = client_via(proxy)
    client.head_number()
    proxy.faults = Faults(
        every=2, status=429, retry_after="1", only_methods=frozenset({"eth_blockNumber"})
    )
    client.head_number()  # request 1 of the rule: answered
    started = time.monotonic()
    client.head_number()  # request 2: 429 with Retry-After: 1, then answered
    assert time.monotonic() - started >= 0.9
    assert proxy.refused["eth_blockNumber"] == 1


def test_a_node_that_never_recovers_fails_at_the_deadline_naming_the_status(
    proxy: RpcProxy,
) -> None:
    client = client_via(proxy, retry_deadline=1.5)
    client.head_number()
    proxy.faults = Faults(every=1, status=429)
    started = time.monotonic()
    with pytest.raises(NodeUnavailableError) as failure:
        client.head_number()
    spent = time.monotonic() - started
    assert 0.5 <= spent <= 3.0
    assert "HTTP 429 (too many requests)" in failure.value.message
    assert "attempts" in failure.value.message
    assert proxy.refused["eth_blockNumber"] >= 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_refusal_that_will_not_change_is_not_retried(proxy: RpcProxy, status: int) -> None:
    client = client_via(proxy)
    client.head_number()
    proxy.faults = Faults(every=1, status=status)
    with pytest.raises(NodeUnavailableError, match=f"HTTP {status}"):
        client.head_number()
    assert proxy.refused["eth_blockNumber"] == 1


def test_a_jsonrpc_error_that_is_not_a_rate_limit_is_not_retried(proxy: RpcProxy) -> None:
    client = client_via(proxy)
    client.head_number()
    proxy.faults = Faults(every=1, body_error={"code": -32601, "message": "method not found"})
    with pytest.raises(ChainError, match="method not found"):
        client.head_number()
    assert proxy.refused["eth_blockNumber"] == 1


def test_the_chain_id_is_asked_once_per_connection(proxy: RpcProxy) -> None:
    client = client_via(proxy)
    client.deploy(timeout=30)

    def work() -> None:
        for i in range(3):
            client.get_anchor(root_of(f"read {i}"))
        client.anchor(root_of("once"), 1, [], timeout=30)

    _, methods = proxy.counting(work)
    assert methods["eth_chainId"] == 0, methods
    assert methods["eth_call"] == 3
    assert methods["eth_getCode"] == 0  # the contract was checked once, at deployment


def test_the_node_url_with_a_key_is_never_shown(anvil: AnvilNode, proxy: RpcProxy) -> None:
    secret_url = proxy.url.replace("http://", "http://user:s3cret@") + "/v3/KEY123"
    client = ChainClient(rpc_url=secret_url, retry_backoff=0.02, retry_deadline=0.5)
    proxy.faults = Faults(every=1, status=503)
    with pytest.raises(NodeUnavailableError) as failure:
        client.head_number()
    text = failure.value.message + repr(client)
    assert "s3cret" not in text and "KEY123" not in text and "user" not in text
    assert f"http://127.0.0.1:{proxy.port}" in text


def test_one_anchoring_pass_checks_the_chain_and_the_contract_once(
    proxy: RpcProxy, tmp_path: Path
) -> None:
    from docanchor.service import DocAnchorService
    from docanchor.store import Store

    client = client_via(proxy)
    client.deploy(timeout=30)
    store = Store(f"sqlite:///{tmp_path / 'pass.sqlite3'}")
    try:
        service = DocAnchorService(store=store, chain=client)
        service.register(hashlib.sha256(b"one pass").digest(), {"reference": "OC-1"})
        reports, methods = proxy.counting(service.run_once)
        assert {r.action for r in reports} >= {"sealed"}
        assert methods["eth_getCode"] == 1, methods
        assert methods["eth_chainId"] == 1, methods  # the identity check of the pass
        _, idle = proxy.counting(service.run_once)
        assert idle["eth_getCode"] == 1 and idle["eth_chainId"] == 1, idle
    finally:
        store.close()

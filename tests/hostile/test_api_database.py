"""The database under hostile load and out of reach: no 500, nothing lost, nothing leaked.

Eight concurrent bulk registrations of the same 2,000 digests in different
orders once deadlocked on PostgreSQL (a 500 for some of them). One entity's
registrations are now written one transaction at a time (an advisory lock per
entity); a deadlock or serialization failure that still happens is retried,
and then answered with 503 and ``Retry-After``. A database
out of reach is a 503 that says "database unreachable" and nothing about the
host, the database or the user.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from docanchor.api import create_app
from docanchor.errors import RetryLaterError, StoreError
from docanchor.service import DocAnchorService
from docanchor.store import Store
from tests.support.anvil import AnvilNode
from tests.support.hostileapi import (
    ENTITY,
    Api,
    assert_alive,
    assert_problem,
    make_api,
    settings_for,
)

THREADS = 8
DIGESTS = [f"{n:064x}" for n in range(1, 2001)]


@pytest.fixture
def api(tmp_path: Path, database_url: str, anvil: AnvilNode) -> Iterator[Api]:
    yield from make_api(settings_for(tmp_path, database_url, anvil.rpc_url, None))


def test_concurrent_bulk_registrations_in_different_orders_never_fail(api: Api) -> None:
    orders = []
    for seed in range(THREADS):
        order = list(DIGESTS)
        random.Random(seed).shuffle(order)
        orders.append(order)
    orders[1] = list(reversed(DIGESTS))  # the plainest way to cross another transaction
    answers: list[httpx.Response | BaseException] = [RuntimeError("not run")] * THREADS
    start = threading.Barrier(THREADS)

    def register(n: int) -> None:
        documents = [{"sha256": d, "metadata": {"reference": "OC-RACE"}} for d in orders[n]]
        start.wait()
        try:
            answers[n] = api.client.post(
                "/v1/documents/bulk", json={"documents": documents}, headers=api.auth("entity")
            )
        except BaseException as exc:  # the assertion below shows it
            answers[n] = exc

    threads = [threading.Thread(target=register, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    statuses = [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]
    assert statuses == [200] * THREADS, [
        a.text[:300] if isinstance(a, httpx.Response) else repr(a) for a in answers
    ]
    bodies = [a.json() for a in answers if isinstance(a, httpx.Response)]
    # Each digest was created by exactly one request; every request reports every digest.
    assert sum(b["created"] for b in bodies) == len(DIGESTS)
    for body, order in zip(bodies, orders, strict=True):
        assert [d["sha256"] for d in body["documents"]] == order
        assert body["created"] + body["existing"] == len(DIGESTS)
    ids = {d["sha256"]: d["id"] for d in bodies[0]["documents"]}
    for body in bodies[1:]:
        assert {d["sha256"]: d["id"] for d in body["documents"]} == ids
    for digest in (DIGESTS[0], DIGESTS[-1]):
        found = api.client.post("/v1/verify", json={"sha256": digest}).json()
        assert found["status"] == "pending" and len(found["registrations"]) == 1
    assert_alive(api.client)


def _deadlock() -> psycopg.errors.DeadlockDetected:
    return psycopg.errors.DeadlockDetected("deadlock detected")


def test_a_deadlock_is_tried_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    store: Store = api.client.app.state.ctx.service.store  # type: ignore[attr-defined]
    real = store._register_once
    failures = iter([_deadlock(), _deadlock()])

    def twice_then_real(*args: Any, **kwargs: Any) -> Any:
        for failure in failures:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "_register_once", twice_then_real)
    made = api.client.post("/v1/documents", json={"sha256": "aa" * 32}, headers=api.auth("entity"))
    assert made.status_code == 201, made.text


def test_a_deadlock_that_persists_is_503_with_retry_after(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: Store = api.client.app.state.ctx.service.store  # type: ignore[attr-defined]
    attempts: list[int] = []

    def always(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        raise _deadlock()

    monkeypatch.setattr(store, "_register_once", always)
    for path, body in (
        ("/v1/documents", {"sha256": "bb" * 32}),
        ("/v1/documents/bulk", {"documents": [{"sha256": "bb" * 32}]}),
    ):
        attempts.clear()
        response = api.client.post(path, json=body, headers=api.auth("entity"))
        problem = assert_problem(response, 503, "retry")
        assert problem["title"] == "Database busy"
        assert int(response.headers["retry-after"]) >= 1
        assert len(attempts) > 1  # tried again before giving up
        assert "40P01" not in problem["detail"] and "deadlock" not in problem["detail"]
    with pytest.raises(RetryLaterError) as caught:
        store.register([])
    assert caught.value.http_status == 503 and caught.value.exit_code == 3
    monkeypatch.undo()
    assert api.client.post("/v1/verify", json={"sha256": "bb" * 32}).json()["status"] == (
        "not_found"
    )
    assert_alive(api.client)


def test_a_deadlock_in_any_transaction_is_retry_later(api: Api) -> None:
    store: Store = api.client.app.state.ctx.service.store  # type: ignore[attr-defined]
    with pytest.raises(RetryLaterError, match="40P01") as caught, store.session():
        raise OperationalError("SELECT 1", {}, _deadlock())
    assert caught.value.http_status == 503
    with pytest.raises(StoreError, match="database unavailable") as other, store.session():
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed"))
    assert not isinstance(other.value, RetryLaterError)


def test_a_driver_error_while_registering_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    store: Store = api.client.app.state.ctx.service.store  # type: ignore[attr-defined]
    driver = store.engine.dialect.loaded_dbapi

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise driver.OperationalError("the connection to secretdb was lost")

    monkeypatch.setattr(store, "_register_once", lost)
    response = api.client.post(
        "/v1/documents", json={"sha256": "dd" * 32}, headers=api.auth("entity")
    )
    problem = assert_problem(response, 503)
    assert problem["detail"] == "database unreachable" and "secretdb" not in response.text
    assert "retry-after" not in response.headers
    monkeypatch.undo()
    assert_alive(api.client)


SECRETS = ("secretuser", "s3cretpass", "secretdb", "127.0.0.1")
UNREACHABLE = "postgresql+psycopg://secretuser:s3cretpass@127.0.0.1:1/secretdb?connect_timeout=2"


@pytest.fixture
def unreachable(tmp_path: Path, anvil: AnvilNode) -> Iterator[TestClient]:
    """The API over a PostgreSQL database nobody answers for."""
    settings = settings_for(tmp_path, UNREACHABLE, anvil.rpc_url, None)
    service = DocAnchorService(store=Store(UNREACHABLE, migrate=False))
    app = create_app(settings, service=service)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# (case id, method, path, JSON body, headers)
OUT_OF_REACH: list[tuple[str, str, str, Any, dict[str, str]]] = [
    ("verify", "POST", "/v1/verify", {"sha256": "cc" * 32}, {}),
    ("batches", "GET", "/v1/batches", None, {}),
    ("batch", "GET", "/v1/batches/1", None, {}),
    ("leaves", "GET", "/v1/batches/1/leaves", None, {}),
    ("register", "POST", "/v1/documents", {"sha256": "cc" * 32}, {"Authorization": "Bearer k"}),
    ("versions", "GET", "/v1/documents?reference=R", None, {"Authorization": "Bearer k"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [pytest.param(*case[1:], id=case[0]) for case in OUT_OF_REACH],
)
def test_an_unreachable_database_is_503_without_its_names(
    unreachable: TestClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> None:
    with caplog.at_level(logging.WARNING, logger="docanchor.api"):
        response = unreachable.request(method, path, json=body, headers=headers)
    problem = assert_problem(response, 503)
    assert problem["detail"] == "database unreachable"
    for secret in SECRETS:
        assert secret not in response.text
    # The operator still learns what failed: the driver's message is in the log.
    assert any("database" in r.getMessage() for r in caplog.records)
    health = unreachable.get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"]["database"] == {"ok": False, "detail": "database unreachable"}
    assert health.json()["checks"]["process"] == {"ok": True, "detail": "up"}
    ready = unreachable.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == {"ok": False, "detail": "database unreachable"}
    for secret in SECRETS:
        assert secret not in health.text and secret not in ready.text


def test_the_registering_entity_is_kept_under_contention(api: Api) -> None:
    """The sorted insert order changes nothing a caller sees: the answer lists the
    items in the order sent, each with the key's entity."""
    documents = [{"sha256": d} for d in reversed(DIGESTS[:50])]
    made = api.client.post(
        "/v1/documents/bulk", json={"documents": documents}, headers=api.auth("entity")
    )
    assert made.status_code == 200, made.text
    assert [d["sha256"] for d in made.json()["documents"]] == [d["sha256"] for d in documents]
    listed = api.client.post("/v1/verify", json={"sha256": DIGESTS[0]}).json()
    assert listed["registrations"][0]["entity_ruc"] == ENTITY

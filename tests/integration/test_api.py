"""The HTTP API against a real Anvil devnet and a real database (SQLite, and PostgreSQL
when DOCANCHOR_TEST_DATABASE_URL is set).

The app is the one ``create_app`` builds from settings; requests go through
Starlette's TestClient (which also runs the response's background tasks, so
``POST /v1/batches`` has anchored by the time it returns).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docanchor.api import create_app
from docanchor.config import Settings
from docanchor.devnet import free_port
from docanchor.hashing import MAX_METADATA_BYTES, leaf_hash
from docanchor.keys import create_key
from docanchor.merkle import root_of
from docanchor.receipt import parse_receipt
from docanchor.signing import verify_signature
from tests.support.anvil import AnvilNode
from tests.support.hostileapi import settings_for

ENTITY = "20100000001"
OTHER_ENTITY = "20600000002"
PROBLEM = "application/problem+json"


@dataclass
class Api:
    client: TestClient
    settings: Settings
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def register(
        self, content: bytes, metadata: dict[str, Any] | None = None, role: str = "entity"
    ) -> Any:
        return self.client.post(
            "/v1/documents",
            json={"sha256": hashlib.sha256(content).hexdigest(), "metadata": metadata or {}},
            headers=self.auth(role),
        )


def _make_api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    store = app.state.ctx.service.store
    keys = {
        "entity": create_key(store, role="entity", entity_ruc=ENTITY).secret,
        "other": create_key(store, role="entity", entity_ruc=OTHER_ENTITY).secret,
        "auditor": create_key(store, role="auditor", entity_ruc=None).secret,
        "admin": create_key(store, role="admin", entity_ruc=None).secret,
    }
    with TestClient(app) as client:
        yield Api(client, settings, keys)


@pytest.fixture
def api(
    tmp_path: Path, database_url: str, anvil: AnvilNode, deployed: tuple[Any, str]
) -> Iterator[Api]:
    yield from _make_api(settings_for(tmp_path, database_url, anvil.rpc_url, deployed[1]))


def assert_problem(response: Any, status: int, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys(), body
    assert body["status"] == status
    assert "Traceback" not in body["detail"]
    for needle in needles:
        assert needle.lower() in body["detail"].lower(), (needle, body["detail"])
    return body


# --- the whole flow: register, anchor, verify -----------------------------------------


def test_register_anchor_and_verify_end_to_end(api: Api, anvil: AnvilNode) -> None:
    v1, v2 = b"purchase order, first version", b"purchase order, second version"
    meta = {"reference": "OC-2025-000123", "type": "purchase_order"}
    first = api.register(v1, meta)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["status"] == "pending" and body["version"] == 1
    assert body["entity_ruc"] == ENTITY and body["metadata"]["entity_ruc"] == ENTITY
    assert body["receipt"]["status"] == "pending"
    # The second version as a multipart upload, streamed and hashed by the server.
    second = api.client.post(
        "/v1/documents",
        files={"file": ("oc-v2.pdf", v2, "application/pdf")},
        data={"metadata": json.dumps(meta)},
        headers=api.auth("entity"),
    )
    assert second.status_code == 201, second.text
    assert second.json()["sha256"] == hashlib.sha256(v2).hexdigest()
    assert second.json()["version"] == 2

    sealed = api.client.post("/v1/batches", headers=api.auth("entity"))
    assert sealed.status_code == 202, sealed.text
    (batch_info,) = sealed.json()["batches"]
    assert batch_info["size"] == 2
    batch_id = batch_info["id"]

    batch = _poll(
        lambda: api.client.get(f"/v1/batches/{batch_id}").json(),
        lambda b: b["status"] == "confirmed",
    )
    assert batch["confirmations"] >= 1 and batch["tx_hash"].startswith("0x")
    assert batch["last_error"] is None
    assert [a["kind"] for a in batch["attempts"]] == ["sent"]
    assert batch["attempts"][0]["tx_hash"] == batch["tx_hash"]
    assert batch["reanchored"] is False

    # Anyone can recompute the anchored root from the published leaf hashes.
    leaves = api.client.get(f"/v1/batches/{batch_id}/leaves", params={"limit": 1}).json()
    assert leaves["tree_size"] == 2 and len(leaves["leaves"]) == 1
    rest = api.client.get(f"/v1/batches/{batch_id}/leaves", params={"offset": 1}).json()
    all_leaves = [bytes.fromhex(h) for h in leaves["leaves"] + rest["leaves"]]
    assert root_of(all_leaves).hex() == batch["root"]

    page = api.client.get("/v1/batches", params={"limit": 10}).json()
    assert page["total"] == 1 and page["batches"][0]["id"] == batch_id
    # The list shows each batch as its own view does, but for the confirmations.
    view = api.client.get(f"/v1/batches/{batch_id}").json()
    assert page["batches"][0] == {k: v for k, v in view.items() if k != "confirmations"}
    assert page["batches"][0]["attempts"] == batch["attempts"]

    # Verify by file and by digest.
    by_file = api.client.post("/v1/verify", files={"file": ("x.pdf", v2)})
    assert by_file.status_code == 200, by_file.text
    answer = by_file.json()
    assert answer["status"] == "confirmed" and answer["size"] == len(v2)
    (registration,) = answer["registrations"]
    assert registration["reference"] == meta["reference"] and registration["version"] == 2
    assert registration["anchor"]["tx_hash"] == batch["tx_hash"]
    assert registration["anchor"]["block_number"] == batch["block_number"]
    assert [(v["version"], v["is_this_document"]) for v in answer["versions"]] == [
        (1, False),
        (2, True),
    ]
    by_digest = api.client.post("/v1/verify", json={"sha256": hashlib.sha256(v2).hexdigest()})
    assert by_digest.json()["receipts"] == answer["receipts"]

    # The receipt stands on its own: signed by the published key, valid against the chain.
    receipt_json = answer["receipts"][0]
    (key,) = api.client.get("/v1/keys").json()["keys"]
    verify_signature(receipt_json, bytes.fromhex(key["public_key_hex"]))
    from docanchor.chain import ChainClient
    from docanchor.receipt import TrustedDeployment, trust_policy
    from docanchor.service import verify_receipt_on_chain

    trustless = verify_receipt_on_chain(
        parse_receipt(receipt_json),
        ChainClient(rpc_url=anvil.rpc_url),
        document_sha256=hashlib.sha256(v2).digest(),
        required_confirmations=1,
        trust=trust_policy(
            {TrustedDeployment(anvil.chain_id, api.settings.contract_address or "")}
        ),
    )
    assert trustless.valid, trustless.checks

    checked = api.client.post(
        "/v1/receipts/verify",
        json={"receipt": receipt_json, "sha256": hashlib.sha256(v2).hexdigest()},
    )
    assert checked.status_code == 200, checked.text
    result = checked.json()
    assert result["valid"] is True and result["confirmations"] >= 1
    assert result["verdict"] == "valid"
    assert {c["step"] for c in result["checks"]} >= {1, 4, 5, 6, 7}
    assert all(c["ok"] for c in result["checks"])
    # The same receipt with another document is refused, and says why.
    wrong = api.client.post(
        "/v1/receipts/verify",
        json={"receipt": receipt_json, "sha256": hashlib.sha256(v1).hexdigest()},
    ).json()
    assert wrong["valid"] is False
    assert wrong["verdict"] == "not_valid"  # a check ran and failed
    assert any(not c["ok"] and c["step"] == 1 for c in wrong["checks"])

    # Nothing pending and nothing sealed: an empty answer, no new batch.
    again = api.client.post("/v1/batches", headers=api.auth("admin"))
    assert again.status_code == 200 and again.json() == {"batches": []}


def test_verify_answer_follows_registrations_sealing_and_anchoring(api: Api) -> None:
    """Verify answers are cached as encoded bytes: each new stored fact (another
    version, the batch sealed, anchored, confirmed) must still change the answer."""
    meta = {"reference": "OC-2025-CACHE", "type": "purchase_order"}
    first = api.register(b"cached answer, version 1", meta)
    assert first.status_code == 201, first.text
    digest = first.json()["sha256"]

    def verify() -> dict[str, Any]:
        response = api.client.post("/v1/verify", json={"sha256": digest})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    before = verify()
    assert before == verify()  # the second answer is the cached one, unchanged
    assert before["status"] == "pending" and before["receipts"][0]["status"] == "pending"
    assert [v["version"] for v in before["versions"]] == [1]

    assert api.register(b"cached answer, version 2", meta).status_code == 201
    assert [v["version"] for v in verify()["versions"]] == [1, 2]

    sealed = api.client.post("/v1/batches", headers=api.auth("entity"))
    assert sealed.status_code == 202, sealed.text
    after = _poll(verify, lambda a: a["status"] == "confirmed")
    (receipt,) = after["receipts"]
    assert receipt["status"] == "confirmed" and receipt["anchor"]["tx_hash"].startswith("0x")
    assert receipt["proof"] is not None
    assert after["registrations"][0]["anchor"]["tx_hash"] == receipt["anchor"]["tx_hash"]


def _poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {value}")
        time.sleep(0.05)


def test_unknown_document_is_not_found_not_an_error(api: Api) -> None:
    digest = secrets.token_hex(32)
    answer = api.client.post("/v1/verify", json={"sha256": digest})
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "not_found",
        "sha256": digest,
        "receipts": [],
        "registrations": [],
        "versions": [],
    }
    metrics = api.client.get("/metrics").text
    assert 'docanchor_verify_requests_total{outcome="not_found"} 1.0' in metrics


# --- keys and roles ----------------------------------------------------------------------


def test_auth_matrix(api: Api) -> None:
    doc = {"sha256": secrets.token_hex(32), "metadata": {"reference": "R-1"}}
    none = api.client.post("/v1/documents", json=doc)
    assert_problem(none, 401, "Authorization: Bearer")
    assert none.headers["www-authenticate"] == "Bearer"
    unknown = api.client.post(
        "/v1/documents", json=doc, headers={"Authorization": "Bearer dak_nope"}
    )
    assert_problem(unknown, 401, "not known")
    assert unknown.headers["www-authenticate"] == "Bearer"
    basic = api.client.post("/v1/documents", json=doc, headers={"Authorization": "Basic eDp5"})
    assert_problem(basic, 401)

    store = api.client.app.state.ctx.service.store  # type: ignore[attr-defined]
    doomed = create_key(store, role="entity", entity_ruc=ENTITY)
    assert (
        api.client.post(
            "/v1/documents", json=doc, headers={"Authorization": f"Bearer {doomed.secret}"}
        ).status_code
        == 201
    )
    from docanchor.store import utcnow

    assert doomed.key.id is not None
    store.revoke_api_key(doomed.key.id, utcnow())
    revoked = api.client.post(
        "/v1/documents", json=doc, headers={"Authorization": f"Bearer {doomed.secret}"}
    )
    assert_problem(revoked, 401, "revoked")

    # An entity key may not register for another entity; an auditor may not register.
    foreign = {"sha256": secrets.token_hex(32), "metadata": {"entity_ruc": OTHER_ENTITY}}
    assert_problem(
        api.client.post("/v1/documents", json=foreign, headers=api.auth("entity")),
        403,
        OTHER_ENTITY,
    )
    assert_problem(
        api.client.post("/v1/documents", json=doc, headers=api.auth("auditor")), 403, "role"
    )
    assert_problem(api.client.post("/v1/batches", headers=api.auth("auditor")), 403, "role")
    bulk = {"documents": [doc]}
    assert_problem(
        api.client.post("/v1/documents/bulk", json=bulk, headers=api.auth("auditor")), 403
    )
    # An admin registers for whichever entity the metadata names.
    made = api.client.post("/v1/documents", json=foreign, headers=api.auth("admin"))
    assert made.status_code == 201 and made.json()["entity_ruc"] == OTHER_ENTITY
    # Nothing was stored by the refused requests.
    assert (
        api.client.post("/v1/verify", json={"sha256": doc["sha256"]}).json()["registrations"][0][
            "entity_ruc"
        ]
        == ENTITY
    )


def test_versions_by_reference_per_role(api: Api) -> None:
    ref = "OC-2025-7"
    assert api.register(b"ours v1", {"reference": ref}).status_code == 201
    assert api.register(b"ours v2", {"reference": ref}).status_code == 201
    assert api.register(b"theirs", {"reference": ref}, role="other").status_code == 201

    own = api.client.get("/v1/documents", params={"reference": ref}, headers=api.auth("entity"))
    assert own.status_code == 200, own.text
    docs = own.json()["documents"]
    assert [d["version"] for d in docs] == [1, 2]
    assert all(d["entity_ruc"] == ENTITY and d["receipt"]["status"] == "pending" for d in docs)

    audited = api.client.get(
        "/v1/documents", params={"reference": ref}, headers=api.auth("auditor")
    )
    assert sorted(d["entity_ruc"] for d in audited.json()["documents"]) == [
        ENTITY,
        ENTITY,
        OTHER_ENTITY,
    ]
    one = api.client.get(
        "/v1/documents",
        params={"reference": ref, "entity": OTHER_ENTITY},
        headers=api.auth("admin"),
    )
    assert [d["entity_ruc"] for d in one.json()["documents"]] == [OTHER_ENTITY]
    assert_problem(
        api.client.get(
            "/v1/documents",
            params={"reference": ref, "entity": OTHER_ENTITY},
            headers=api.auth("entity"),
        ),
        403,
    )
    assert_problem(api.client.get("/v1/documents", params={"reference": ref}), 401)


# --- idempotency and bulk ------------------------------------------------------------------


def test_idempotent_registration(api: Api) -> None:
    meta = {"reference": "OC-9", "type": "contract"}
    first = api.register(b"same bytes", meta)
    again = api.register(b"same bytes", meta)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False and again.json()["id"] == first.json()["id"]
    # Same digest, other metadata: a new registration (a new version of the reference).
    other = api.register(b"same bytes", {"reference": "OC-9", "type": "addendum"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_bulk_registration(api: Api) -> None:
    items = [
        {"sha256": secrets.token_hex(32), "metadata": {"reference": f"B-{i}"}} for i in range(300)
    ]
    first = api.client.post(
        "/v1/documents/bulk", json={"documents": items}, headers=api.auth("entity")
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["created"], body["existing"]) == (300, 0)
    assert [d["sha256"] for d in body["documents"]] == [i["sha256"] for i in items]
    assert all(d["status"] == "pending" and "receipt" not in d for d in body["documents"])

    api.client.post("/v1/batches", headers=api.auth("entity"))
    fresh = {"sha256": secrets.token_hex(32), "metadata": {}}
    again = api.client.post(
        "/v1/documents/bulk",
        params={"receipts": "true"},
        json={"documents": [items[0], fresh]},
        headers=api.auth("entity"),
    ).json()
    assert (again["created"], again["existing"]) == (1, 1)
    assert again["documents"][0]["status"] in ("anchored", "confirmed")
    assert again["documents"][0]["receipt"]["anchor"] is not None
    assert again["documents"][1]["receipt"]["status"] == "pending"


def test_bulk_is_all_or_nothing(api: Api) -> None:
    good = {"sha256": secrets.token_hex(32), "metadata": {}}
    for bad, status, needle in (
        ({"sha256": secrets.token_hex(32), "metadata": {"x": 0.5}}, 422, "documents[1]"),
        (
            {"sha256": secrets.token_hex(32), "metadata": {"entity_ruc": OTHER_ENTITY}},
            403,
            "documents[1]",
        ),
        ({"sha256": "ab" * 31}, 422, "documents[1].sha256"),
    ):
        response = api.client.post(
            "/v1/documents/bulk", json={"documents": [good, bad]}, headers=api.auth("entity")
        )
        assert_problem(response, status, needle)
    assert api.client.post("/v1/verify", json={"sha256": good["sha256"]}).json()["status"] == (
        "not_found"
    )
    too_many = {"documents": [good] * 10_001}
    assert_problem(
        api.client.post("/v1/documents/bulk", json=too_many, headers=api.auth("entity")),
        422,
        "10000",
    )


# --- bad input ----------------------------------------------------------------------------

HEX = "ab" * 32


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"sha256": ', "json"),
        (b"[1, 2]", "object"),
        (json.dumps({"sha256": HEX.upper()}).encode(), "lowercase"),
        (json.dumps({"sha256": "0x" + HEX}).encode(), "without 0x"),
        (json.dumps({"sha256": HEX[:-2]}).encode(), "64 lowercase hex"),
        (json.dumps({"sha256": 12}).encode(), "sha256"),
        (json.dumps({"sha256": HEX, "metadata": {"amount": 10.5}}).encode(), "floating-point"),
        (json.dumps({"sha256": HEX, "metadata": {"n": 2**60}}).encode(), "2^53"),
        (json.dumps({"sha256": HEX, "metadata": ["a"]}).encode(), "metadata"),
        (json.dumps({"sha256": HEX, "metadata": "x"}).encode(), "metadata"),
        (
            json.dumps({"sha256": HEX, "metadata": {"note": "x" * MAX_METADATA_BYTES}}).encode(),
            str(MAX_METADATA_BYTES),
        ),
        (json.dumps({"sha256": HEX, "metdata": {}}).encode(), "metdata"),
    ],
)
def test_malformed_registration_is_a_helpful_422(api: Api, body: bytes, needle: str) -> None:
    response = api.client.post(
        "/v1/documents",
        content=body,
        headers={**api.auth("entity"), "Content-Type": "application/json"},
    )
    assert_problem(response, 422, needle)


def test_malformed_multipart_and_media_types(api: Api) -> None:
    headers = api.auth("entity")
    no_file = api.client.post(
        "/v1/documents", data={"metadata": "{}"}, files={"x": ("a", b"1")}, headers=headers
    )
    assert_problem(no_file, 422, "'x'")
    bad_meta = api.client.post(
        "/v1/documents",
        files={"file": ("a", b"1")},
        data={"metadata": "{not json"},
        headers=headers,
    )
    assert_problem(bad_meta, 422, "not valid JSON")
    list_meta = api.client.post(
        "/v1/documents", files={"file": ("a", b"1")}, data={"metadata": "[1]"}, headers=headers
    )
    assert_problem(list_meta, 422, "JSON object")
    only_meta = api.client.post(
        "/v1/verify",
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_problem(only_meta, 422, "closing boundary")
    text = api.client.post("/v1/verify", content=b"hello", headers={"Content-Type": "text/plain"})
    assert_problem(text, 415, "multipart/form-data")
    assert_problem(api.client.post("/v1/verify", json={"sha256": HEX.upper()}), 422, "lowercase")


def test_malformed_receipt_names_the_member(api: Api) -> None:
    made = api.register(b"receipt source", {"reference": "R"}).json()["receipt"]
    del made["proof"]
    response = api.client.post("/v1/receipts/verify", json={"receipt": made})
    assert_problem(response, 422, "proof")
    made["proof"] = None
    made["document"]["salt"] = "zz"
    assert_problem(api.client.post("/v1/receipts/verify", json={"receipt": made}), 422, "salt")
    assert_problem(api.client.post("/v1/receipts/verify", json={"receipt": []}), 422, "receipt")


def test_errors_are_problems_everywhere(api: Api) -> None:
    body = assert_problem(api.client.get("/v1/nothing-here"), 404, "/docs")
    assert body["instance"] == "/v1/nothing-here"
    assert_problem(api.client.delete("/v1/verify"), 405, "POST")
    assert_problem(api.client.get("/v1/batches/999"), 404, "no batch 999")
    assert_problem(api.client.get("/v1/batches/0"), 422, "batch_id")
    assert_problem(api.client.get("/v1/batches", params={"limit": 0}), 422, "limit")
    assert_problem(api.client.get("/v1/batches/1/leaves", params={"limit": 10_001}), 422, "limit")


def test_unexpected_error_is_a_500_problem_without_traceback(api: Api) -> None:
    store = api.client.app.state.ctx.service.store  # type: ignore[attr-defined]

    def broken(_digest: str) -> Any:
        raise RuntimeError("secret internals")

    # Every way verify reads the store fails.
    store.lookup_with_versions = broken
    store.lookup_rows = broken
    response = api.client.post(
        "/v1/verify", json={"sha256": HEX}, headers={"X-Request-ID": "trace-me-1"}
    )
    body = assert_problem(response, 500)
    assert "secret internals" not in response.text
    assert body["request_id"] == "trace-me-1" == response.headers["x-request-id"]


def test_request_id_is_echoed_or_made(api: Api) -> None:
    given = api.client.get("/v1/keys", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = api.client.get("/v1/keys", headers={"X-Request-ID": "bad id\twith spaces"})
    assert made.headers["x-request-id"] not in ("", "bad id\twith spaces")
    assert len(made.headers["x-request-id"]) == 32


# --- uploads ----------------------------------------------------------------------------


@pytest.fixture
def small_api(
    tmp_path: Path, database_url: str, anvil: AnvilNode, deployed: tuple[Any, str]
) -> Iterator[Api]:
    settings = settings_for(
        tmp_path, database_url, anvil.rpc_url, deployed[1], max_upload_bytes=1024
    )
    yield from _make_api(settings)


def test_upload_limit(small_api: Api) -> None:
    client = small_api.client
    fits = client.post("/v1/verify", files={"file": ("a", b"x" * 1024)})
    assert fits.status_code == 200 and fits.json()["size"] == 1024
    assert fits.json()["sha256"] == hashlib.sha256(b"x" * 1024).hexdigest()
    over = client.post("/v1/verify", files={"file": ("a", b"x" * 1025)})
    assert_problem(over, 413, "1024")

    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        for _ in range(64):
            yield b"y" * 100
        yield b"\r\n--b--\r\n"

    streamed = client.post(
        "/v1/documents",
        content=chunks(),
        headers={**small_api.auth("entity"), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_problem(streamed, 413, "DOCANCHOR_MAX_UPLOAD_BYTES")
    declared = client.post(
        "/v1/verify",
        content=b"",
        headers={"Content-Type": "multipart/form-data; boundary=b", "Content-Length": "99999999"},
    )
    assert_problem(declared, 413)


def test_upload_is_refused_before_the_rest_is_read() -> None:
    """The reader stops pulling the body as soon as the file passes the limit."""
    import asyncio

    from starlette.requests import Request

    from docanchor.api.uploads import read_form
    from docanchor.errors import PayloadTooLargeError

    head = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
    parts = [head] + [b"z" * 1000] * 1000 + [b"\r\n--b--\r\n"]
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = parts[pulled]
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < len(parts)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/verify",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
    }
    with pytest.raises(PayloadTooLargeError):
        asyncio.run(read_form(Request(scope, receive), max_file_bytes=5000))
    assert pulled <= 8, pulled


# --- operations -------------------------------------------------------------------------


def test_health_ready_and_metrics(api: Api) -> None:
    health = api.client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["node"]["ok"] is True
    ready = api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert {"database", "node", "contract"} == ready.json()["checks"].keys()

    api.register(b"metric me", {"reference": "M-1"})
    api.client.post("/v1/verify", json={"sha256": hashlib.sha256(b"metric me").hexdigest()})
    api.client.post("/v1/verify", json={"sha256": "nope"})
    api.client.post("/v1/batches", headers=api.auth("entity"))
    text = api.client.get("/metrics").text
    for needle in (
        'docanchor_documents{status="pending"}',
        'docanchor_batches{status="confirmed"} 1.0',
        'docanchor_verify_requests_total{outcome="pending"} 1.0',
        'docanchor_verify_requests_total{outcome="invalid"} 1.0',
        "docanchor_anchoring_latency_seconds_count 1.0",
        "docanchor_anchor_gas_used_total",
        "docanchor_seconds_since_last_confirmed_batch",
        "docanchor_chain_head_block",
        'route="/v1/verify"',
        "docanchor_http_request_duration_seconds_count"
        '{method="POST",route="/v1/documents",status="201"} 1.0',
    ):
        assert needle in text, needle


def test_node_down_lookups_still_answer(tmp_path: Path, database_url: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    # Nothing listens there: each call to the node is refused once, not retried.
    settings = settings_for(tmp_path, database_url, dead, "0x" + "11" * 20, rpc_retry_deadline=0)
    for api in _make_api(settings):
        made = api.register(b"while the node sleeps", {"reference": "N-1"})
        assert made.status_code == 201
        digest = hashlib.sha256(b"while the node sleeps").hexdigest()
        assert api.client.post("/v1/verify", json={"sha256": digest}).json()["status"] == "pending"
        sealed = api.client.post("/v1/batches", headers=api.auth("entity"))
        assert sealed.status_code == 202  # sealed now; anchoring retries when the node is back
        batch = api.client.get(f"/v1/batches/{sealed.json()['batches'][0]['id']}").json()
        assert batch["status"] == "sealed" and batch["confirmations"] is None
        health = api.client.get("/healthz")
        assert health.status_code == 503
        checks = health.json()["checks"]
        assert checks["database"]["ok"] is True and checks["node"]["ok"] is False
        ready = api.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["contract"]["ok"] is False
        receipt = made.json()["receipt"]
        assert_problem(api.client.post("/v1/receipts/verify", json={"receipt": receipt}), 503)
        assert (
            'docanchor_anchor_loop_passes_total{result="error"} 1.0'
            in api.client.get("/metrics").text
        )


def test_openapi_documents_every_endpoint(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {
        ("/v1/verify", "post"),
        ("/v1/receipts/verify", "post"),
        ("/v1/batches", "get"),
        ("/v1/batches", "post"),
        ("/v1/batches/{batch_id}", "get"),
        ("/v1/batches/{batch_id}/leaves", "get"),
        ("/v1/keys", "get"),
        ("/v1/deployments", "get"),
        ("/v1/documents", "post"),
        ("/v1/documents", "get"),
        ("/v1/documents/bulk", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }
    assert expected <= {(p, m) for p, ops in paths.items() for m in ops}
    body = paths["/v1/verify"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= body.keys()
    # The receipt check reads its body itself; the schema still says what it takes.
    receipt_body = paths["/v1/receipts/verify"]["post"]["requestBody"]["content"]
    assert receipt_body["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReceiptCheckBody"
    }
    assert {"receipt", "sha256"} <= schema["components"]["schemas"]["ReceiptCheckBody"][
        "properties"
    ].keys()
    assert (
        "application/problem+json" in paths["/v1/documents"]["post"]["responses"]["422"]["content"]
    )
    assert api.client.get("/docs").status_code == 200


def test_leaf_hashes_never_reveal_salts(api: Api) -> None:
    made = api.register(b"salted", {"reference": "S-1"}).json()
    api.client.post("/v1/batches", headers=api.auth("entity"))
    receipt = api.client.post("/v1/verify", json={"sha256": made["sha256"]}).json()["receipts"][0]
    batch_id = receipt["batch"]["id"]
    (leaf,) = api.client.get(f"/v1/batches/{batch_id}/leaves").json()["leaves"]
    doc = receipt["document"]
    expected = leaf_hash(bytes.fromhex(doc["salt"] + doc["sha256"] + doc["metadata_sha256"]))
    assert leaf == expected.hex()
    assert doc["salt"] not in json.dumps(api.client.get(f"/v1/batches/{batch_id}").json())


# --- the log (log-v1 section 5) --------------------------------------------------------


def test_log_endpoints_prove_every_checkpoint_extends_the_one_before(api: Api) -> None:
    from docanchor import merkle

    sizes = []
    for round_ in range(3):
        for n in range(round_ + 2):
            assert api.register(f"log doc {round_} {n}".encode()).status_code == 201
        (batch,) = api.client.post("/v1/batches", headers=api.auth("entity")).json()["batches"]
        sizes.append(batch["tree_size"])
        assert batch["first_index"] == (sizes[-2] if len(sizes) > 1 else 0)
    assert sizes == [2, 5, 9]
    _poll(
        lambda: api.client.get("/v1/log/checkpoints").json(),
        lambda d: [c["status"] for c in d["checkpoints"]] == ["confirmed"] * 3,
    )
    checkpoints = api.client.get("/v1/log/checkpoints").json()["checkpoints"]
    assert [(c["seq"], c["tree_size"]) for c in checkpoints] == [(0, 2), (1, 5), (2, 9)]
    assert all(c["tx_hash"].startswith("0x") and c["block_hash"] for c in checkpoints)
    later = api.client.get("/v1/log/checkpoints", params={"start": 1, "limit": 1}).json()
    assert [c["seq"] for c in later["checkpoints"]] == [1]
    beyond = api.client.get("/v1/log/checkpoints", params={"start": 2**40}).json()
    assert beyond == {"checkpoints": []}
    roots = {c["tree_size"]: bytes.fromhex(c["root"]) for c in checkpoints}

    leaves_body = api.client.get("/v1/log/leaves", params={"start": 0, "end": 9}).json()
    assert (leaves_body["start"], leaves_body["end"]) == (0, 9)
    leaves = [bytes.fromhex(h) for h in leaves_body["leaves"]]
    for size, root in roots.items():
        assert root_of(leaves[:size]) == root
        compact = api.client.get("/v1/log/compact-range", params={"size": size}).json()
        assert compact["size"] == size
        assert (
            merkle.fold_compact_range([bytes.fromhex(h) for h in compact["compact_range"]]) == root
        )
    assert api.client.get("/v1/log/compact-range", params={"size": 0}).json()["compact_range"] == []
    for first in roots:
        for second in roots:
            if first > second:
                continue
            body = api.client.get(
                "/v1/log/consistency", params={"first": first, "second": second}
            ).json()
            assert body["first_root"] == roots[first].hex()
            assert body["second_root"] == roots[second].hex()
            merkle.verify_consistency(
                first,
                second,
                [bytes.fromhex(h) for h in body["proof"]],
                roots[first],
                roots[second],
            )

    # A batch's leaves carry the compact range before it: the range check gives its root.
    batch_id = checkpoints[2]["batch_id"]
    page = api.client.get(f"/v1/batches/{batch_id}/leaves").json()
    assert (page["first_index"], page["tree_size"]) == (5, 9)
    merkle.verify_range(
        [bytes.fromhex(h) for h in page["compact_range"]],
        page["first_index"],
        [bytes.fromhex(h) for h in page["leaves"]],
        roots[9],
    )

    # Receipts carry the log index and the first checkpoint that holds the leaf.
    (found,) = api.client.post(
        "/v1/verify", json={"sha256": hashlib.sha256(b"log doc 1 2").hexdigest()}
    ).json()["receipts"]
    assert found["proof"]["leaf_index"] == 4 and found["proof"]["tree_size"] == 5
    assert found["batch"]["root"] == roots[5].hex()

    # Problems: not a checkpoint, reversed, past the end, too many leaves at once.
    assert_problem(
        api.client.get("/v1/log/consistency", params={"first": 3, "second": 9}), 400, "checkpoint"
    )
    assert_problem(
        api.client.get("/v1/log/consistency", params={"first": 9, "second": 5}), 400, "larger"
    )
    assert_problem(api.client.get("/v1/log/compact-range", params={"size": 4}), 400, "checkpoint")
    assert_problem(
        api.client.get("/v1/log/leaves", params={"start": 0, "end": 100_001}), 400, "at most"
    )
    assert_problem(api.client.get("/v1/log/leaves", params={"start": 5, "end": 10}), 400, "end")
    assert_problem(api.client.get("/v1/log/leaves", params={"start": 6, "end": 5}), 400)
    assert_problem(api.client.get("/v1/log/leaves", params={"start": -1, "end": 5}), 422)


def _chunked(body: bytes) -> Iterator[bytes]:
    """The body as a stream of small chunks, sent without a Content-Length."""
    for start in range(0, len(body), 100):
        yield body[start : start + 100]


def _multipart(content: bytes, metadata: dict[str, Any] | None) -> tuple[bytes, str]:
    boundary = secrets.token_hex(8)
    parts = []
    if metadata is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'.encode()
            + json.dumps(metadata).encode()
            + b"\r\n"
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="oc.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _assert_json_answer(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


def test_every_content_type_gets_the_same_answer(api: Api) -> None:
    """Registration and verify answer with the same bytes whatever the body's shape:
    multipart or JSON, a JSON media type with a suffix, a padded body, and a body
    streamed without a Content-Length (read by the streaming path, not whole)."""
    content = secrets.token_bytes(3000)
    sha = hashlib.sha256(content).hexdigest()
    metadata = {"reference": f"CT-{sha[:8]}", "type": "invoice"}
    auth = api.auth("entity")
    form, form_type = _multipart(content, metadata)
    made = api.client.post(
        "/v1/documents", content=form, headers={**auth, "Content-Type": form_type}
    )
    _assert_json_answer(made, 201)
    first = made.json()
    assert first["created"] is True and first["sha256"] == sha
    assert first["metadata"] == {**metadata, "entity_ruc": ENTITY}
    assert first["receipt"]["status"] == "pending"

    as_json = json.dumps({"sha256": sha, "metadata": metadata}).encode()
    repeats = {
        "json": (as_json, "application/json"),
        "json-suffix": (as_json, "application/vnd.docanchor+json; charset=utf-8"),
        "json-padded": (b"  " + as_json + b"\n", "application/json"),
        "multipart": (form, form_type),
    }
    answers: dict[str, bytes] = {}
    for name, (body, kind) in repeats.items():
        for streamed in (False, True):
            response = api.client.post(
                "/v1/documents",
                content=_chunked(body) if streamed else body,
                headers={**auth, "Content-Type": kind},
            )
            _assert_json_answer(response, 200)
            assert response.json() == {**first, "created": False}, (name, streamed)
            answers[f"{name}{'-streamed' if streamed else ''}"] = response.content
    assert len(set(answers.values())) == 1, answers.keys()

    query = json.dumps({"sha256": sha}).encode()
    verified: dict[str, Any] = {}
    for name, (body, kind) in {
        "json": (query, "application/json"),
        "json-suffix": (query, "application/problem+json"),
        "json-padded": (b" " * 1500 + query, "application/json"),
    }.items():
        for streamed in (False, True):
            response = api.client.post(
                "/v1/verify",
                content=_chunked(body) if streamed else body,
                headers={"Content-Type": kind},
            )
            _assert_json_answer(response, 200)
            verified[f"{name}{'-streamed' if streamed else ''}"] = response.content
    assert len(set(verified.values())) == 1, verified.keys()
    answer = json.loads(next(iter(verified.values())))
    assert answer["status"] == "pending" and answer["sha256"] == sha
    assert answer["receipts"] == [first["receipt"]]
    assert [r["id"] for r in answer["registrations"]] == [first["id"]]
    upload, upload_type = _multipart(content, None)
    by_file = api.client.post("/v1/verify", content=upload, headers={"Content-Type": upload_type})
    _assert_json_answer(by_file, 200)
    assert by_file.json() == {**answer, "filename": "oc.pdf", "size": len(content)}

    bulk = json.dumps(
        {"documents": [{"sha256": sha, "metadata": metadata}, {"sha256": "ab" * 32}]}
    ).encode()
    plain = api.client.post(
        "/v1/documents/bulk", content=bulk, headers={**auth, "Content-Type": "application/json"}
    )
    streamed = api.client.post(
        "/v1/documents/bulk",
        content=_chunked(bulk),
        headers={**auth, "Content-Type": "application/json"},
    )
    _assert_json_answer(plain, 200)
    _assert_json_answer(streamed, 200)
    assert plain.json()["documents"][0] == {
        "id": first["id"],
        "sha256": sha,
        "created": False,
        "status": "pending",
    }
    assert plain.json()["created"] == 1
    assert streamed.json() == {**plain.json(), "created": 0, "existing": 2} | {
        "documents": [{**d, "created": False} for d in plain.json()["documents"]]
    }

    text = api.client.get("/metrics").text
    for needle in (
        'docanchor_verify_requests_total{outcome="pending"} 7.0',
        'docanchor_http_request_duration_seconds_count{method="POST",route="/v1/documents",'
        'status="201"} 1.0',
        'docanchor_http_request_duration_seconds_count{method="POST",route="/v1/documents",'
        'status="200"} 8.0',
        'docanchor_http_request_duration_seconds_count{method="POST",route="/v1/verify",'
        'status="200"} 7.0',
    ):
        assert needle in text, needle


def test_the_batch_list_shows_why_a_batch_waits_without_node_secrets(api: Api) -> None:
    assert api.register(b"waiting").status_code == 201
    service = api.client.app.state.ctx.service  # type: ignore[attr-defined]
    sealed = service.seal()
    secret = "https://user:pw@node.example/v3/k3y"
    service.store.update_batch(
        sealed.id,
        last_error=f"the node at {secret} refused: replacement transaction underpriced",
        tx_log=json.dumps(
            [
                {"kind": "sent", "tx_hash": "0x" + "ab" * 32, "nonce": 7, "error": None},
                {"kind": "bump", "tx_hash": "0x" + "cd" * 32, "nonce": 7, "error": secret},
                {"kind": "reorg", "lost_tx_hash": "0x" + "ef" * 32, "lost_block_number": 9},
            ]
        ),
    )
    page = api.client.get("/v1/batches").json()
    (listed,) = [b for b in page["batches"] if b["id"] == sealed.id]
    assert listed["status"] == "sealed"
    assert listed["last_error"] == (
        "the node at https://node.example refused: replacement transaction underpriced"
    )
    assert [a["kind"] for a in listed["attempts"]] == ["sent", "bump", "reorg"]
    assert listed["attempts"][1]["error"] == "https://node.example"
    assert listed["reanchored"] is True
    assert "pw" not in json.dumps(page) and "k3y" not in json.dumps(page)
    view = api.client.get(f"/v1/batches/{sealed.id}").json()
    assert listed == {k: v for k, v in view.items() if k != "confirmations"}
    # The OpenAPI document says so.
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    item = schemas["BatchPage"]["properties"]["batches"]["items"]["$ref"].rsplit("/", 1)[1]
    assert {"last_error", "reanchored", "attempts"} <= schemas[item]["properties"].keys()

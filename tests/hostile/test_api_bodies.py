"""Hostile request bodies, on every endpoint that reads one: each is refused with the
right status and an RFC 9457 problem, nothing is stored, and the process lives on.

Depth floods, duplicate members, NaN, lone surrogates, NUL characters, numbers the
receipt format refuses, bodies that are not UTF-8 or not JSON, wrong content types
and oversized bodies, on ``POST /v1/verify``, ``POST /v1/documents`` (JSON and the
multipart ``metadata`` field), ``POST /v1/documents/bulk`` and
``POST /v1/receipts/verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from docanchor.api import routes_entity, routes_ops, routes_public
from docanchor.api.routes_entity import BULK_BODY_LIMIT, REGISTER_BODY_LIMIT
from docanchor.api.routes_public import DIGEST_BODY_LIMIT, RECEIPT_BODY_LIMIT
from tests.support.anvil import AnvilNode
from tests.support.dbfixtures import database_kinds, fresh_database_url
from tests.support.hostileapi import (
    ENTITY,
    HEX,
    Api,
    assert_alive,
    assert_problem,
    make_api,
    settings_for,
)


@pytest.fixture(scope="module", params=database_kinds())
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, anvil: AnvilNode
) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("bodies")
    with fresh_database_url(request.param, folder) as url:
        yield from make_api(settings_for(folder, url, anvil.rpc_url, None))


# Each endpoint: (path, role whose key is sent or None, how a member value becomes a body,
# the most bytes it accepts).
Wrap = Callable[[str], str]
ENDPOINTS: dict[str, tuple[str, str | None, Wrap, int]] = {
    "verify": ("/v1/verify", None, lambda v: f'{{"sha256": {v}}}', DIGEST_BODY_LIMIT),
    "register": (
        "/v1/documents",
        "entity",
        lambda v: f'{{"sha256": "{HEX}", "metadata": {{"note": {v}}}}}',
        REGISTER_BODY_LIMIT,
    ),
    "bulk": (
        "/v1/documents/bulk",
        "entity",
        lambda v: f'{{"documents": [{{"sha256": "{HEX}", "metadata": {{"note": {v}}}}}]}}',
        BULK_BODY_LIMIT,
    ),
    "receipt": (
        "/v1/receipts/verify",
        None,
        lambda v: f'{{"receipt": {{"note": {v}}}}}',
        RECEIPT_BODY_LIMIT,
    ),
}

JSON = "application/json"

# (case id, raw body or a function of the endpoint's wrapper, content type, status, needle)
# A body is given as bytes, or made from the endpoint's wrapper and its size limit.
Body = bytes | Callable[[Wrap, int], bytes]
EVERY_ENDPOINT: list[tuple[str, Body, str | None, int, str]] = [
    ("bracket-flood", lambda w, n: b"[" * min(n, 100_000), JSON, 422, "levels deep"),
    ("object-flood", lambda w, n: b'{"a":' * min(n // 5, 50_000), JSON, 422, "levels deep"),
    # A body nests at most 65 levels; the receipt check counts the receipt's own (64).
    ("balanced-but-deep", b"[" * 100 + b"]" * 100, JSON, 422, "levels deep; at most 6"),
    ("deep-member", lambda w, n: w("[" * 80 + "]" * 80).encode(), JSON, 422, "nested"),
    (
        "duplicate-member",
        lambda w, n: w('"a"').replace("{", '{"dup": 1, "dup": 2, ', 1).encode(),
        JSON,
        422,
        "'dup' appears twice",
    ),
    ("nan", lambda w, n: w("NaN").encode(), JSON, 422, "NaN is not JSON"),
    ("infinity", lambda w, n: w("-Infinity").encode(), JSON, 422, "-Infinity is not JSON"),
    ("lone-high-surrogate", lambda w, n: w('"\\ud800"').encode(), JSON, 422, "surrogate"),
    ("lone-low-surrogate-name", b'{"x\\udc00": 1}', JSON, 422, "surrogate"),
    ("not-utf8", lambda w, n: w('"\xff"').encode("latin-1"), JSON, 422, "UTF-8"),
    ("huge-integer", lambda w, n: w("9" * min(n - 100, 5000)).encode(), JSON, 422, ""),
    ("truncated", lambda w, n: w('"a"')[:-3].encode(), JSON, 422, "not valid JSON"),
    ("empty", b"", JSON, 422, "not valid JSON"),
    ("array", b"[]", JSON, 422, "must be a JSON object"),
    ("string", b'"sha256"', JSON, 422, "must be a JSON object"),
    ("text-plain", b'{"sha256": "x"}', "text/plain", 415, ""),
    ("no-content-type", b'{"sha256": "x"}', None, 415, ""),
    ("form-urlencoded", b"sha256=x", "application/x-www-form-urlencoded", 415, ""),
]


def _post(api: Api, endpoint: str, body: bytes, content_type: str | None) -> Any:
    path, role, _, _ = ENDPOINTS[endpoint]
    headers = dict(api.auth(role)) if role else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.post(path, content=body, headers=headers)


def _assert_nothing_stored(api: Api) -> None:
    found = api.client.post("/v1/verify", json={"sha256": HEX})
    assert found.status_code == 200 and found.json()["status"] == "not_found", found.text


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [pytest.param(*case[1:], id=case[0]) for case in EVERY_ENDPOINT],
)
def test_hostile_bodies_are_refused_on_every_endpoint(
    api: Api, endpoint: str, body: Body, content_type: str | None, status: int, needle: str
) -> None:
    _, _, wrap, limit = ENDPOINTS[endpoint]
    raw = body(wrap, limit) if callable(body) else body
    response = _post(api, endpoint, raw, content_type)
    assert_problem(response, status, needle)
    _assert_nothing_stored(api)
    assert_alive(api.client)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_body_over_the_endpoint_limit_is_413(api: Api, endpoint: str) -> None:
    limit = ENDPOINTS[endpoint][3]
    response = _post(api, endpoint, b" " * (limit + 1), JSON)
    assert_problem(response, 413, str(limit))
    _assert_nothing_stored(api)
    assert_alive(api.client)


def _nest(depth: int, inner: str = "1") -> str:
    """``depth`` levels of arrays around ``inner``."""
    return "[" * depth + inner + "]" * depth


# (case id, path, role, body, status, needle): what only some endpoints read.
SPECIFIC: list[tuple[str, str, str | None, Any, int, str]] = [
    ("verify-nul-digest", "/v1/verify", None, {"sha256": "\u0000" * 64}, 422, "sha256"),
    ("verify-float", "/v1/verify", None, {"sha256": 1.5}, 422, "sha256"),
    ("verify-extra-member", "/v1/verify", None, {"sha256": HEX, "x": 1}, 422, "x"),
    (
        "register-nul-value",
        "/v1/documents",
        "entity",
        {"sha256": HEX, "metadata": {"reference": "OC-1\u0000"}},
        422,
        "NUL",
    ),
    (
        "register-nul-name",
        "/v1/documents",
        "entity",
        {"sha256": HEX, "metadata": {"ref\u0000": "OC-1"}},
        422,
        "NUL",
    ),
    (
        "register-nul-nested",
        "/v1/documents",
        "entity",
        {"sha256": HEX, "metadata": {"items": [{"name": "a\u0000b"}]}},
        422,
        "NUL",
    ),
    (
        "register-nul-entity",
        "/v1/documents",
        "admin",
        {"sha256": HEX, "metadata": {"entity_ruc": "2010\u0000"}},
        422,
        "NUL",
    ),
    (
        "register-exponent",
        "/v1/documents",
        "entity",
        {"sha256": HEX, "metadata": {"amount": 1e300}},
        422,
        "floating-point",
    ),
    (
        "register-metadata-63-deep",
        "/v1/documents",
        "entity",
        {"sha256": HEX, "metadata": {"x": json.loads(_nest(62))}},
        422,
        "nested more than 62",
    ),
    (
        "bulk-nul-value",
        "/v1/documents/bulk",
        "entity",
        {"documents": [{"sha256": HEX, "metadata": {"type": "\u0000"}}]},
        422,
        "NUL",
    ),
    (
        "bulk-duplicate-in-item",
        "/v1/documents/bulk",
        "entity",
        '{"documents": [{"sha256": "' + HEX + '", "sha256": "' + "cd" * 32 + '"}]}',
        422,
        "'sha256' appears twice",
    ),
    (
        "bulk-items-not-objects",
        "/v1/documents/bulk",
        "entity",
        {"documents": [1, 2]},
        422,
        "documents[0]",
    ),
    (
        "receipt-65-deep",
        "/v1/receipts/verify",
        None,
        '{"receipt": ' + _nest(65, "{}") + "}",
        422,
        "the receipt is nested 66 levels deep; at most 64 are allowed",
    ),
    (
        "receipt-fraction",
        "/v1/receipts/verify",
        None,
        '{"receipt": {"version": "docanchor-receipt/1", "x": 4.0}}',
        422,
        "fraction or exponent",
    ),
    (
        "receipt-not-a-receipt",
        "/v1/receipts/verify",
        None,
        {"receipt": {"version": "docanchor-receipt/0"}},
        422,
        "version",
    ),
]


@pytest.mark.parametrize(
    ("path", "role", "body", "status", "needle"),
    [pytest.param(*case[1:], id=case[0]) for case in SPECIFIC],
)
def test_endpoint_specific_bodies(
    api: Api, path: str, role: str | None, body: Any, status: int, needle: str
) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"Content-Type": JSON, **(api.auth(role) if role else {})}
    assert_problem(api.client.post(path, content=raw, headers=headers), status, needle)
    _assert_nothing_stored(api)
    assert_alive(api.client)


# (case id, metadata form field, needle)
FORM_FIELDS: list[tuple[str, bytes, str]] = [
    ("flood", b"[" * 60_000, "nested 60000 levels"),
    ("deep", _nest(70).encode(), "nested 70 levels"),
    ("duplicate", b'{"reference": "a", "reference": "b"}', "'reference' appears twice"),
    ("nul", b'{"reference": "OC\\u0000"}', "NUL"),
    ("surrogate", b'{"reference": "\\udfff"}', "surrogate"),
    ("nan", b'{"n": NaN}', "NaN"),
    ("not-utf8", b'{"reference": "\xfe"}', "UTF-8"),
    ("array", b"[1]", "JSON object"),
]


@pytest.mark.parametrize(
    ("field", "needle"), [pytest.param(*case[1:], id=case[0]) for case in FORM_FIELDS]
)
def test_multipart_metadata_field(api: Api, field: bytes, needle: str) -> None:
    document = b"multipart body " + field[:20]
    response = api.client.post(
        "/v1/documents",
        files={"file": ("a.pdf", document, "application/pdf"), "metadata": (None, field)},
        headers=api.auth("entity"),
    )
    assert_problem(response, 422, needle)
    digest = hashlib.sha256(document).hexdigest()
    assert api.client.post("/v1/verify", json={"sha256": digest}).json()["status"] == "not_found"
    assert_alive(api.client)


def test_the_limits_themselves_are_accepted(api: Api) -> None:
    """Metadata 62 levels deep (a body 63 deep) registers; a receipt 64 deep reaches the
    receipt checks (which refuse it as a receipt, not as JSON); a small verify body
    goes by the fast path and a larger one by the route, with the same answer."""
    deep = {"x": json.loads(_nest(61))}
    made = api.client.post(
        "/v1/documents",
        json={"sha256": "ef" * 32, "metadata": deep},
        headers=api.auth("entity"),
    )
    assert made.status_code == 201, made.text
    assert made.json()["entity_ruc"] == ENTITY
    receipt = api.client.post(
        "/v1/receipts/verify",
        content=('{"receipt": ' + '{"x": ' * 63 + "{}" + "}" * 63 + "}").encode(),
        headers={"Content-Type": JSON},
    )
    body = assert_problem(receipt, 422)
    assert "nested" not in body["detail"]
    fast = api.client.post("/v1/verify", json={"sha256": "ef" * 32})
    # A padded body (1 KiB of whitespace) answers as the compact one.
    padded = b'{"sha256": "' + b"ef" * 32 + b'"' + b" " * 1024 + b"}"
    slow = api.client.post("/v1/verify", content=padded, headers={"Content-Type": JSON})
    assert fast.status_code == slow.status_code == 200
    assert fast.json() == slow.json() and fast.json()["status"] == "pending"
    assert_alive(api.client)


def test_no_route_lets_the_framework_parse_a_body(api: Api) -> None:
    """FastAPI would decode a declared body model with its own parser, before any
    check of ours: every route reads its body itself (uploads.read_json, the one
    strict decoder) and declares it for OpenAPI with ``openapi_extra`` instead."""
    routes = [
        r
        for module in (routes_public, routes_entity, routes_ops)
        for r in module.router.routes
        if isinstance(r, APIRoute)
    ]
    assert {r.path for r in routes} >= {"/v1/verify", "/v1/documents", "/v1/documents/bulk"}
    assert [r.path for r in routes if r.body_field is not None] == []
    documented = api.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/verify", "/v1/documents", "/v1/documents/bulk", "/v1/receipts/verify"):
        assert "application/json" in documented[path]["post"]["requestBody"]["content"]

"""Hostile requests beyond the body: keys, roles, NUL in paths and query strings,
entities and references, and the headers every answer carries.

Every refusal is an RFC 9457 problem with the right status, and the process
answers ``/healthz`` after it.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest

from docanchor.api.guards import CONTENT_SECURITY_POLICY
from docanchor.errors import EXIT_USAGE, InputError
from tests.support.anvil import AnvilNode
from tests.support.dbfixtures import database_kinds, fresh_database_url
from tests.support.hostileapi import (
    ENTITY,
    OTHER_ENTITY,
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
    folder = tmp_path_factory.mktemp("requests")
    with fresh_database_url(request.param, folder) as url:
        yield from make_api(settings_for(folder, url, anvil.rpc_url, None))


def _digest() -> str:
    return secrets.token_hex(32)


# --- keys and roles ------------------------------------------------------------------

# (method, path, JSON body or None) of every endpoint that needs a key.
PROTECTED: dict[str, tuple[str, str, Any]] = {
    "register": ("POST", "/v1/documents", {"sha256": "ab" * 32}),
    "bulk": ("POST", "/v1/documents/bulk", {"documents": [{"sha256": "ab" * 32}]}),
    "seal": ("POST", "/v1/batches", None),
    "versions": ("GET", "/v1/documents?reference=OC-1", None),
}

# (case id, Authorization header or a role whose key is sent, status, needle)
CREDENTIALS: list[tuple[str, str | None, int, str]] = [
    ("no-header", None, 401, "Authorization: Bearer"),
    ("empty-bearer", "Bearer ", 401, "Authorization: Bearer"),
    ("basic-scheme", "Basic dXNlcjpwYXNz", 401, "Authorization: Bearer"),
    ("unknown-key", "Bearer dak_" + "x" * 43, 401, "not known"),
    ("huge-key", "Bearer " + "k" * 8000, 401, "not known"),
    ("latin1-key", "Bearer dak_\xe9\xe8", 401, "not known"),
    ("revoked-key", "role:revoked", 401, "revoked"),
]


@pytest.mark.parametrize("endpoint", list(PROTECTED))
@pytest.mark.parametrize(
    ("credential", "status", "needle"),
    [pytest.param(*case[1:], id=case[0]) for case in CREDENTIALS],
)
def test_keys_are_checked_on_every_protected_endpoint(
    api: Api, endpoint: str, credential: str | None, status: int, needle: str
) -> None:
    method, path, body = PROTECTED[endpoint]
    headers: dict[str, Any] = {}
    if credential is not None and credential.startswith("role:"):
        headers = api.auth(credential.removeprefix("role:"))
    elif credential is not None:
        headers = {"Authorization": credential.encode("latin-1")}
    response = api.client.request(method, path, json=body, headers=headers)
    assert_problem(response, status, needle)
    assert response.headers["www-authenticate"] == "Bearer"
    assert_alive(api.client)


@pytest.mark.parametrize("endpoint", ["register", "bulk", "seal"])
def test_an_auditor_may_not_write(api: Api, endpoint: str) -> None:
    method, path, body = PROTECTED[endpoint]
    response = api.client.request(method, path, json=body, headers=api.auth("auditor"))
    assert_problem(response, 403, "'auditor'")
    assert_alive(api.client)


# (case id, role, metadata, status, needle): who registers for which entity.
ENTITIES: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
    ("admin-no-metadata", "admin", None, 422, "an admin key must name the entity: entity_ruc"),
    ("admin-no-entity", "admin", {"reference": "R"}, 422, "must name the entity: entity_ruc"),
    ("admin-empty-entity", "admin", {"entity_ruc": ""}, 422, "must name the entity: entity_ruc"),
    ("admin-blank-entity", "admin", {"entity_ruc": "  "}, 422, "must name the entity"),
    ("admin-number-entity", "admin", {"entity_ruc": 20100000001}, 422, "must be a string"),
    ("admin-nul-entity", "admin", {"entity_ruc": "2010\u0000"}, 422, "NUL"),
    ("entity-empty-entity", "entity", {"entity_ruc": ""}, 422, "entity_ruc is empty"),
    ("entity-other-entity", "entity", {"entity_ruc": OTHER_ENTITY}, 403, OTHER_ENTITY),
    ("entity-nul-reference", "entity", {"reference": "OC\u0000-1"}, 422, "NUL"),
    ("entity-nul-type", "entity", {"type": "\u0000"}, 422, "NUL"),
    ("entity-long-reference", "entity", {"reference": "R" * 201}, 422, "200 characters"),
]


@pytest.mark.parametrize("how", ["single", "bulk"])
@pytest.mark.parametrize(
    ("role", "metadata", "status", "needle"),
    [pytest.param(*case[1:], id=case[0]) for case in ENTITIES],
)
def test_registrations_name_a_proper_entity(
    api: Api, how: str, role: str, metadata: dict[str, Any] | None, status: int, needle: str
) -> None:
    digest = _digest()
    item = {"sha256": digest, "metadata": metadata}
    if how == "single":
        response = api.client.post("/v1/documents", json=item, headers=api.auth(role))
    else:
        response = api.client.post(
            "/v1/documents/bulk", json={"documents": [item]}, headers=api.auth(role)
        )
    body = assert_problem(response, status, needle)
    if how == "bulk":
        assert body["detail"].startswith("documents[0]"), body["detail"]
    found = api.client.post("/v1/verify", json={"sha256": digest}).json()
    assert found["status"] == "not_found"
    assert_alive(api.client)


def test_an_admin_naming_the_entity_registers_for_it(api: Api) -> None:
    made = api.client.post(
        "/v1/documents",
        json={"sha256": _digest(), "metadata": {"entity_ruc": OTHER_ENTITY}},
        headers=api.auth("admin"),
    )
    assert made.status_code == 201, made.text
    assert made.json()["entity_ruc"] == OTHER_ENTITY


# --- NUL in paths and query strings ------------------------------------------------

# (case id, method, path with query, role or None)
NUL_TARGETS: list[tuple[str, str, str, str | None]] = [
    ("versions-reference", "GET", "/v1/documents?reference=OC%00-1", "entity"),
    ("versions-entity", "GET", "/v1/documents?reference=OC-1&entity=%00", "auditor"),
    ("batches-offset", "GET", "/v1/batches?offset=%00", None),
    ("batch-id", "GET", "/v1/batches/%00", None),
    ("leaves-id", "GET", "/v1/batches/1%00/leaves", None),
    ("verify-query", "POST", "/v1/verify?x=%00", None),
    ("register-query", "POST", "/v1/documents?x=%00", "entity"),
    ("bulk-receipts", "POST", "/v1/documents/bulk?receipts=%00", "entity"),
    ("web-page", "GET", "/%00", None),
    ("web-page-file", "GET", "/js/main.js%00.html", None),
    ("unknown-path", "GET", "/v1/nothing%00", None),
]


@pytest.mark.parametrize(
    ("method", "target", "role"),
    [pytest.param(*case[1:], id=case[0]) for case in NUL_TARGETS],
)
def test_nul_in_a_path_or_query_is_a_422(
    api: Api, method: str, target: str, role: str | None
) -> None:
    headers = api.auth(role) if role else {}
    body = {"sha256": "ab" * 32} if method == "POST" else None
    response = api.client.request(method, target, json=body, headers=headers)
    assert_problem(response, 422, "NUL")
    assert_alive(api.client)


def test_the_service_refuses_nul_so_the_cli_exits_2(api: Api) -> None:
    service: Any = api.client.app.state.ctx.service  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="NUL") as caught:
        service.versions("OC\x00")
    assert caught.value.exit_code == EXIT_USAGE
    with pytest.raises(InputError, match="NUL"):
        service.prepare_registration(b"\x01" * 32, {"note": ["\x00"]}, entity_ruc=ENTITY)
    with pytest.raises(InputError, match="NUL"):
        service.prepare_registration(b"\x01" * 32, None, entity_ruc="2010\x00")


# --- references in any Unicode normalisation ---------------------------------------


def test_a_reference_is_one_history_whatever_its_normalisation(api: Api) -> None:
    composed = "OC-A\u00f1o-\u00c9xito"  # "OC-Año-Éxito" as most keyboards type it
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    first = api.client.post(
        "/v1/documents",
        json={"sha256": _digest(), "metadata": {"reference": decomposed}},
        headers=api.auth("entity"),
    )
    assert first.status_code == 201, first.text
    assert first.json()["reference"] == composed
    assert first.json()["version"] == 1
    assert first.json()["metadata"]["reference"] == composed  # what the receipt commits to
    second = api.client.post(
        "/v1/documents/bulk",
        json={"documents": [{"sha256": _digest(), "metadata": {"reference": composed}}]},
        headers=api.auth("entity"),
    )
    assert second.status_code == 200, second.text
    for asked in (composed, decomposed):
        listed = api.client.get(
            "/v1/documents", params={"reference": asked}, headers=api.auth("entity")
        )
        assert listed.status_code == 200, listed.text
        assert listed.json()["reference"] == composed
        assert [d["version"] for d in listed.json()["documents"]] == [1, 2]
        assert {d["reference"] for d in listed.json()["documents"]} == {composed}
    # Other metadata values are the caller's, byte for byte.
    other = api.client.post(
        "/v1/documents",
        json={"sha256": _digest(), "metadata": {"reference": "N", "note": decomposed}},
        headers=api.auth("entity"),
    )
    assert other.json()["metadata"]["note"] == decomposed


# --- headers on every answer --------------------------------------------------------

# (case id, method, path, JSON body, role or None, status)
ANSWERS: list[tuple[str, str, str, Any, str | None, int]] = [
    ("web-page", "GET", "/", None, None, 200),
    ("docs", "GET", "/docs", None, None, 200),
    ("openapi", "GET", "/openapi.json", None, None, 200),
    ("verify-fast-path", "POST", "/v1/verify", {"sha256": "cd" * 32}, None, 200),
    ("verify-route", "POST", "/v1/verify", {"sha256": "CD" * 32}, None, 422),
    ("register-fast-path", "POST", "/v1/documents", {"sha256": "cd" * 32}, "entity", 201),
    ("keys", "GET", "/v1/keys", None, None, 200),
    ("healthz", "GET", "/healthz", None, None, 200),
    ("metrics", "GET", "/metrics", None, None, 200),
    ("not-found", "GET", "/v1/nothing", None, None, 404),
    ("wrong-method", "DELETE", "/v1/verify", None, None, 405),
    ("unauthenticated", "POST", "/v1/batches", None, None, 401),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in ANSWERS],
)
def test_every_answer_carries_the_security_headers(
    api: Api, method: str, path: str, body: Any, role: str | None, status: int
) -> None:
    headers = api.auth(role) if role else {}
    response = api.client.request(method, path, json=body, headers=headers)
    assert response.status_code == status, response.text[:300]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    if response.headers["content-type"].startswith("text/html"):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    else:
        assert "content-security-policy" not in response.headers
    # One of each, never repeated by two layers.
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    if status >= 400:
        assert_problem(response, status)
    assert_alive(api.client)

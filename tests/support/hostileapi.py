"""The API as the hostile-request tests drive it: a real app over a real database and
a real Anvil devnet, API keys of every role, and the checks every case makes.

Every case asserts the status, the RFC 9457 shape of the answer (type, title,
status, detail) and that the process still answers ``/healthz`` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from docanchor.api import create_app
from docanchor.config import ANVIL_DEV_PRIVATE_KEY, Settings
from docanchor.keys import create_key

ENTITY = "20100000001"
OTHER_ENTITY = "20600000002"
PROBLEM = "application/problem+json"
HEX = "ab" * 32
ROLES = ("entity", "other", "auditor", "admin", "revoked")


@dataclass
class Api:
    client: TestClient
    settings: Settings
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def settings_for(
    tmp_path: Path, database_url: str, rpc_url: str, contract: str | None, **extra: Any
) -> Settings:
    """The settings of an API under test: a data dir in ``tmp_path``, the devnet's first
    account, one confirmation, plain-text logs; ``extra`` overrides any of them."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rpc_url=rpc_url,
        contract_address=contract,
        private_key=ANVIL_DEV_PRIVATE_KEY,
        confirmations=1,
        log_json=False,
        **extra,
    )


def make_api(settings: Settings) -> Iterator[Api]:
    """The app ``create_app`` builds, with one key per role (and one revoked key)."""
    app = create_app(settings)
    store = app.state.ctx.service.store
    keys = {
        "entity": create_key(store, role="entity", entity_ruc=ENTITY).secret,
        "other": create_key(store, role="entity", entity_ruc=OTHER_ENTITY).secret,
        "auditor": create_key(store, role="auditor", entity_ruc=None).secret,
        "admin": create_key(store, role="admin", entity_ruc=None).secret,
    }
    revoked = create_key(store, role="entity", entity_ruc=ENTITY)
    assert revoked.key.id is not None
    from docanchor.store import utcnow

    store.revoke_api_key(revoked.key.id, utcnow())
    keys["revoked"] = revoked.secret
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, settings, keys)


def assert_problem(response: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    """An RFC 9457 problem with ``status`` whose detail holds every needle."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    assert response.headers.get("x-content-type-options") == "nosniff"
    body = response.json()
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in body["detail"]
    for needle in needles:
        assert needle.lower() in body["detail"].lower(), (needle, body["detail"])
    return body


def assert_alive(client: TestClient | httpx.Client) -> None:
    """The process still answers: ``/healthz`` says the process is up."""
    health = client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["process"] == {"ok": True, "detail": "up"}


__all__ = [
    "ENTITY",
    "HEX",
    "OTHER_ENTITY",
    "PROBLEM",
    "ROLES",
    "Api",
    "assert_alive",
    "assert_problem",
    "make_api",
    "settings_for",
]

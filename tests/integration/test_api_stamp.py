"""``POST /v1/stamp`` and ``POST /v1/verify`` with stamped PDFs, on a real Anvil and database."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from docanchor.api import create_app
from docanchor.config import ANVIL_DEV_PRIVATE_KEY, Settings
from docanchor.keys import create_key
from docanchor.pdf.stamped import read_stamp
from docanchor.receipt import parse_receipt_json
from tests.support.anvil import AnvilNode
from tests.support.pdfsamples import classic_pdf, decode_qr, qpdf, qpdf_check

ENTITY = "20100000001"
PROBLEM = "application/problem+json"
PUBLIC_URL = "https://verifica.example.gob.pe"


@pytest.fixture
def client(
    tmp_path: Path, database_url: str, anvil: AnvilNode, deployed: tuple[Any, str]
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rpc_url=anvil.rpc_url,
        contract_address=deployed[1],
        private_key=ANVIL_DEV_PRIVATE_KEY,
        confirmations=1,
        log_json=False,
        public_url=PUBLIC_URL,
        max_upload_bytes=4_000_000,
    )
    app = create_app(settings)
    key = create_key(app.state.ctx.service.store, role="entity", entity_ruc=ENTITY).secret
    with TestClient(app) as test_client:
        yield test_client, {"Authorization": f"Bearer {key}"}


def _register_and_anchor(client: TestClient, auth: dict[str, str], *docs: bytes) -> None:
    for doc in docs:
        made = client.post(
            "/v1/documents",
            json={"sha256": hashlib.sha256(doc).hexdigest(), "metadata": {"reference": "OC-1"}},
            headers=auth,
        )
        assert made.status_code == 201, made.text
    sealed = client.post("/v1/batches", headers=auth)
    assert sealed.status_code == 202, sealed.text


def _problem(response: Any, status: int, needle: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert needle.lower() in response.json()["detail"].lower(), response.json()


def test_stamp_and_verify_a_stamped_pdf(
    client: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    http, auth = client
    order = qpdf(classic_pdf(), "--object-streams=generate")
    manual = classic_pdf(title="Grande", padding=3_000_000)  # the verify tail slides
    _register_and_anchor(http, auth, order, manual)

    answer = http.post("/v1/stamp", files={"file": ("orden de compra ñ.pdf", order)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="orden de compra _.stamped.pdf"')
    assert "filename*=UTF-8''orden%20de%20compra%20%C3%B1.stamped.pdf" in disposition
    stamped = answer.content
    digest = hashlib.sha256(order).hexdigest()
    assert stamped.startswith(order)
    assert qpdf_check(stamped).returncode == 0
    reader = PdfReader(io.BytesIO(stamped))
    (embedded,) = reader.attachments["docanchor-receipt.json"]
    assert parse_receipt_json(embedded).document.sha256.hex() == digest
    assert decode_qr(stamped, len(reader.pages), tmp_path) == [f"{PUBLIC_URL}/?sha256={digest}"]

    # /v1/verify answers for the original part of a stamped file
    checked = http.post("/v1/verify", files={"file": ("orden.stamped.pdf", stamped)})
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["sha256"] == digest and body["status"] == "confirmed"
    assert body["size"] == len(order)
    assert body["stamped"] == {"size": len(stamped), "original_length": len(order)}
    assert body["receipts"][0]["document"]["sha256"] == digest

    # a stamped PDF larger than twice the tail /v1/verify keeps
    big = http.post("/v1/stamp", files={"file": ("manual.pdf", manual)}).content
    found = read_stamp(big)
    assert found is not None and found.original_length == len(manual)
    body = http.post("/v1/verify", files={"file": ("m.pdf", big)}).json()
    assert body["sha256"] == hashlib.sha256(manual).hexdigest() and body["status"] == "confirmed"

    # a copy whose original part was changed answers for what it now holds: not registered
    changed = bytearray(stamped)
    changed[len(order) // 2] ^= 1
    body = http.post("/v1/verify", files={"file": ("x.pdf", bytes(changed))}).json()
    assert body["status"] == "not_found" and body["sha256"] != digest
    # an unstamped file is answered as before
    body = http.post("/v1/verify", files={"file": ("o.pdf", order)}).json()
    assert body["sha256"] == digest and "stamped" not in body


def test_stamp_refusals_are_problems(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    pending = classic_pdf(title="Pendiente")
    made = http.post(
        "/v1/documents",
        json={"sha256": hashlib.sha256(pending).hexdigest(), "metadata": {}},
        headers=auth,
    )
    assert made.status_code == 201
    _problem(http.post("/v1/stamp", files={"file": ("p.pdf", pending)}), 409, "not anchored yet")
    _problem(
        http.post("/v1/stamp", files={"file": ("u.pdf", classic_pdf(title="Otro"))}),
        404,
        "no registration",
    )
    encrypted = qpdf(classic_pdf(), "--encrypt", "u", "o", "256", "--")
    _problem(http.post("/v1/stamp", files={"file": ("e.pdf", encrypted)}), 422, "encrypted")
    _problem(http.post("/v1/stamp", files={"file": ("t.pdf", b"hola")}), 422, "not a PDF")
    _problem(
        http.post("/v1/stamp", files={"file": ("c.pdf", classic_pdf()[:-100])}), 422, "truncated"
    )
    _problem(http.post("/v1/stamp", json={"sha256": "00" * 32}), 415, "multipart/form-data")
    too_big = http.post("/v1/stamp", files={"file": ("big.pdf", b"%PDF-" + b"0" * 4_000_000)})
    _problem(too_big, 413, "DOCANCHOR_MAX_UPLOAD_BYTES")


def test_openapi_describes_stamp(client: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = client
    operation = http.get("/openapi.json").json()["paths"]["/v1/stamp"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert {"404", "409", "413", "415", "422"} <= operation["responses"].keys()

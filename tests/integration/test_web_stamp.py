"""Stamped PDFs on the verification page, in a real headless Chromium against the real app.

A PDF is registered, anchored on a real Anvil and stamped by the service;
the page must find the stamp, check the original part, and open on the
document named by the stamp's QR code (decoded from the rendered page).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.request import urlopen

import pytest

from docanchor.devnet import free_port
from tests.support.anvil import AnvilNode
from tests.support.pdfsamples import classic_pdf, decode_qr, pdfinfo_pages
from tests.support.webserve import UI_TIMEOUT_MS, deployed_service, serve, shot

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Request

pytestmark = pytest.mark.browser


@dataclass
class StampSite:
    base_url: str
    rpc_url: str
    receipt: Path
    original: bytes
    stamped: Path
    other: Path
    changed: Path
    qr_url: str


@pytest.fixture(scope="module")
def site(anvil: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StampSite]:
    folder = tmp_path_factory.mktemp("webstamp")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    served = deployed_service(anvil, folder / "data", public_url=base_url)
    service, settings = served.service, served.settings
    original = classic_pdf(lang="es-PE", title="Orden de compra sellada")
    other = classic_pdf(title="Otra orden")
    meta = {"reference": "OC-2025-004242", "type": "purchase_order"}
    for doc in (original, other):
        service.register(hashlib.sha256(doc).digest(), meta, entity_ruc="20131370998")
    service.run_once()
    service.run_once()
    stamped = service.stamp(original, public_url=settings.public_url)
    files = {name: folder / f"{name}.pdf" for name in ("stamped", "other", "changed")}
    files["stamped"].write_bytes(stamped)
    files["other"].write_bytes(other)
    changed = bytearray(stamped)
    changed[stamped.index(b"OC-2025-000001") + 13] = ord("5")
    files["changed"].write_bytes(bytes(changed))
    (qr_url,) = decode_qr(stamped, pdfinfo_pages(stamped), folder)
    receipt = folder / "receipt.json"
    (view,) = service.lookup(hashlib.sha256(original).digest())
    receipt.write_text(json.dumps(service.receipt_json(view), indent=2), encoding="utf-8")

    with serve(served, port):
        yield StampSite(
            base_url,
            anvil.rpc_url,
            receipt,
            original,
            files["stamped"],
            files["other"],
            files["changed"],
            qr_url,
        )


@pytest.fixture
def page(browser: Browser, site: StampSite) -> Iterator[tuple[Page, list[Request]]]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.base_url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    tab = context.new_page()
    sent: list[Request] = []
    tab.on("request", lambda request: sent.append(request))
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    # The browser logs the refused connection to the unreachable node of one test.
    tab.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "ERR_CONNECTION_REFUSED" not in m.text
            else None
        ),
    )
    try:
        yield tab, sent
    finally:
        context.close()
    assert not errors, f"the page reported errors: {errors}"


def _announced(page: Page, text: str) -> Locator:
    return page.get_by_role("status").filter(has_text=text)


def test_a_stamped_pdf_is_checked_for_its_original(
    page: tuple[Page, list[Request]], site: StampSite
) -> None:
    from playwright.sync_api import expect

    tab, sent = page
    tab.goto("/")
    tab.locator('input[type="file"]').first.set_input_files(str(site.stamped))
    expect(_announced(tab, "Documento auténtico y confirmado")).to_be_visible()
    digest = hashlib.sha256(site.original).hexdigest()
    expect(tab.locator("#verify-result")).to_contain_text(digest)
    expect(tab.locator(".stamped-line")).to_contain_text("PDF sellado")
    verify_calls = [r for r in sent if r.url.endswith("/v1/verify")]
    assert [json.loads(r.post_data or "{}") for r in verify_calls] == [{"sha256": digest}]
    shot(tab, "stamped-authentic")


def test_a_changed_stamped_copy_is_not_registered(
    page: tuple[Page, list[Request]], site: StampSite
) -> None:
    from playwright.sync_api import expect

    tab, _ = page
    tab.goto("/")
    tab.locator('input[type="file"]').first.set_input_files(str(site.changed))
    expect(_announced(tab, "Documento no registrado")).to_be_visible()
    expect(tab.locator(".stamped-line")).to_be_visible()
    expect(tab.locator("#verify-result")).not_to_contain_text(
        hashlib.sha256(site.original).hexdigest()
    )


def test_the_qr_code_opens_the_document_and_invites_a_byte_check(
    page: tuple[Page, list[Request]], site: StampSite
) -> None:
    from playwright.sync_api import expect

    tab, _ = page
    digest = hashlib.sha256(site.original).hexdigest()
    assert site.qr_url == f"{site.base_url}/?sha256={digest}"
    tab.goto(site.qr_url)
    expect(_announced(tab, "Estado del documento: Confirmado")).to_be_visible()
    expect(tab.locator(".landing-invite")).to_contain_text("Elija su copia del archivo")
    expect(tab.locator("#verify-result")).to_contain_text(digest)
    expect(tab.locator("#verify-result")).to_contain_text("OC-2025-004242")
    versions = tab.get_by_role("table").filter(has_text="Huella SHA-256")
    expect(versions).to_contain_text(digest)
    shot(tab, "qr-landing")

    tab.locator('input[type="file"]').first.set_input_files(str(site.stamped))
    expect(tab.locator(".landing-match")).to_contain_text("coincide byte por byte")
    expect(_announced(tab, "Documento auténtico y confirmado")).to_be_visible()
    tab.locator('input[type="file"]').first.set_input_files(str(site.other))
    expect(tab.locator(".landing-mismatch")).to_contain_text("NO coincide")


def test_a_stamped_pdf_is_checked_with_only_the_users_node(
    page: tuple[Page, list[Request]], site: StampSite
) -> None:
    from playwright.sync_api import expect

    tab, sent = page
    tab.goto(f"/?rpc={site.rpc_url}#/receipt")
    expect(tab.get_by_label("Su nodo Ethereum")).to_have_value(site.rpc_url)
    loaded = len(sent)
    tab.get_by_label("Constancia (JSON) o PDF sellado").set_input_files(str(site.stamped))
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Constancia válida")).to_be_visible()
    expect(tab.locator(".node-line")).to_contain_text(f"Respondió su nodo: {site.rpc_url}")
    expect(tab.locator(".node-line")).to_contain_text("chain id 31337")
    rows = tab.locator("table.checks tbody tr")
    expect(rows).to_have_count(6)  # steps 1, 2, 4, 5, 6, 7
    expect(tab.locator("table.checks tbody tr.check-fail")).to_have_count(0)
    expect(tab.locator("table.checks")).to_contain_text(hashlib.sha256(site.original).hexdigest())
    after = sent[loaded:]
    assert not [r.url for r in after if "/v1/" in r.url], "the check asked the service"
    to_node = [r for r in after if r.url.rstrip("/") == site.rpc_url.rstrip("/")]
    methods = [json.loads(r.post_data or "{}").get("method") for r in to_node]
    assert {"eth_chainId", "eth_call", "eth_getBlockByNumber", "eth_blockNumber"} <= set(methods)
    shot(tab, "own-node")

    # a copy whose original part was changed fails at step 1, still with the user's node only
    tab.get_by_label("Constancia (JSON) o PDF sellado").set_input_files(str(site.changed))
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Constancia no válida")).to_be_visible()
    expect(tab.locator("table.checks tbody tr.check-fail")).to_have_count(1)
    expect(tab.locator("table.checks tbody tr.check-fail")).to_contain_text("1")
    assert not [r.url for r in sent[loaded:] if "/v1/" in r.url]


def test_a_json_receipt_with_a_node_entered_on_the_page(
    page: tuple[Page, list[Request]], site: StampSite
) -> None:
    from playwright.sync_api import expect

    tab, sent = page
    tab.goto("/#/receipt")
    tab.get_by_label("Su nodo Ethereum").fill(site.rpc_url)
    tab.get_by_label("Constancia (JSON) o PDF sellado").set_input_files(str(site.receipt))
    loaded = len(sent)
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Constancia válida")).to_be_visible()
    expect(tab.locator(".node-line")).to_contain_text(site.rpc_url)
    assert not [r.url for r in sent[loaded:] if "/v1/" in r.url]

    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    tab.get_by_label("Su nodo Ethereum").fill(nowhere)
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, f"No se pudo contactar con el nodo {nowhere}")).to_be_visible()


def test_after_a_step_6_failure_the_users_node_counts_no_confirmations(
    page: tuple[Page, list[Request]], site: StampSite
) -> None:
    """A node whose block at the anchor's height has another hash: the anchor
    left that chain, so step 6 fails and step 7 counts nothing."""
    from playwright.sync_api import Route, expect

    tab, _ = page
    other_hash = "0x" + "ab" * 32

    def reorganised(route: Route) -> None:
        response = route.fetch()
        if json.loads(route.request.post_data or "{}").get("method") != "eth_getBlockByNumber":
            route.fulfill(response=response)
            return
        answer = response.json()
        answer["result"]["hash"] = other_hash
        route.fulfill(response=response, json=answer)

    tab.route(re.compile(re.escape(site.rpc_url.rstrip("/")) + "/?$"), reorganised)
    tab.goto(f"/?rpc={site.rpc_url}#/receipt")
    tab.get_by_label("Constancia (JSON) o PDF sellado").set_input_files(str(site.receipt))
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Constancia no válida")).to_be_visible()
    expect(tab.locator("#receipt-status")).to_contain_text("Confirmaciones: 0 (se requieren 1).")
    failed = tab.locator("table.checks tbody tr.check-fail")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("El bloque sigue en la cadena")
    expect(failed).to_contain_text(other_hash)
    step7 = tab.locator("table.checks tbody tr", has_text="Confirmaciones suficientes")
    expect(step7).to_have_class(re.compile(r"\bcheck-skipped\b"))
    expect(step7).to_contain_text("not counted")
    expect(tab.locator(".node-line")).to_contain_text(f"Respondió su nodo: {site.rpc_url}")


def test_with_the_users_node_a_receipt_with_wrong_members_is_refused(
    page: tuple[Page, list[Request]], site: StampSite, tmp_path: Path
) -> None:
    """The page is the verifier there: it refuses the receipt before asking the node."""
    from playwright.sync_api import expect

    tab, sent = page
    receipt = json.loads(site.receipt.read_text(encoding="utf-8"))
    receipt["anchor"]["seq"] = "1"
    altered = tmp_path / "constancia-alterada.json"
    altered.write_text(json.dumps(receipt, indent=2), encoding="utf-8")
    tab.goto(f"/?rpc={site.rpc_url}#/receipt")
    loaded = len(sent)
    tab.get_by_label("Constancia (JSON) o PDF sellado").set_input_files(str(altered))
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(
        _announced(
            tab,
            "La constancia está mal formada y no se verificó: "
            "receipt member anchor.seq must be an integer, got a string",
        )
    ).to_be_visible()
    asked = [r.url for r in sent[loaded:] if "/v1/" in r.url or r.url.startswith(site.rpc_url)]
    assert not asked, asked


def test_a_receipt_of_another_contract_fails_when_the_user_gives_the_trusted_one(
    page: tuple[Page, list[Request]], site: StampSite, anvil: AnvilNode
) -> None:
    """The service publishes the contract the receipt is anchored in; a link (kept with
    ?rpc=) names another one: the receipt fails step 5, and the page says the contract it
    trusted came from the link, in full, to be compared. Typed over as the receipt's own,
    the same receipt is valid and the contract is the user's."""
    from playwright.sync_api import expect

    from docanchor.chain import ChainClient
    from docanchor.config import ANVIL_DEV_PRIVATE_KEY

    tab, sent = page
    anchored_in = json.loads(site.receipt.read_text(encoding="utf-8"))["anchor"]["contract"]
    mine = ChainClient(rpc_url=anvil.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY).deploy().address
    assert mine.lower() != anchored_in.lower()
    published = json.loads(urlopen(f"{site.base_url}/v1/deployments").read())["deployments"]
    assert anchored_in.lower() in [d["address"].lower() for d in published]
    assert mine.lower() not in [d["address"].lower() for d in published]

    tab.goto(f"/?rpc={site.rpc_url}&contract={mine}&chain=31337#/receipt")
    expect(tab.get_by_label("Contrato de confianza")).to_have_value(mine)
    expect(tab.get_by_label("Cadena del contrato (chain id)")).to_have_value("31337")
    note = tab.locator("#receipt-trust-linked")
    expect(note).to_be_visible()
    expect(note).to_have_text(
        "Este contrato lo puso el enlace que abrió, no usted: compruebe que es el contrato "
        "que espera antes de confiar en el resultado."
    )
    tab.get_by_label("Constancia (JSON) o PDF sellado").set_input_files(str(site.receipt))
    loaded = len(sent)
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Constancia no válida")).to_be_visible()
    status = tab.locator("#receipt-status")
    expect(status).to_contain_text(f"Anclada en {anchored_in} en la cadena 31337")
    expect(status).to_contain_text("el contrato de confianza que indica el enlace que abrió")
    expect(status).not_to_contain_text("usted indicó")
    line = tab.locator(".trust-line")
    expect(line).to_have_text(
        f"Contrato de confianza: {mine} en la cadena 31337, tomado del enlace que abrió: "
        "compruebe que es el contrato que espera."
    )
    expect(line).to_have_class(re.compile(r"\bnotice-warn\b"))
    assert not [r.url for r in sent[loaded:] if r.url.startswith(site.rpc_url)]

    # The same receipt, the user trusting the contract it is anchored in: valid.
    tab.get_by_label("Contrato de confianza").fill(anchored_in)
    expect(note).to_be_hidden()
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Constancia válida")).to_be_visible()
    expect(tab.locator(".trust-line")).to_have_text(
        f"Contrato de confianza: {anchored_in} en la cadena 31337, indicado por usted."
    )
    expect(tab.locator(".trust-line")).not_to_have_class(re.compile(r"\bnotice-warn\b"))

    # Without a contract given, the service's is trusted, and the page says so.
    tab.get_by_label("Contrato de confianza").fill("")
    tab.get_by_label("Cadena del contrato (chain id)").fill("")
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Constancia válida")).to_be_visible()
    expect(tab.locator(".trust-line")).to_contain_text("publicado por este servicio")

    # Half a deployment is refused before anything is asked.
    tab.get_by_label("Contrato de confianza").fill(mine)
    loaded = len(sent)
    tab.get_by_role("button", name="Verificar constancia").click()
    expect(_announced(tab, "Indique la cadena del contrato de confianza")).to_be_visible()
    assert not [r.url for r in sent[loaded:] if r.url.startswith(site.rpc_url)]

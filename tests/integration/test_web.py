"""The verification web page in a real headless Chromium, against the real app.

The app runs under uvicorn on a free loopback port, over a real Anvil devnet
and a real database, with documents registered and anchored through the
service. Assertions are on what a person sees (text, roles, labels) and on
what the browser sends. Full-page screenshots go to ``test-artifacts/``.

These tests fail, never skip, when Debian's Chromium is missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from docanchor.hashing import leaf_hash
from tests.support.anvil import AnvilNode
from tests.support.webserve import ARTIFACTS, Tab, deployed_service, serve, shot

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser

__all__ = ["shot"]  # also used by the other browser tests

ENTITY = "20131370998"
REFERENCE = "OC-2025-000123"
FILLER_DOCUMENTS = 1_234  # > the page's 100 leaves per screen and the 500-leaf fetches below


@dataclass
class Site:
    """The served app and what was registered in it."""

    base_url: str
    document: bytes  # registered and anchored (version 2 of REFERENCE)
    first_version: bytes  # version 1 of REFERENCE
    pending: bytes  # registered, not yet in a batch
    batch_id: int
    batch_root: str
    batch_size: int
    leaves: list[str]
    tx_hash: str
    block_number: int
    files: dict[str, Path] = field(default_factory=dict)


def _pdf_like(marker: str, size: int) -> bytes:
    """A document with a recognisable text marker, padded with random bytes."""
    head = f"%PDF-1.7\n% {marker}\n".encode()
    return head + secrets.token_bytes(size - len(head))


@pytest.fixture(scope="module")
def site(
    anvil: AnvilNode,
    module_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    served = deployed_service(
        anvil, tmp_path_factory.mktemp("webdata"), database_url=module_database_url
    )
    service = served.service

    # An earlier checkpoint, so that the batch under test starts at log index 5
    # and the page must recompute its root from the compact range before it.
    service.register_many(
        service.prepare_registrations(
            [secrets.token_bytes(32) for _ in range(5)], entity_ruc="20100000001"
        )
    )
    service.run_once()

    first_version = _pdf_like("orden de compra v1", 40_000)
    document = _pdf_like("orden de compra v2 DOCANCHOR-WEB-MARKER", 200_000)
    meta = {"reference": REFERENCE, "type": "purchase_order", "supplier_ruc": "20601234567"}
    service.register(hashlib.sha256(first_version).digest(), meta, entity_ruc=ENTITY)
    service.register(hashlib.sha256(document).digest(), meta, entity_ruc=ENTITY)
    fillers = [
        service.prepare_registration(
            secrets.token_bytes(32), {"reference": f"F-{i:05d}"}, entity_ruc="20100000001"
        )
        for i in range(FILLER_DOCUMENTS)
    ]
    service.register_many(fillers)
    service.run_once()
    service.run_once()  # the second pass confirms what the first anchored

    view = next(v for v in service.lookup(hashlib.sha256(document).digest()))
    batch = view.batch
    assert batch is not None and batch.anchor is not None and batch.checkpoint is not None
    assert batch.status == "confirmed", batch.status
    assert batch.checkpoint.first_index == 5, batch.checkpoint.first_index
    rows = service.store.batch_leaves(batch.id)
    leaves = [leaf_hash(bytes.fromhex(s + d + m)).hex() for s, d, m in rows]

    pending = _pdf_like("registrado sin anclar", 10_000)
    service.register(
        hashlib.sha256(pending).digest(), {"reference": "OC-2025-000999"}, entity_ruc=ENTITY
    )

    folder = tmp_path_factory.mktemp("webfiles")
    files = {
        "document": folder / "orden-de-compra-v2.pdf",
        "first_version": folder / "orden-de-compra-v1.pdf",
        "pending": folder / "orden-pendiente.pdf",
    }
    files["document"].write_bytes(document)
    files["first_version"].write_bytes(first_version)
    files["pending"].write_bytes(pending)

    with serve(served) as base_url:
        yield Site(
            base_url=base_url,
            document=document,
            first_version=first_version,
            pending=pending,
            batch_id=batch.id,
            batch_root=batch.root.hex(),
            batch_size=batch.size,
            leaves=leaves,
            tx_hash=batch.anchor.tx_hash,
            block_number=batch.anchor.block_number,
            files=files,
        )


def announced(page: Page, text: str) -> Locator:
    """A live region (role status) that says ``text``."""
    return page.get_by_role("status").filter(has_text=text)


def first_file_input(page: Page) -> Any:
    return page.locator('input[type="file"]').first


# --- 1. a registered, anchored document ------------------------------------------------


def test_registered_document_is_shown_authentic_with_its_anchor(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("¿Es auténtico este documento?")
    picker = page.get_by_label("Archivo a verificar")
    assert picker.evaluate("(el, first) => el === first", first_file_input(page).element_handle())
    first_file_input(page).set_input_files(str(site.files["document"]))

    expect(announced(page, "Documento auténtico y confirmado")).to_be_visible()
    result = page.locator("#verify-result")
    expect(result).to_contain_text(site.tx_hash)  # the full hash, not an abbreviation
    expect(result).to_contain_text(hashlib.sha256(site.document).hexdigest())
    block = page.locator(".fact", has_text="Bloque")
    expect(block.locator("dd")).to_have_text(str(site.block_number))
    expect(result).to_contain_text(ENTITY)
    expect(result).to_contain_text(REFERENCE)
    expect(page.get_by_role("link", name=f"Lote n.º {site.batch_id}")).to_be_visible()
    page.get_by_role("button", name="Copiar el hash de la transacción").click()
    expect(announced(page, "Copiado al portapapeles.")).to_have_count(1)
    assert page.evaluate("navigator.clipboard.readText()") == site.tx_hash
    expect(announced(page, "Documento auténtico y confirmado")).to_be_visible()

    versions = page.get_by_role("table").filter(has_text="Huella SHA-256")
    expect(versions.get_by_role("row")).to_have_count(3)  # header + two versions
    expect(versions).to_contain_text(hashlib.sha256(site.first_version).hexdigest())
    expect(versions.get_by_role("row").filter(has_text="este documento")).to_contain_text(
        hashlib.sha256(site.document).hexdigest()
    )

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Descargar constancia (JSON)").click()
    receipt = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert receipt["version"] == "docanchor-receipt/1"
    assert receipt["document"]["sha256"] == hashlib.sha256(site.document).hexdigest()
    assert receipt["anchor"]["tx_hash"].lower() == site.tx_hash.lower()
    shot(page, "1-authentic")

    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "1-authentic-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone: {width} px wide"


# --- 2. a modified document -----------------------------------------------------------


def test_document_with_one_changed_byte_is_not_registered(
    tab: Tab, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    changed = bytearray(site.document)
    changed[len(changed) // 2] ^= 0x01
    path = tmp_path / "orden-de-compra-v2.pdf"
    path.write_bytes(bytes(changed))

    page = tab.page
    page.goto("/")
    first_file_input(page).set_input_files(str(path))
    expect(announced(page, "Documento no registrado")).to_be_visible()
    expect(announced(page, "un solo byte")).to_be_visible()
    expect(page.locator("#verify-result")).to_contain_text(hashlib.sha256(changed).hexdigest())
    expect(page.locator("#verify-result")).not_to_contain_text(site.tx_hash)
    expect(page.get_by_role("button", name="Descargar constancia (JSON)")).to_have_count(0)
    shot(page, "2-not-registered")

    # A registered document whose batch is not anchored yet says so in words.
    first_file_input(page).set_input_files(str(site.files["pending"]))
    expect(announced(page, "Registrado, aún no confirmado")).to_be_visible()
    expect(page.locator("#verify-result")).to_contain_text("Aún no anclado")
    shot(page, "2-pending")


# --- 3. the document's bytes never leave the browser ----------------------------------------


def test_no_request_carries_the_documents_bytes(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/")
    expect(page.locator("#privacy-note")).to_contain_text("no sale de su equipo")
    before = len(tab.requests)
    first_file_input(page).set_input_files(str(site.files["document"]))
    expect(announced(page, "auténtico")).to_be_visible()

    shot(page, "3-digest-only")
    digest = hashlib.sha256(site.document).hexdigest()
    during = tab.requests[before:]
    api_calls = [r for r in during if "/v1/" in r.url]
    assert [(r.method, r.url.removeprefix(site.base_url)) for r in api_calls] == [
        ("POST", "/v1/verify")
    ]
    assert json.loads(api_calls[0].body) == {"sha256": digest}
    # Any 64-byte window of the file, and its marker text, would betray an upload.
    probes = [site.document[i : i + 64] for i in range(0, len(site.document) - 64, 4096)]
    probes.append(b"DOCANCHOR-WEB-MARKER")
    for request in tab.requests:
        assert len(request.body) < 1024, (
            f"{request.method} {request.url} sent {len(request.body)} bytes"
        )
        for probe in probes:
            assert probe not in request.body, f"{request.url} carries the document's bytes"
            assert base64.b64encode(probe[:48]) not in request.body
        assert b"DOCANCHOR-WEB-MARKER" not in request.url.encode()


# --- 4. receipt check ----------------------------------------------------------------------


def test_receipt_check_lists_each_step_with_its_outcome(
    tab: Tab, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/")
    first_file_input(page).set_input_files(str(site.files["document"]))
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Descargar constancia (JSON)").click()
    receipt_path = tmp_path / "constancia.json"
    download_info.value.save_as(str(receipt_path))

    page.get_by_role("link", name="Verificar constancia").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verificar una constancia")
    page.get_by_label("Constancia (JSON)").set_input_files(str(receipt_path))
    page.get_by_label("Documento (opcional)").set_input_files(str(site.files["document"]))
    page.get_by_role("button", name="Verificar constancia").click()

    expect(announced(page, "Constancia válida")).to_be_visible()
    table = page.get_by_role("table").filter(has_text="Comprobaciones")
    rows = table.locator("tbody tr")
    expect(rows.first).to_be_visible()
    steps = [row.locator("td").first.inner_text() for row in rows.all()]
    assert {"1", "2", "4", "5", "6", "7"} <= set(steps), steps
    expect(table.get_by_role("row", name=re.compile("El documento corresponde"))).to_contain_text(
        "Correcto"
    )
    expect(table.get_by_role("row", name=re.compile("Confirmaciones suficientes"))).to_contain_text(
        "Correcto"
    )
    expect(table).not_to_contain_text("Falló")
    # The service signature, checked in this browser against the published key.
    expect(page.get_by_text("Firma del servicio: verificada en este navegador")).to_be_visible()
    expect(table.get_by_role("row", name=re.compile("Firma del servicio"))).to_contain_text(
        "Correcto"
    )
    sent = [r for r in tab.api_calls() if r.url.endswith("/v1/receipts/verify")]
    assert len(sent) == 1
    body = json.loads(sent[0].body)
    assert body["sha256"] == hashlib.sha256(site.document).hexdigest()
    assert b"DOCANCHOR-WEB-MARKER" not in sent[0].body
    shot(page, "4-receipt-valid")

    # The same receipt against another document: step 1 fails, in words.
    page.get_by_label("Documento (opcional)").set_input_files(str(site.files["first_version"]))
    page.get_by_role("button", name="Verificar constancia").click()
    expect(announced(page, "Constancia no válida")).to_be_visible()
    expect(table.get_by_role("row", name=re.compile("El documento corresponde"))).to_contain_text(
        "Falló"
    )
    shot(page, "4-receipt-wrong-document")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "4-receipt-phone")


def _site_receipt(site: Site) -> dict[str, Any]:
    import httpx

    answer = httpx.post(
        f"{site.base_url}/v1/verify",
        json={"sha256": hashlib.sha256(site.document).hexdigest()},
        timeout=30,
    )
    receipt: dict[str, Any] = answer.json()["receipts"][0]
    assert receipt["status"] == "confirmed" and "signature" in receipt
    return receipt


def _check_receipt_file(page: Page, path: Path) -> None:
    page.goto("/#/receipt")
    page.get_by_label("Constancia (JSON)").set_input_files(str(path))
    page.get_by_role("button", name="Verificar constancia").click()


def test_receipt_from_an_untrusted_deployment_is_refused_in_words(
    tab: Tab, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    elsewhere = "0x000000000000000000000000000000000000dEaD"
    receipt = _site_receipt(site)
    receipt["anchor"]["contract"] = elsewhere
    path = tmp_path / "ajena.json"
    path.write_text(json.dumps(receipt))
    page = tab.page
    _check_receipt_file(page, path)
    expect(announced(page, "Constancia no válida")).to_be_visible()
    expect(
        announced(
            page,
            f"Anclada en {elsewhere} en la cadena 31337, que no es un despliegue de docanchor "
            "en el que confíe este verificador.",
        )
    ).to_be_visible()
    page.get_by_role("button", name="Switch to English").click()
    expect(
        announced(
            page,
            f"Anchored in {elsewhere} on chain 31337, which is not a docanchor deployment "
            "this verifier trusts.",
        )
    ).to_be_visible()
    calls = [r.url for r in tab.api_calls()]
    assert any(url.endswith("/v1/deployments") for url in calls), calls
    assert not any(url.endswith("/v1/receipts/verify") for url in calls), calls
    shot(page, "4-receipt-untrusted")


def test_receipt_with_a_duplicate_member_is_refused_as_malformed(
    tab: Tab, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    text = json.dumps(_site_receipt(site))
    # JSON.parse would keep the second "status"; the page refuses the text.
    path = tmp_path / "duplicada.json"
    path.write_text('{"status": "pending", ' + text[1:])
    page = tab.page
    _check_receipt_file(page, path)
    expect(
        announced(
            page,
            "La constancia está mal formada y no se verificó: el miembro «status» aparece dos "
            "veces en un mismo objeto",
        )
    ).to_be_visible()
    for body, words in (
        ('{"note": 1.5, ' + text[1:], "el número 1.5 tiene decimales o exponente"),
        ('{"note": NaN, ' + text[1:], "NaN no es JSON"),
        ('{"note": ' + "[" * 64 + "]" * 64 + ", " + text[1:], "anida más de 64 niveles"),
    ):
        path.write_text(body)
        _check_receipt_file(page, path)
        expect(announced(page, words)).to_be_visible()
    assert not [r for r in tab.api_calls() if r.url.endswith("/v1/receipts/verify")]


def test_receipt_with_a_forged_signature_is_not_valid(tab: Tab, site: Site, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    receipt = _site_receipt(site)
    value = receipt["signature"]["value"]
    receipt["signature"]["value"] = ("B" if value[0] == "A" else "A") + value[1:]
    path = tmp_path / "firma.json"
    path.write_text(json.dumps(receipt))
    page = tab.page
    _check_receipt_file(page, path)
    expect(announced(page, "Constancia no válida")).to_be_visible()
    expect(announced(page, "Firma del servicio: no es válida")).to_be_visible()
    table = page.get_by_role("table").filter(has_text="Comprobaciones")
    expect(table.get_by_role("row", name=re.compile("Firma del servicio"))).to_contain_text("Falló")
    # The text sent is the file's own, byte for byte, inside the request body.
    (sent,) = [r for r in tab.api_calls() if r.url.endswith("/v1/receipts/verify")]
    assert path.read_bytes() in sent.body


# --- 5. the root recomputed in the browser ------------------------------------------------


def test_batch_root_recomputed_in_the_browser_matches(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/#/batches")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lotes anclados")
    row = page.get_by_role("row").filter(
        has=page.get_by_role("link", name=f"Lote n.º {site.batch_id}", exact=True)
    )
    expect(row).to_contain_text(site.batch_root[:10])
    expect(row).to_contain_text(str(site.block_number))
    shot(page, "5-batches")
    row.get_by_role("link").click()

    expect(page).to_have_url(re.compile(rf"#/batches/{site.batch_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Lote n.º {site.batch_id}")
    expect(page.locator("#batch-info")).to_contain_text(site.batch_root)
    leaves = page.get_by_role("table").filter(has_text="Hash de la hoja")
    expect(leaves.locator("tbody tr")).to_have_count(100)
    expect(leaves.locator("tbody tr").first).to_contain_text(site.leaves[0])
    pages = -(-site.batch_size // 100)
    pager_info = page.locator("#leaves-result .pager-info")
    expect(pager_info).to_have_text(f"Página 1 de {pages}")
    page.get_by_role("button", name="Hojas siguientes").click()
    expect(leaves.locator("tbody tr").first).to_contain_text(site.leaves[100])
    expect(leaves).to_contain_text("Hojas 101–200 de")
    expect(pager_info).to_have_text(f"Página 2 de {pages}")
    # The pressed button keeps the focus, so Enter goes on paging.
    expect(page.get_by_role("button", name="Hojas siguientes")).to_be_focused()
    page.keyboard.press("Enter")
    expect(leaves.locator("tbody tr").first).to_contain_text(site.leaves[200])

    # Fetch in pages of 500 so that the page walks through several of them.
    page.evaluate("window.DocAnchor.config.leafPageSize = 500")
    before = len(tab.requests)
    page.get_by_role("button", name="Recalcular la raíz aquí").click()
    verdict = page.locator("#recompute-result")
    expect(verdict).to_contain_text("Coincide", timeout=60_000)
    expect(verdict).to_contain_text(site.batch_root)
    fetched = [r.url for r in tab.requests[before:] if "/leaves?" in r.url]
    expected_pages = -(-site.batch_size // 500)
    assert len(fetched) == expected_pages >= 3, fetched
    assert all("limit=500" in url for url in fetched)
    shot(page, "5-recomputed")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "5-recomputed-phone")
    page.screenshot(path=str(ARTIFACTS / "web-5-recomputed-phone-top.png"))


def test_batch_root_mismatch_is_reported(tab: Tab, site: Site) -> None:
    """A service that serves one altered leaf is caught by the recomputation."""
    from playwright.sync_api import Route, expect

    def tamper(route: Route) -> None:
        response = route.fetch()
        data = response.json()
        if data["offset"] == 0 and data["leaves"]:
            data["leaves"][0] = "00" * 32
        route.fulfill(response=response, json=data)

    page = tab.page
    page.route(re.compile(r".*/leaves\?offset=\d+&limit=10000$"), tamper)
    page.goto(f"/#/batches/{site.batch_id}")
    page.get_by_role("button", name="Recalcular la raíz aquí").click()
    verdict = page.locator("#recompute-result")
    expect(verdict).to_contain_text("No coincide", timeout=60_000)
    expect(verdict).to_contain_text(site.batch_root)
    shot(page, "5-mismatch")


# --- 6. language and keyboard ----------------------------------------------------------------


def test_language_toggle_and_keyboard(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "es")
    toggle = page.get_by_role("button", name="Switch to English")
    toggle.click()
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Is this document authentic?")
    expect(page.get_by_role("link", name="Verify a receipt")).to_be_visible()
    first_file_input(page).set_input_files(str(site.files["document"]))
    expect(announced(page, "Authentic document, confirmed")).to_be_visible()
    shot(page, "6-english")

    page.reload()  # the choice is remembered
    expect(html).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Cambiar a español").click()
    expect(html).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("¿Es auténtico este documento?")

    # Keyboard: from the top of the page, Tab reaches the toggle and the file input.
    # (Listening for file choosers from here on makes the browser report them
    # before the key press below, not only once the listener is in place.)
    page.on("filechooser", lambda chooser: None)
    page.reload()
    reached: list[str] = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
        if "verify-file" in reached:
            break
    assert "lang-toggle" in reached and "verify-file" in reached, reached
    assert reached.index("lang-toggle") < reached.index("verify-file")
    # The input itself is visually hidden; its visible button shows the focus.
    button = page.locator('label.file-button[for="verify-file"]')
    outline = button.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("none", ""), "the focused file chooser shows no focus outline"
    # Enter on the focused chooser opens the browser's file dialog.
    with page.expect_file_chooser() as opened:
        page.keyboard.press("Enter")
    opened.value.set_files(str(site.files["first_version"]))
    expect(announced(page, "Documento auténtico y confirmado")).to_be_visible()
    expect(page.locator('[data-file-name-for="verify-file"]')).to_have_text(
        "orden-de-compra-v1.pdf"
    )

    page.keyboard.press("Shift+Tab")
    while page.evaluate("document.activeElement.id") != "lang-toggle":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(html).to_have_attribute("lang", "en")
    page.keyboard.press("Space")
    expect(html).to_have_attribute("lang", "es")
    shot(page, "6-keyboard-focus")


def test_file_choosers_speak_the_page_language(tab: Tab, site: Site) -> None:
    """The native input's button speaks the browser's language; the page shows its own."""
    from playwright.sync_api import expect

    page = tab.page
    page.on("filechooser", lambda chooser: None)  # see test_language_toggle_and_keyboard
    page.goto("/")
    chooser = page.locator('label.file-button[for="verify-file"]')
    name = page.locator('[data-file-name-for="verify-file"]')
    expect(chooser).to_be_visible()
    expect(chooser).to_have_text("Elegir archivo")
    expect(name).to_have_text("Ningún archivo elegido")
    box = first_file_input(page).bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1, box

    with page.expect_file_chooser() as opened:
        chooser.click()
    opened.value.set_files(str(site.files["document"]))
    expect(announced(page, "Documento auténtico y confirmado")).to_be_visible()
    expect(name).to_have_text("orden-de-compra-v2.pdf")

    page.get_by_role("button", name="Switch to English").click()
    expect(chooser).to_have_text("Choose file")
    expect(name).to_have_text("orden-de-compra-v2.pdf")
    page.goto("/#/receipt")
    expect(page.locator("#view-receipt label.file-button")).to_have_text(["Choose file"] * 2)
    expect(page.locator("#view-receipt .file-name")).to_have_text(["No file chosen"] * 2)
    page.get_by_label("Receipt (JSON) or stamped PDF").set_input_files(
        str(site.files["first_version"])
    )
    expect(page.locator('[data-file-name-for="receipt-file"]')).to_have_text(
        "orden-de-compra-v1.pdf"
    )
    page.get_by_role("button", name="Cambiar a español").click()
    expect(page.locator("#view-receipt label.file-button")).to_have_text(["Elegir archivo"] * 2)
    expect(page.locator('[data-file-name-for="receipt-doc"]')).to_have_text(
        "Ningún archivo elegido"
    )
    shot(page, "6-file-choosers")


# --- 7. the in-page SHA-256 ------------------------------------------------------------------


def test_chunked_sha256_agrees_with_webcrypto_and_hashlib(
    tab: Tab, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/")
    chunk = 64 * 1024
    sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]
    sizes += [chunk - 1, chunk, chunk + 1, 2 * chunk + 63, 3 * 1024 * 1024 + 5]
    script = """async ([b64, chunk]) => {
        const raw = atob(b64);
        const bytes = new Uint8Array(raw.length);
        for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
        const D = window.DocAnchor;
        const blob = new Blob([bytes]);
        const chunked = await D.sha256Chunked(blob, chunk);
        const web = D.toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
        // Uneven update() pieces exercise the carry-over buffer.
        const h = new D.Sha256();
        for (let p = 0, step = 1; p < bytes.length; p += step, step = (step * 7 + 3) % 997 + 1)
            h.update(bytes.subarray(p, p + step));
        return [chunked, web, D.toHex(h.digest())];
    }"""
    for size in sizes:
        data = secrets.token_bytes(size)
        expected = hashlib.sha256(data).hexdigest()
        got = page.evaluate(script, [base64.b64encode(data).decode(), chunk])
        assert got == [expected, expected, expected], size

    # Known answers (FIPS 180-2 appendix B vectors).
    vectors = page.evaluate("""() => {
        const D = window.DocAnchor, enc = new TextEncoder();
        const million = new D.Sha256();
        const block = enc.encode("a".repeat(1000));
        for (let i = 0; i < 1000; i++) million.update(block);
        return [
            D.toHex(D.sha256(new Uint8Array(0))),
            D.toHex(D.sha256(enc.encode("abc"))),
            D.toHex(D.sha256(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            D.toHex(million.digest()),
        ];
    }""")
    assert vectors == [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    ]

    # The page's own path for large files: past the WebCrypto limit it reads slices.
    page.evaluate("window.DocAnchor.config.webCryptoMax = 1024 * 1024")
    page.evaluate("window.DocAnchor.config.chunkSize = 256 * 1024 + 3")
    large = secrets.token_bytes(3 * 1024 * 1024 + 11)
    path = tmp_path / "grande.bin"
    path.write_bytes(large)
    first_file_input(page).set_input_files(str(path))
    expect(announced(page, "Documento no registrado")).to_be_visible()
    expect(page.locator("#verify-result")).to_contain_text(hashlib.sha256(large).hexdigest())
    shot(page, "7-large-file")


def test_dropping_a_file_starts_the_check(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/")
    page.evaluate(
        """([b64, name]) => {
            const raw = atob(b64);
            const bytes = new Uint8Array(raw.length);
            for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "application/pdf" }));
            const zone = document.getElementById("dropzone");
            const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        [base64.b64encode(site.first_version).decode(), "orden-de-compra-v1.pdf"],
    )
    expect(announced(page, "Documento auténtico y confirmado")).to_be_visible()
    expect(page.locator("#verify-result")).to_contain_text(
        hashlib.sha256(site.first_version).hexdigest()
    )
    # The page reads the published deployments once when it loads; the check
    # itself is one request.
    calls = [r.url.removeprefix(site.base_url) for r in tab.api_calls()]
    assert [c for c in calls if c != "/v1/deployments"] == ["/v1/verify"]
    assert calls.count("/v1/deployments") <= 1
    shot(page, "1-dropped")

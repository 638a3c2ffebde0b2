"""The page's period audit in a real headless Chromium, against the real app and a real
Anvil devnet read by the page itself (``?rpc=``).

The log has four checkpoints, each anchored a few seconds of chain time after the
one before: seq 0 before the period, seq 1 and 2 in it, seq 3 after it. An honest
service passes; a service that alters, hides or adds a leaf, or lists a checkpoint
the chain does not hold, fails, and the page names the range or checkpoint at fault.
The dishonest service is the real one behind a proxy (Playwright's routing) that
rewrites its answers on their way to the page.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from docanchor.vocabulary import utc_text_of_timestamp
from tests.support.anvil import AnvilNode
from tests.support.webserve import Tab, deployed_service, serve, shot

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = pytest.mark.browser

BATCH_SIZES = [3, 4, 3, 2]  # leaves added by each checkpoint, oldest first


@dataclass
class AuditSite:
    base_url: str
    database_url: str
    rpc_url: str
    contract: str
    deployed_block: int
    checkpoints: list[dict[str, Any]]  # as GET /v1/log/checkpoints lists them
    start: str  # the period, as ISO times
    end: str


@pytest.fixture(scope="module")
def site(
    anvil: AnvilNode,
    module_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuditSite]:
    served = deployed_service(
        anvil, tmp_path_factory.mktemp("auditdata"), database_url=module_database_url
    )
    service = served.service
    for n, size in enumerate(BATCH_SIZES):
        service.register_many(
            service.prepare_registrations(
                [secrets.token_bytes(32) for _ in range(size)], entity_ruc=f"2010000000{n}"
            )
        )
        anvil.rpc("evm_increaseTime", 5)  # each checkpoint in a later block second
        service.run_once()
    service.run_once()  # confirms the last one

    with serve(served) as base_url:
        listed = httpx.get(f"{base_url}/v1/log/checkpoints").json()["checkpoints"]
        assert [c["seq"] for c in listed] == [0, 1, 2, 3]
        assert [c["tree_size"] for c in listed] == [3, 7, 10, 12]
        stamps = [c["timestamp"] for c in listed]
        assert stamps == sorted(set(stamps)), stamps
        yield AuditSite(
            base_url=base_url,
            database_url=module_database_url,
            rpc_url=anvil.rpc_url,
            contract=served.contract,
            deployed_block=served.deployed_block,
            checkpoints=listed,
            start=utc_text_of_timestamp(stamps[0] + 1),
            end=utc_text_of_timestamp(stamps[2] + 1),
        )


def audit(page: Page, site: AuditSite) -> None:
    """Opens the auditor view with the node in the address, picks the period, runs it."""
    from playwright.sync_api import expect

    page.goto(f"/?rpc={site.rpc_url}#/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Auditoría de un periodo")
    expect(page.get_by_label("Nodo Ethereum propio (URL JSON-RPC)")).to_have_value(site.rpc_url)
    # The contract field is filled from what the service publishes.
    expect(page.get_by_label("Contrato DocumentAnchor")).to_have_value(
        re.compile(site.contract, re.IGNORECASE)
    )
    page.get_by_label("Desde (UTC)").fill(site.start)
    page.get_by_label("Hasta (UTC, sin incluir)").fill(site.end)
    page.get_by_role("button", name="Auditar el periodo").click()


def node_calls(tab: Tab, site: AuditSite) -> list[dict[str, Any]]:
    """The JSON-RPC calls the page sent to the user's node."""
    to_node = [r for r in tab.requests if r.url.rstrip("/") == site.rpc_url.rstrip("/")]
    return [json.loads(r.body) for r in to_node]


def route_node(page: Page, site: AuditSite, answer: Callable[[dict[str, Any]], Any]) -> None:
    """Routes the page's calls to the node through ``answer``: the JSON-RPC body to
    send back instead of the node's, or None for the node's own answer."""

    def handle(route: Route) -> None:
        response = route.fetch()
        instead = answer(json.loads(route.request.post_data or "{}"))
        if instead is None:
            route.fulfill(response=response)
        else:
            route.fulfill(response=response, json=instead)

    page.route(re.compile(re.escape(site.rpc_url.rstrip("/")) + "/?$"), handle)


def checkpoint_rows(page: Page, seq: int) -> Any:
    table = page.get_by_role("table").filter(has_text="Puntos de control anclados en el periodo")
    # One row group per checkpoint: its row, and the row that says why when it failed.
    return table.locator("tbody").filter(
        has=page.get_by_role("rowheader", name=str(seq), exact=True)
    )


def test_honest_service_every_range_checks_against_the_chain(tab: Tab, site: AuditSite) -> None:
    from playwright.sync_api import expect

    page = tab.page
    audit(page, site)
    expect(page.get_by_role("status").filter(has_text="Periodo verificado")).to_be_visible(
        timeout=60_000
    )
    result = page.locator("#audit-result")
    expect(result).to_contain_text(
        "Los 2 puntos de control anclados en el periodo están en la cadena"
    )
    table = page.get_by_role("table").filter(has_text="Puntos de control anclados en el periodo")
    expect(table.get_by_role("row")).to_have_count(3)  # header + seq 1 and 2, nothing to explain
    for seq in (1, 2):
        cp = site.checkpoints[seq]
        row = checkpoint_rows(page, seq)
        expect(row).to_contain_text(cp["root"])
        expect(row).to_contain_text(cp["tx_hash"].lower())
        expect(row).to_contain_text(str(cp["block_number"]))
        expect(row).to_contain_text(utc_text_of_timestamp(cp["timestamp"]))
        expect(row).to_contain_text("Válido")
    expect(checkpoint_rows(page, 1)).to_contain_text("3 – 7")
    expect(checkpoint_rows(page, 2)).to_contain_text("7 – 10")
    expect(result).to_contain_text("punto de control n.º 0 (tamaño 3)")
    expect(result).to_contain_text("3 a 10 (sin incluir): 7 comprobadas, 0 sin comprobar")

    expect(page.locator(".fact", has_text="Contrato")).to_contain_text(
        "publicado por este servicio"
    )
    expect(page.locator("#audit-trust-linked")).to_be_hidden()
    expect(page.locator("#audit-result .trust-line")).to_have_count(0)

    # The chain was read by the page itself, through the user's node; no key was sent.
    calls = node_calls(tab, site)
    methods = [c["method"] for c in calls]
    assert "eth_getLogs" in methods and methods.count("eth_call") >= 4, methods
    # From the contract's deployment on, found by asking the node for its code.
    starts = [int(c["params"][0]["fromBlock"], 16) for c in calls if c["method"] == "eth_getLogs"]
    assert min(starts) == site.deployed_block > 0, (starts, site.deployed_block)
    assert methods.count("eth_getCode") >= 2, methods
    leaf_calls = [r.url for r in tab.requests if "/v1/log/leaves" in r.url]
    assert [u.split("?")[1] for u in leaf_calls] == ["start=3&end=7", "start=7&end=10"]
    assert not [r for r in tab.api_calls() if "/v1/log/entries" in r.url]
    shot(page, "audit-1-valid")

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit a period")
    expect(page.locator("#audit-result")).to_contain_text("Period verified.")


Lie = Callable[[str, dict[str, Any]], dict[str, Any]]


def _altered_leaf(query: str, body: dict[str, Any]) -> dict[str, Any]:
    if "start=7&" in query:
        body["leaves"][1] = "00" * 32  # leaf 8
    return body


def _hidden_leaf(query: str, body: dict[str, Any]) -> dict[str, Any]:
    if "start=3&" in query:
        del body["leaves"][2]  # leaf 5
    return body


def _added_leaf(query: str, body: dict[str, Any]) -> dict[str, Any]:
    if "start=3&" in query:
        body["leaves"].insert(1, "ab" * 32)
        body["leaves"].pop()  # the count kept, the last one pushed out
    return body


@pytest.mark.parametrize(
    ("lie", "seq", "shown"),
    [
        (_altered_leaf, 2, "Las hojas 7 a 10 que da el servicio no son las del registro"),
        (_hidden_leaf, 1, "asked for leaves 3..7, got 3 hashes"),
        (_added_leaf, 1, "Las hojas 3 a 7 que da el servicio no son las del registro"),
    ],
    ids=["altered", "hidden", "added"],
)
def test_service_that_lies_about_leaves_fails_the_range(
    tab: Tab, site: AuditSite, lie: Lie, seq: int, shown: str
) -> None:
    from playwright.sync_api import expect

    def tamper(route: Route) -> None:
        response = route.fetch()
        query = route.request.url.split("?", 1)[1]
        route.fulfill(response=response, json=lie(query, response.json()))

    page = tab.page
    page.route(re.compile(r".*/v1/log/leaves\?.*"), tamper)
    audit(page, site)
    expect(page.get_by_role("status").filter(has_text="Periodo NO verificado")).to_be_visible(
        timeout=60_000
    )
    row = checkpoint_rows(page, seq)
    expect(row).to_contain_text("No válido")
    expect(row).to_contain_text(shown)
    expect(row).to_contain_text(site.checkpoints[seq]["root"])
    other = checkpoint_rows(page, 3 - seq)
    expect(other).to_contain_text("Válido")
    expect(other).not_to_contain_text("No válido")
    counts = "3 comprobadas, 4 sin comprobar" if seq == 1 else "4 comprobadas, 3 sin comprobar"
    expect(page.locator("#audit-result")).to_contain_text(counts)
    shot(page, f"audit-2-{lie.__name__.strip('_')}")


def test_leaf_altered_in_the_store_fails_its_range(tab: Tab, site: AuditSite) -> None:
    """No proxy: the service itself serves what its database now says."""
    import sqlalchemy as sa
    from playwright.sync_api import expect

    engine = sa.create_engine(site.database_url)
    tile = "SELECT hashes FROM log_tile WHERE level = 0 AND idx = 0"
    with engine.begin() as conn:
        original = bytes(conn.execute(sa.text(tile)).scalar_one())
        assert len(original) == 12 * 32
        altered = original[: 8 * 32] + bytes(32) + original[9 * 32 :]  # leaf 8
        update = "UPDATE log_tile SET hashes = :h WHERE level = 0 AND idx = 0"
        conn.execute(sa.text(update), {"h": altered})
    try:
        page = tab.page
        # The period and the node as a link gives them; the contract as the service does.
        page.goto(f"/?rpc={site.rpc_url}&from={site.start}&to={site.end}#/audit")
        expect(page.get_by_label("Desde (UTC)")).to_have_value(site.start)
        expect(page.get_by_label("Contrato DocumentAnchor")).not_to_have_value("")
        page.get_by_role("button", name="Auditar el periodo").click()
        verdict = page.get_by_role("status").filter(has_text="Periodo NO verificado")
        expect(verdict).to_be_visible(timeout=60_000)
        expect(checkpoint_rows(page, 1)).not_to_contain_text("No válido")
        row = checkpoint_rows(page, 2)
        expect(row).to_contain_text("No válido")
        expect(row).to_contain_text("Las hojas 7 a 10 que da el servicio no son las del registro")
        shot(page, "audit-2-store")
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(update), {"h": original})
        engine.dispose()


def test_checkpoints_the_chain_does_not_hold_fail_the_audit(tab: Tab, site: AuditSite) -> None:
    from playwright.sync_api import expect

    forged = "5" * 64

    def tamper(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        for item in body["checkpoints"]:
            if item["seq"] == 2:
                item["root"] = forged
        # And one the chain has never seen, after the period.
        body["checkpoints"].append({**body["checkpoints"][-1], "seq": 4, "tree_size": 13})
        route.fulfill(response=response, json=body)

    page = tab.page
    page.route(re.compile(r".*/v1/log/checkpoints\?.*"), tamper)
    audit(page, site)
    expect(page.get_by_role("status").filter(has_text="Periodo NO verificado")).to_be_visible(
        timeout=60_000
    )
    row = checkpoint_rows(page, 2)
    expect(row).to_contain_text("checkpoint_not_on_chain")
    expect(row).to_contain_text(f"raíz {forged}")
    expect(row).to_contain_text(f"raíz {site.checkpoints[2]['root']}")  # what the chain holds
    findings = page.get_by_role("region", name="Problemas encontrados")
    expect(findings).to_contain_text("checkpoint_not_on_chain")
    expect(findings).to_contain_text("El servicio lista el punto de control 4 (tamaño 13")
    shot(page, "audit-3-not-on-chain")


def test_period_and_node_are_checked_before_anything_is_asked(tab: Tab, site: AuditSite) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto("/#/audit")
    page.get_by_label("Desde (UTC)").fill("2026-02-30")
    page.get_by_role("button", name="Auditar el periodo").click()
    expect(page.locator("#audit-result")).to_contain_text("«Desde» no es una fecha")
    page.get_by_label("Desde (UTC)").fill("2026-04-01")
    page.get_by_label("Hasta (UTC, sin incluir)").fill("2026-03-01")
    page.get_by_role("button", name="Auditar el periodo").click()
    expect(page.locator("#audit-result")).to_contain_text("El periodo está vacío")
    page.get_by_label("Hasta (UTC, sin incluir)").fill("2026-05-01")
    page.get_by_role("button", name="Auditar el periodo").click()
    expect(page.locator("#audit-result")).to_contain_text("Indique la URL de su nodo Ethereum")
    assert not [r for r in tab.api_calls() if "/v1/log/" in r.url]


def test_a_provider_s_block_range_cap_costs_a_few_refusals(tab: Tab, site: AuditSite) -> None:
    """A node that refuses eth_getLogs over more than 3 blocks, as providers cap them:
    the page learns the cap and reads every block from the deployment on exactly once."""
    from playwright.sync_api import expect

    cap = 3

    def capped(call: dict[str, Any]) -> Any:
        if call.get("method") != "eth_getLogs":
            return None
        q = call["params"][0]
        if int(q["toBlock"], 16) - int(q["fromBlock"], 16) + 1 <= cap:
            return None
        refusal = {"code": -32005, "message": f"query exceeds max block range {cap}"}
        return {"jsonrpc": "2.0", "id": call["id"], "error": refusal}

    page = tab.page
    route_node(page, site, capped)
    audit(page, site)
    expect(page.get_by_role("status").filter(has_text="Periodo verificado")).to_be_visible(
        timeout=60_000
    )
    asked = [
        (int(c["params"][0]["fromBlock"], 16), int(c["params"][0]["toBlock"], 16))
        for c in node_calls(tab, site)
        if c["method"] == "eth_getLogs"
    ]
    accepted = [(a, b) for a, b in asked if b - a + 1 <= cap]
    refused = len(asked) - len(accepted)
    assert accepted[0][0] == site.deployed_block, asked
    assert all(b + 1 == a for (_, b), (a, _) in pairwise(accepted)), asked
    span = accepted[-1][1] - site.deployed_block + 1
    assert refused <= span.bit_length(), asked  # about log2(span), not one per range
    assert len(accepted) <= 2 * span // cap + 2, asked


def test_a_node_that_answers_logs_with_no_list_stops_the_audit(tab: Tab, site: AuditSite) -> None:
    """Not a reason to ask for fewer blocks: one eth_getLogs, and the audit did not run."""
    from playwright.sync_api import expect

    def odd(call: dict[str, Any]) -> Any:
        if call.get("method") != "eth_getLogs":
            return None
        return {"jsonrpc": "2.0", "id": call["id"], "result": {"logs": []}}

    page = tab.page
    route_node(page, site, odd)
    audit(page, site)
    expect(page.locator("#audit-result")).to_contain_text("the node did not answer a list")
    expect(page.locator("#audit-status")).to_contain_text("La auditoría no se pudo realizar")
    methods = [c["method"] for c in node_calls(tab, site)]
    assert methods.count("eth_getLogs") == 1, methods


def test_a_contract_the_user_gives_is_the_one_trusted(
    tab: Tab, site: AuditSite, anvil: AnvilNode
) -> None:
    """The service publishes its own contract; a link names another one: the audit reads
    that one, says it came from the link (in full, to be compared), and the service's
    checkpoints fail against it. Typed over by the user, the contract is the user's."""
    from playwright.sync_api import expect

    from docanchor.chain import ChainClient
    from docanchor.config import ANVIL_DEV_PRIVATE_KEY

    mine = ChainClient(rpc_url=anvil.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY).deploy().address
    assert mine.lower() != site.contract.lower()
    page = tab.page
    page.goto(
        f"/?rpc={site.rpc_url}&contract={mine}&chain=31337&from={site.start}&to={site.end}#/audit"
    )
    expect(page.get_by_label("Contrato DocumentAnchor")).to_have_value(mine)
    expect(page.get_by_label("Cadena (chain id)")).to_have_value("31337")
    page.wait_for_load_state("networkidle")  # the service's own contract arrived, and was not used
    expect(page.get_by_label("Contrato DocumentAnchor")).to_have_value(mine)
    note = page.locator("#audit-trust-linked")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Este contrato lo puso el enlace que abrió, no usted")
    page.get_by_role("button", name="Auditar el periodo").click()
    expect(page.get_by_role("status").filter(has_text="Periodo NO verificado")).to_be_visible(
        timeout=60_000
    )
    fact = page.locator(".fact", has_text="Contrato")
    expect(fact).to_contain_text(mine)
    expect(fact).to_contain_text(
        "tomado del enlace que abrió: compruebe que es el contrato que espera"
    )
    expect(fact).not_to_contain_text("indicado por usted")
    expect(page.locator("#audit-result .trust-line.notice-warn")).to_have_text(
        f"Contrato de confianza: {mine} en la cadena 31337, tomado del enlace que abrió: "
        "compruebe que es el contrato que espera."
    )
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("#audit-result .trust-line")).to_have_text(
        f"Trusting contract {mine} on chain 31337, from the link you opened: "
        "check it is the contract you expect."
    )
    expect(page.locator(".fact .trust-source")).to_have_text(
        "from the link you opened: check it is the contract you expect"
    )
    page.get_by_role("button", name="Cambiar a español").click()
    findings = page.get_by_role("region", name="Problemas encontrados")
    expect(findings).to_contain_text("la cadena no tiene ningún punto de control 1")
    logs = [c for c in node_calls(tab, site) if c["method"] == "eth_getLogs"]
    assert logs and all(c["params"][0]["address"].lower() == mine.lower() for c in logs)

    # A chain that is not the node's is refused before anything is read.
    page.get_by_label("Cadena (chain id)").fill("1")
    page.get_by_role("button", name="Auditar el periodo").click()
    expect(page.locator("#audit-result")).to_contain_text(
        "está en la cadena 31337, pero el contrato de confianza está en la cadena 1"
    )

    # Edited after the link filled it, the contract is the user's: here the service's own.
    page.get_by_label("Cadena (chain id)").fill("31337")
    page.get_by_label("Contrato DocumentAnchor").fill(site.contract)
    expect(note).to_be_hidden()
    page.get_by_role("button", name="Auditar el periodo").click()
    expect(page.get_by_role("status").filter(has_text="Periodo verificado")).to_be_visible(
        timeout=60_000
    )
    expect(fact).to_contain_text(site.contract)
    expect(fact).to_contain_text("indicado por usted")
    expect(page.locator("#audit-result .trust-line")).to_have_count(0)

"""The period audit (log-v1 section 4) on a real Anvil and every database: against the
local store, against the HTTP service (honest, and lying in every way the audit must
catch), through the CLI and the API.

The log built here has four checkpoints, each anchored a few seconds of chain
time after the one before (``evm_increaseTime``, so each has its own block
time): seq 0 before the period, seq 1 and 2 in it, seq 3 after it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docanchor.api import create_app
from docanchor.audit import PeriodReport, audit_period
from docanchor.config import load_settings
from docanchor.devnet import free_port
from docanchor.keys import create_key
from docanchor.remote import RemoteLogSource
from docanchor.store import Store
from docanchor.wiring import open_chain
from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli

ENTITY = "20100000001"
OTHER = "20600000002"
# (entity, type, count) of each checkpoint's registrations, oldest first.
BATCHES = [
    [(ENTITY, "purchase_order", 3)],
    [(ENTITY, "purchase_order", 2), (OTHER, "contract", 2)],
    [(ENTITY, "service_order", 3)],
    [(OTHER, "contract", 2)],
]

Json = Any
Mutate = Callable[[str, dict[str, str], Json], Json]


@dataclass
class World:
    cli: Cli
    start: str  # the period, as ISO times
    end: str
    timestamps: list[int]
    keys: dict[str, str]
    app: Any


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def world(tmp_path: Path, database_url: str, anvil: AnvilNode) -> Iterator[World]:
    cli = Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=anvil.rpc_url)
    cli.ok("deploy", "--json")
    n = 0
    for batch in BATCHES:
        for entity, kind, count in batch:
            hashes = tmp_path / f"h{n}.txt"
            lines = [hashlib.sha256(f"orden {n + i}".encode()).hexdigest() for i in range(count)]
            hashes.write_text("\n".join(lines) + "\n")
            n += count
            cli.ok("submit", "--hashes", str(hashes), "--entity", entity, "--type", kind)
        # Each checkpoint in a later block second than the one before.
        anvil.rpc("evm_increaseTime", 5)
        cli.ok("anchor")
    listed = cli.ok("log", "checkpoints", "--json").json()["checkpoints"]
    assert [c["seq"] for c in listed] == [0, 1, 2, 3]
    timestamps = [c["timestamp"] for c in listed]
    assert timestamps == sorted(set(timestamps))
    with _env(cli):
        settings = load_settings()
    app = create_app(settings)
    store: Store = app.state.ctx.service.store
    keys = {
        "auditor": create_key(store, role="auditor", entity_ruc=None).secret,
        "entity": create_key(store, role="entity", entity_ruc=ENTITY).secret,
    }
    yield World(cli, iso(timestamps[0] + 1), iso(timestamps[2] + 1), timestamps, keys, app)


class _env:
    """The CLI's environment in this process, for load_settings."""

    def __init__(self, cli: Cli) -> None:
        self.env = cli.env()

    def __enter__(self) -> None:
        import os

        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *_exc: object) -> None:
        import os

        os.environ.clear()
        os.environ.update(self.saved)


class LyingProxy:
    """An ASGI wrapper that hands every JSON answer to ``mutate(path, query, body)``
    and sends what it returns: the service, made dishonest in one chosen way."""

    def __init__(self, app: Any, mutate: Mutate) -> None:
        self.app = app
        self.mutate = mutate

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = b"".join(chunks)
                    if start["status"] == 200 and body.startswith(b"{"):
                        query = dict(
                            p.split("=", 1)
                            for p in scope["query_string"].decode().split("&")
                            if "=" in p
                        )
                        body = json.dumps(self.mutate(scope["path"], query, json.loads(body)))
                        body = body.encode()
                    headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
                    headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def honest(_path: str, _query: dict[str, str], body: Json) -> Json:
    return body


def remote_audit(world: World, mutate: Mutate, key: str = "auditor") -> PeriodReport:
    with _env(world.cli):
        settings = load_settings()
    chain = open_chain(settings, signer=False)
    chain.check_contract()
    with TestClient(LyingProxy(world.app, mutate)) as client:
        return audit_period(
            chain=chain,
            source=RemoteLogSource(client, world.keys[key]),
            start_time=datetime.fromisoformat(world.start),
            end_time=datetime.fromisoformat(world.end),
        )


def kinds(report: PeriodReport) -> set[str]:
    return {f.kind for f in report.findings}


# --- honest sources ------------------------------------------------------------------


def test_local_period_audit_lists_the_period_and_nothing_else(world: World, tmp_path: Path) -> None:
    out = tmp_path / "period.csv"
    result = world.cli.ok(
        "audit", "--from", world.start, "--to", world.end, "--json", "--csv", str(out)
    )
    report = result.json()
    assert report["valid"] is True
    assert report["period"] == {"from": world.start, "to": world.end}
    assert {k: report["checkpoints"][k] for k in ("first_seq", "last_seq", "count")} == {
        "first_seq": 1,
        "last_seq": 2,
        "count": 2,
    }
    leaves = report["leaves"]
    assert (leaves["start"], leaves["end"], leaves["opened"]) == (3, 10, 7)
    assert (leaves["withheld"], leaves["mismatched"]) == (0, 0)
    assert report["entities"] == {
        ENTITY: {"registrations": 5, "by_type": {"purchase_order": 2, "service_order": 3}},
        OTHER: {"registrations": 2, "by_type": {"contract": 2}},
    }
    assert [r["index"] for r in report["registrations"]] == list(range(3, 10))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [int(r["index"]) for r in rows] == list(range(3, 10))
    assert rows[0]["entity_ruc"] == ENTITY and rows[0]["type"] == "purchase_order"
    assert rows[0]["sha256"] == report["registrations"][0]["sha256"]

    only = world.cli.ok(
        "audit", "--from", world.start, "--to", world.end, "--entity", OTHER, "--json"
    ).json()
    assert [r["metadata"]["entity_ruc"] for r in only["registrations"]] == [OTHER, OTHER]
    assert list(only["entities"]) == [OTHER]

    text = world.cli.ok("audit", "--from", world.start, "--to", world.end).stdout
    assert "2 checkpoints anchored in the period: seq 1..2" in text
    assert "leaves 3..10: 7 opened, 0 withheld, 0 mismatched" in text
    assert text.rstrip().endswith("complete: every leaf of the period is range-checked and opened")


def test_a_period_with_no_checkpoint_and_bad_periods(world: World) -> None:
    late = iso(world.timestamps[3] + 100)
    report = world.cli.ok("audit", "--from", late, "--to", "2999-01-01", "--json").json()
    assert report["checkpoints"]["count"] == 0 and report["leaves"]["start"] == 12
    assert report["valid"] is True
    for args, needle in (
        (["--from", "2026-03-01"], "both --from and --to"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "is not before"),
        (["--from", "March", "--to", "2026-03-01"], "--from must be a date"),
        (["--url", "http://x"], "need a period"),
    ):
        result = world.cli.run("audit", *args)
        assert result.code == 2, (args, result.stderr)
        assert needle in result.stderr
        assert "Traceback" not in result.stderr


def test_remote_audit_of_an_honest_service_is_complete(world: World) -> None:
    report = remote_audit(world, honest)
    assert report.valid and report.complete, report.findings
    assert (report.start, report.end, report.opened) == (3, 10, 7)


def test_an_entity_key_sees_its_own_openings_only(world: World) -> None:
    report = remote_audit(world, honest, key="entity")
    assert report.opened == 5 and report.withheld == [5, 6]
    assert {r["metadata"]["entity_ruc"] for r in report.registrations} == {ENTITY}
    # Withheld leaves are reported; with no --entity the audit is not valid.
    assert kinds(report) == {"withheld"} and not report.complete


def test_entries_need_a_key(world: World) -> None:
    with TestClient(world.app) as client:
        public = client.get("/v1/log/entries", params={"start": 0, "end": 3})
        assert public.status_code == 401
        assert public.headers["content-type"].startswith("application/problem+json")
        auditor = {"Authorization": f"Bearer {world.keys['auditor']}"}
        too_many = client.get(
            "/v1/log/entries", params={"start": 0, "end": 100_001}, headers=auditor
        )
        assert too_many.status_code == 400
        beyond = client.get("/v1/log/entries", params={"start": 0, "end": 13}, headers=auditor)
        assert beyond.status_code == 400
        entries = client.get("/v1/log/entries", params={"start": 3, "end": 7}, headers=auditor)
        got = entries.json()["entries"]
        assert [e["index"] for e in got] == [3, 4, 5, 6]
        assert {"sha256", "salt", "metadata_sha256", "metadata", "leaf_hash"} <= got[0].keys()
        mine = {"Authorization": f"Bearer {world.keys['entity']}"}
        own = client.get("/v1/log/entries", params={"start": 3, "end": 7}, headers=mine).json()
        assert [e.get("withheld", False) for e in own["entries"]] == [False, False, True, True]
        assert set(own["entries"][2]) == {"index", "leaf_hash", "withheld"}


# --- a service that lies ---------------------------------------------------------------


def _entries(index: int, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Mutate:
    def mutate(path: str, _query: dict[str, str], body: Json) -> Json:
        if path == "/v1/log/entries":
            body["entries"] = [change(e) if e["index"] == index else e for e in body["entries"]]
        return body

    return mutate


def test_a_withheld_opening_fails_the_audit(world: World) -> None:
    report = remote_audit(
        world, _entries(4, lambda e: {"index": 4, "leaf_hash": e["leaf_hash"], "withheld": True})
    )
    assert report.withheld == [4] and not report.valid
    assert any(f.kind == "withheld" and "4" in f.detail for f in report.findings)


def test_a_dropped_opening_fails_the_audit(world: World) -> None:
    def drop(path: str, _query: dict[str, str], body: Json) -> Json:
        if path == "/v1/log/entries":
            body["entries"] = [e for e in body["entries"] if e["index"] != 8]
        return body

    report = remote_audit(world, drop)
    assert report.withheld == [8] and not report.valid


@pytest.mark.parametrize(
    "change",
    [
        lambda e: {**e, "metadata": {**e["metadata"], "reference": "altered"}},
        lambda e: {**e, "sha256": hashlib.sha256(b"another document").hexdigest()},
        lambda e: {**e, "salt": "00" * 32},
        lambda e: {**e, "metadata_sha256": "not hex"},
    ],
    ids=["metadata", "sha256", "salt", "malformed"],
)
def test_an_opening_that_does_not_hash_to_its_leaf_fails(
    world: World, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    report = remote_audit(world, _entries(6, change))
    assert report.mismatched == [6] and not report.valid
    (finding,) = [f for f in report.findings if f.kind == "opening_mismatch"]
    assert finding.leaves == (6,) and "leaf 6" in finding.detail
    assert report.opened == 6


def _leaves(change: Callable[[list[str]], list[str]]) -> Mutate:
    def mutate(path: str, query: dict[str, str], body: Json) -> Json:
        # Only the range of checkpoint 2 (leaves 7..10) is altered.
        if path == "/v1/log/leaves" and query.get("start") == "7":
            body["leaves"] = change(body["leaves"])
        return body

    return mutate


@pytest.mark.parametrize(
    "change",
    [
        lambda leaves: leaves[:1] + leaves[2:],
        lambda leaves: [*leaves, hashlib.sha256(b"inserted").hexdigest()],
        lambda leaves: [leaves[0], hashlib.sha256(b"swapped").hexdigest(), *leaves[2:]],
        lambda leaves: leaves[::-1],
    ],
    ids=["hidden", "added", "replaced", "reordered"],
)
def test_leaves_that_are_not_the_logs_fail_the_range_check(
    world: World, change: Callable[[list[str]], list[str]]
) -> None:
    report = remote_audit(world, _leaves(change))
    assert not report.valid
    (finding,) = report.findings
    assert finding.kind == "range_mismatch" and finding.seq == 2
    assert "leaves 7..10" in finding.detail
    # The first checkpoint's range still checks and is opened; the second is not.
    assert report.opened == 4 and report.unproven == 3


def test_a_compact_range_the_chain_does_not_hold_fails(world: World) -> None:
    def forge(path: str, _query: dict[str, str], body: Json) -> Json:
        if path == "/v1/log/compact-range":
            body["compact_range"] = [hashlib.sha256(b"forged").hexdigest()] * len(
                body["compact_range"]
            )
        return body

    report = remote_audit(world, forge)
    assert not report.valid and report.opened == 0 and report.unproven == 7
    # The range at the period's start, and each later one offered to start again.
    assert [(f.kind, f.seq) for f in report.findings] == [
        ("compact_range_mismatch", 0),
        ("compact_range_mismatch", 1),
        ("compact_range_mismatch", 2),
    ]


def test_a_checkpoint_the_chain_does_not_hold_fails(world: World) -> None:
    forged = hashlib.sha256(b"forged root").hexdigest()

    def invent(path: str, _query: dict[str, str], body: Json) -> Json:
        if path == "/v1/log/checkpoints" and body["checkpoints"]:
            body["checkpoints"][1]["root"] = forged
            body["checkpoints"].append({**body["checkpoints"][-1], "seq": 9, "tree_size": 99})
        return body

    report = remote_audit(world, invent)
    assert not report.valid
    bad = sorted(f.seq for f in report.findings if f.kind == "checkpoint_not_on_chain")
    assert bad == [1, 9]


def test_a_hidden_checkpoint_fails(world: World) -> None:
    def hide(path: str, _query: dict[str, str], body: Json) -> Json:
        if path == "/v1/log/checkpoints":
            body["checkpoints"] = [c for c in body["checkpoints"] if c["seq"] != 2]
        return body

    report = remote_audit(world, hide)
    assert not report.valid
    assert [(f.kind, f.seq) for f in report.findings] == [("checkpoint_hidden", 2)]


# --- the CLI against a real HTTP service -------------------------------------------------


@pytest.fixture
def served(world: World) -> Iterator[Callable[..., str]]:
    """Serves the world's API (through a proxy) with uvicorn on a free port."""
    import time

    import httpx
    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(mutate: Mutate, app: Any = None) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                LyingProxy(world.app if app is None else app, mutate),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        assert httpx.get(url + "/healthz").status_code == 200
        return url

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def test_remote_audit_through_the_cli(world: World, served: Callable[..., str]) -> None:
    url = served(honest)
    args = ["audit", "--from", world.start, "--to", world.end, "--url", url]
    good = world.cli.ok(*args, "--key", world.keys["auditor"], "--json").json()
    assert good["valid"] is True and good["leaves"]["opened"] == 7

    lying = served(_entries(5, lambda e: {**e, "metadata": {**e["metadata"], "type": "x"}}))
    args = ["audit", "--from", world.start, "--to", world.end, "--url", lying]
    bad = world.cli.run(*args, "--key", world.keys["auditor"])
    assert bad.code == 1
    assert "[opening_mismatch] leaf 5" in bad.stdout and "INVALID" in bad.stdout

    refused = world.cli.run(*args, "--key", "not-a-key")
    assert refused.code == 2 and "refused the key" in refused.stderr
    keyless = world.cli.run(*args)
    assert keyless.code == 2 and "API key" in keyless.stderr


# --- whose contract: the auditor's trust, not the service's word ----------------------


def _contract(cli: Cli) -> str:
    return str(json.loads((cli.data_dir / "deployment.json").read_text())["address"])


def test_a_remote_audit_reads_only_a_trusted_deployment(
    world: World, served: Callable[..., str], tmp_path: Path
) -> None:
    """An auditor with no data dir trusts what DOCANCHOR_TRUSTED_CONTRACTS names, and
    nothing else: the service's current contract must be in it."""
    url = served(honest)
    auditor = Cli(
        data_dir=tmp_path / "auditor",
        database_url=f"sqlite:///{tmp_path / 'auditor.sqlite3'}",
        rpc_url=world.cli.rpc_url,
    )
    args = ["audit", "--from", world.start, "--to", world.end, "--url", url]
    args += ["--key", world.keys["auditor"], "--json"]
    refused = auditor.run(*args)
    assert refused.code == 1, refused.stderr
    assert f"anchors in {_contract(world.cli)} on chain 31337" in refused.stderr
    assert "not a trusted deployment (trusted: none)" in refused.stderr
    assert refused.stdout == "" and "Traceback" not in refused.stderr

    other = "31337:0x" + "11" * 20
    elsewhere = auditor.run(*args, env=auditor.env(DOCANCHOR_TRUSTED_CONTRACTS=other))
    assert elsewhere.code == 1 and "not a trusted deployment" in elsewhere.stderr

    # The right address on another chain id is another deployment.
    wrong_chain = f"5:{_contract(world.cli)}"
    refused = auditor.run(*args, env=auditor.env(DOCANCHOR_TRUSTED_CONTRACTS=wrong_chain))
    assert refused.code == 1 and "not a trusted deployment" in refused.stderr

    trusted = f"{other},31337:{_contract(world.cli).lower()}"
    good = auditor.run(*args, env=auditor.env(DOCANCHOR_TRUSTED_CONTRACTS=trusted))
    assert good.code == 0, good.stderr
    report = good.json()
    assert report["complete"] is True and report["leaves"]["opened"] == 7
    assert report["checkpoints"]["count"] == 2


def test_a_service_on_a_contract_of_its_own_is_refused(
    world: World, served: Callable[..., str], tmp_path: Path, anvil: AnvilNode
) -> None:
    """A dishonest service deploys its own contract on the same chain, anchors a forged
    log in it (every registration of the period retyped) and advertises that contract:
    its answers agree with its own checkpoints, so only the auditor's trust stops it."""
    rogue = Cli(
        data_dir=tmp_path / "rogue",
        database_url=f"sqlite:///{tmp_path / 'rogue.sqlite3'}",
        rpc_url=anvil.rpc_url,
    )
    rogue.ok("deploy", "--json")
    assert _contract(rogue).lower() != _contract(world.cli).lower()
    n = 0
    for batch in BATCHES:
        for entity, _kind, count in batch:
            hashes = tmp_path / f"r{n}.txt"
            lines = [hashlib.sha256(f"orden {n + i}".encode()).hexdigest() for i in range(count)]
            hashes.write_text("\n".join(lines) + "\n")
            n += count
            rogue.ok("submit", "--hashes", str(hashes), "--entity", entity, "--type", "forged")
        anvil.rpc("evm_increaseTime", 5)
        rogue.ok("anchor")
    forged = rogue.ok("log", "checkpoints", "--json").json()["checkpoints"]
    assert [c["seq"] for c in forged] == [0, 1, 2, 3]
    with _env(rogue):
        rogue_app = create_app(load_settings())
    secret = create_key(rogue_app.state.ctx.service.store, role="auditor", entity_ruc=None).secret
    url = served(honest, rogue_app)
    period = ["--from", iso(forged[0]["timestamp"] + 1), "--to", "2999-01-01"]
    args = ["audit", *period, "--url", url, "--key", secret]

    refused = world.cli.run(*args)
    assert refused.code == 1, refused.stderr
    assert f"the service anchors in {_contract(rogue)} on chain 31337" in refused.stderr
    assert _contract(world.cli) in refused.stderr  # the auditor's trusted deployment
    assert refused.stdout == "" and "Traceback" not in refused.stderr
    # Nor does naming the trusted contract in the auditor's settings change its mind.
    also = world.cli.run(*args, env=world.cli.env(DOCANCHOR_CONTRACT_ADDRESS=_contract(world.cli)))
    assert also.code == 1 and "not a trusted deployment" in also.stderr

    # Trusting the rogue's contract (a mistake) is what would let its log through: the
    # refusal above is the trust check's doing, not a flaw the audit would find anyway.
    fooled = world.cli.run(
        *args, "--json", env=world.cli.env(DOCANCHOR_TRUSTED_CONTRACTS=f"31337:{_contract(rogue)}")
    )
    assert fooled.code == 0, fooled.stderr
    report = fooled.json()
    assert report["complete"] is True and report["leaves"]["opened"] == 9
    assert {r["metadata"]["type"] for r in report["registrations"]} == {"forged"}


def test_a_service_that_names_no_single_contract_on_the_nodes_chain_is_refused(
    world: World, served: Callable[..., str]
) -> None:
    def deployments(change: Callable[[list[Json]], list[Json]]) -> Mutate:
        def mutate(path: str, _query: dict[str, str], body: Json) -> Json:
            if path == "/v1/deployments":
                return {**body, "deployments": change(body["deployments"])}
            return body

        return mutate

    period = ["--from", world.start, "--to", world.end, "--key", world.keys["auditor"]]
    for change, words in (
        (lambda ds: [{**d, "chain_id": 5} for d in ds], "anchors on chain 5"),
        (lambda ds: [{**d, "current": False} for d in ds], "names 0 current deployments"),
        (lambda ds: [*ds, {**ds[0], "address": "0x" + "22" * 20}], "names 2 current"),
        (lambda ds: [{**d, "address": "0x12"} for d in ds], "current deployment: a contract"),
    ):
        url = served(deployments(change))
        result = world.cli.run("audit", *period, "--url", url)
        assert result.code == 1, (words, result.stderr)
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1 and words in line, line
        assert result.stdout == ""

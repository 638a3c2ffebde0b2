"""A receipt from someone else's contract is not valid here (receipt spec 6, step 5).

On one real Anvil: "ours" is a data dir with its deployment, CLI and API;
"theirs" deploys the same DocumentAnchor with another key, registers and
anchors a document there and exports its receipt. Everything the receipt
proves is true on chain, yet our verifiers refuse it until they are told to
trust that deployment (and, for its signature, its key).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docanchor.api import create_app
from docanchor.config import load_settings
from docanchor.signing import public_key_of
from tests.support.anvil import SECOND_DEV_PRIVATE_KEY, AnvilNode
from tests.support.clihelp import Cli

UNTRUSTED = "which is not a docanchor deployment this verifier trusts"
ELSEWHERE = "0x000000000000000000000000000000000000dEaD"


@dataclass
class Side:
    cli: Cli
    contract: str


@dataclass
class World:
    ours: Side
    theirs: Side
    their_receipt: Path
    their_key: bytes
    our_receipt: Path


def _side(tmp_path: Path, name: str, database_url: str, rpc_url: str, **env: str) -> Side:
    cli = Cli(
        data_dir=tmp_path / name,
        database_url=database_url,
        rpc_url=rpc_url,
        extra_env=dict(env),
    )
    deployed = cli.ok("deploy", "--json").json()
    return Side(cli, deployed["address"])


def _anchored_receipt(side: Side, folder: Path, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = folder / "orden.txt"
    document.write_bytes(content)
    side.cli.ok("submit", str(document), "--entity", "20131370998", "--reference", "OC-T")
    side.cli.ok("anchor")
    receipt = folder / "orden.receipt.json"
    receipt.write_text(side.cli.ok("receipt", str(document)).stdout)
    return receipt


@pytest.fixture
def world(tmp_path: Path, database_url: str, anvil: AnvilNode) -> World:
    ours = _side(tmp_path, "ours", database_url, anvil.rpc_url)
    # Theirs: its own SQLite database, its own key, its own contract on the same chain.
    theirs = _side(
        tmp_path,
        "theirs",
        f"sqlite:///{tmp_path / 'theirs.sqlite3'}",
        anvil.rpc_url,
        DOCANCHOR_PRIVATE_KEY=SECOND_DEV_PRIVATE_KEY,
    )
    assert theirs.contract.lower() != ours.contract.lower()
    their_receipt = _anchored_receipt(theirs, tmp_path / "t", b"anchored somewhere else\n")
    our_receipt = _anchored_receipt(ours, tmp_path / "o", b"anchored here\n")
    key = public_key_of(theirs.cli.data_dir / "receipt-signing-key.pem")
    assert key is not None
    return World(ours, theirs, their_receipt, key, our_receipt)


def _checks(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c["step"]: c for c in report["checks"]}


def test_cli_refuses_a_receipt_from_an_untrusted_deployment(world: World) -> None:
    receipt = json.loads(world.their_receipt.read_text())
    assert receipt["anchor"]["contract"] == world.theirs.contract
    # Their own verifier accepts it: the receipt is genuine where it was made.
    world.theirs.cli.ok("verify", "--receipt", str(world.their_receipt))

    result = world.ours.cli.run("verify", "--receipt", str(world.their_receipt))
    assert result.code == 1, result.stdout + result.stderr
    assert result.stdout.startswith("NOT VALID")
    assert (
        f"[FAIL] 5. chain_record: anchored in {world.theirs.contract} on chain 31337, {UNTRUSTED}"
    ) in result.stdout
    assert "[skip] 6." in result.stdout and "[skip] 7." in result.stdout

    # Trusting the deployment makes step 5 pass; their signature is still by a key we
    # do not trust, and that is reported.
    trusting = world.ours.cli.env(DOCANCHOR_TRUSTED_CONTRACTS=f"31337:{world.theirs.contract}")
    result = world.ours.cli.run(
        "verify", "--receipt", str(world.their_receipt), "--json", env=trusting
    )
    assert result.code == 1
    checks = _checks(result.json())
    assert all(checks[s]["ok"] and not checks[s]["skipped"] for s in (5, 6, 7))
    assert (
        not checks[8]["ok"]
        and "not a receipt signing key this verifier trusts" in (checks[8]["detail"])
    )

    # With their published key as well, the receipt is valid.
    for extra in (
        ["--signing-key", world.their_key.hex()],
        [],
    ):
        env = dict(trusting)
        if not extra:
            env["DOCANCHOR_TRUSTED_SIGNING_KEYS"] = world.their_key.hex()
        result = world.ours.cli.run(
            "verify", "--receipt", str(world.their_receipt), "--json", *extra, env=env
        )
        assert result.code == 0, result.stdout + result.stderr
        report = result.json()
        assert report["valid"] is True
        assert _checks(report)[8]["ok"] and not _checks(report)[8]["skipped"]

    # The address is compared without regard to case.
    lower = world.ours.cli.env(
        DOCANCHOR_TRUSTED_CONTRACTS=f"31337:{world.theirs.contract.lower()}",
        DOCANCHOR_TRUSTED_SIGNING_KEYS=world.their_key.hex(),
    )
    world.ours.cli.ok("verify", "--receipt", str(world.their_receipt), env=lower)
    # The same address on another chain is another deployment.
    other_chain = world.ours.cli.env(DOCANCHOR_TRUSTED_CONTRACTS=f"1:{world.theirs.contract}")
    result = world.ours.cli.run("verify", "--receipt", str(world.their_receipt), env=other_chain)
    assert result.code == 1 and UNTRUSTED in result.stdout


def test_cli_checks_its_own_receipts_and_their_signature(world: World) -> None:
    world.ours.cli.ok("verify", "--receipt", str(world.our_receipt))
    # A signature altered by one character is reported; the rest of the receipt is sound.
    forged = json.loads(world.our_receipt.read_text())
    value = forged["signature"]["value"]
    forged["signature"]["value"] = ("B" if value[0] == "A" else "A") + value[1:]
    path = world.our_receipt.with_name("forged-signature.json")
    path.write_text(json.dumps(forged))
    result = world.ours.cli.run("verify", "--receipt", str(path))
    assert result.code == 1
    assert "[FAIL] 8. signature:" in result.stdout and "does not verify" in result.stdout
    assert "[ok  ] 5. chain_record" in result.stdout


def test_a_bad_trusted_contracts_value_is_a_one_line_error(world: World) -> None:
    env = world.ours.cli.env(DOCANCHOR_TRUSTED_CONTRACTS="31337:not-an-address")
    result = world.ours.cli.run("verify", "--receipt", str(world.our_receipt), env=env)
    assert result.code == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "DOCANCHOR_TRUSTED_CONTRACTS" in result.stderr
    assert "'31337:not-an-address'" in result.stderr


@pytest.fixture
def our_api(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, value in world.ours.cli.env(
        DOCANCHOR_TRUSTED_CONTRACTS=f"1:{ELSEWHERE}, 5:{ELSEWHERE.lower()}"
    ).items():
        if name.startswith("DOCANCHOR_"):
            monkeypatch.setenv(name, value)
    app = create_app(load_settings())
    with TestClient(app) as client:
        yield client


def test_api_refuses_a_receipt_from_an_untrusted_deployment(
    world: World, our_api: TestClient
) -> None:
    theirs = json.loads(world.their_receipt.read_text())
    answer = our_api.post("/v1/receipts/verify", json={"receipt": theirs})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["valid"] is False
    checks = _checks(report)
    assert checks[5]["detail"] == (
        f"anchored in {world.theirs.contract} on chain 31337, {UNTRUSTED}"
    )
    assert checks[6]["skipped"] and checks[7]["skipped"]
    # Our own receipt, signature included, is valid on the same service.
    ours = json.loads(world.our_receipt.read_text())
    report = our_api.post("/v1/receipts/verify", json={"receipt": ours}).json()
    assert report["valid"] is True, report
    assert _checks(report)[8]["ok"] and not _checks(report)[8]["skipped"]


def test_api_publishes_what_it_trusts(world: World, our_api: TestClient) -> None:
    answer = our_api.get("/v1/deployments")
    assert answer.status_code == 200
    body = answer.json()
    assert body["deployments"] == [
        {"chain_id": 1, "address": ELSEWHERE, "current": False},
        {"chain_id": 5, "address": ELSEWHERE.lower(), "current": False},
        {"chain_id": 31337, "address": world.ours.contract, "current": True},
    ]
    keys = our_api.get("/v1/keys").json()["keys"]
    assert body["signing_keys"] == keys and len(keys) == 1
    our_key = public_key_of(world.ours.cli.data_dir / "receipt-signing-key.pem")
    assert our_key is not None and keys[0]["public_key_hex"] == our_key.hex()
    schema = our_api.get("/openapi.json").json()
    assert "get" in schema["paths"]["/v1/deployments"]


class _Recording:
    """A real chain reader that notes every question it is asked."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: list[str] = []

    @property
    def chain_id(self) -> int:
        self.asked.append("chain_id")
        return int(self.inner.chain_id)

    def head_number(self) -> int:
        self.asked.append("head_number")
        return int(self.inner.head_number())

    def block_hash(self, number: int) -> str | None:
        self.asked.append("block_hash")
        value: str | None = self.inner.block_hash(number)
        return value

    def get_anchor_at(self, contract: str, root: bytes) -> Any:
        self.asked.append(f"get_anchor_at {contract}")
        return self.inner.get_anchor_at(contract, root)


def test_the_node_is_not_asked_about_an_untrusted_contract(world: World, anvil: AnvilNode) -> None:
    from docanchor.chain import ChainClient
    from docanchor.receipt import TrustedDeployment, parse_receipt_text, trust_policy
    from docanchor.service import verify_receipt_on_chain

    parsed = parse_receipt_text(world.their_receipt.read_bytes())
    reader = _Recording(ChainClient(rpc_url=anvil.rpc_url))
    ours_only = trust_policy({TrustedDeployment(31337, world.ours.contract)})
    result = verify_receipt_on_chain(
        parsed.receipt, reader, document_sha256=None, required_confirmations=1, trust=ours_only
    )
    assert not result.valid and reader.asked == []
    both = trust_policy(
        {
            TrustedDeployment(31337, world.ours.contract),
            TrustedDeployment(31337, world.theirs.contract),
        }
    )
    result = verify_receipt_on_chain(
        parsed.receipt, reader, document_sha256=None, required_confirmations=1, trust=both
    )
    assert result.valid, result.checks
    assert f"get_anchor_at {world.theirs.contract}" in reader.asked


def test_api_trusting_their_deployment_and_key(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = world.ours.cli.env(
        DOCANCHOR_TRUSTED_CONTRACTS=f"31337:{world.theirs.contract.lower()}",
        DOCANCHOR_TRUSTED_SIGNING_KEYS=world.their_key.hex(),
    )
    for name, value in env.items():
        if name.startswith("DOCANCHOR_"):
            monkeypatch.setenv(name, value)
    with TestClient(create_app(load_settings())) as client:
        theirs = json.loads(world.their_receipt.read_text())
        report = client.post("/v1/receipts/verify", json={"receipt": theirs}).json()
        assert report["valid"] is True, report
        assert _checks(report)[8]["detail"].startswith("signed by the service key")
        published = client.get("/v1/deployments").json()
        assert [(d["address"].lower(), d["current"]) for d in published["deployments"]] == sorted(
            [
                (world.ours.contract.lower(), True),
                (world.theirs.contract.lower(), False),
            ]
        )
        own = client.get("/v1/keys").json()["keys"]
        assert published["signing_keys"][0] == own[0]
        assert [k["public_key_hex"] for k in published["signing_keys"][1:]] == [
            world.their_key.hex()
        ]

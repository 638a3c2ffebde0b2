"""The entity's workflow through the real CLI, on a real Anvil, on every database.

submit (files, folders, digests) -> anchor -> status -> receipt -> verify
(trustless, with only the receipt and a node) -> audit; and what a careful
user expects on bad input.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli

ENTITY = "20131370998"


@pytest.fixture
def cli(tmp_path: Path, database_url: str, anvil: AnvilNode) -> Cli:
    c = Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=anvil.rpc_url)
    deployed = c.ok("deploy", "--json").json()
    assert deployed["chain_id"] == 31337
    return c


def make_docs(folder: Path, n: int, prefix: str = "orden") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{prefix}-{i}.pdf"
        path.write_bytes(f"%PDF-1.7 orden de compra {prefix} {i}\n".encode() * (i + 1))
        paths.append(path)
    return paths


def test_submit_anchor_and_verify_every_receipt_trustlessly(cli: Cli, tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "in" / "nested", 3)
    loose = tmp_path / "in" / "contrato.pdf"
    loose.write_bytes(b"contrato 123")
    elsewhere = [hashlib.sha256(f"kept elsewhere {i}".encode()).hexdigest() for i in range(2)]
    hashes_file = tmp_path / "hashes.txt"
    hashes_file.write_text(
        "# digests of documents kept elsewhere\n" + "\n".join(elsewhere) + "\n\n"
    )

    lines = cli.ok(
        "submit",
        str(tmp_path / "in"),
        "--reference",
        "OC-2025-000123",
        "--type",
        "purchase_order",
        "--entity",
        ENTITY,
        "--meta",
        "supplier_ruc=20601234567",
        "--as-versions",
        "--json",
    ).json_lines()
    assert len(lines) == 4 and all(
        line["created"] and line["status"] == "pending" for line in lines
    )
    first = lines[0]["receipt"]
    assert first["status"] == "pending" and first["proof"] is None and first["anchor"] is None
    assert first["document"]["metadata"] == {
        "entity_ruc": ENTITY,
        "reference": "OC-2025-000123",
        "supplier_ruc": "20601234567",
        "type": "purchase_order",
    }
    assert cli.ok("submit", "--hashes", str(hashes_file), "--entity", ENTITY).code == 0

    status = cli.ok("status", "--json").json()
    assert status["documents"] == {"pending": 6, "sealed": 0, "anchored": 0, "confirmed": 0}

    anchored = cli.ok("anchor", "--json").json()
    assert len(anchored["batches"]) == 1
    batch = anchored["batches"][0]
    assert batch["size"] == 6 and batch["status"] == "confirmed" and batch["seq"] == 0
    assert batch["tx_hash"].startswith("0x") and len(batch["root"]) == 64

    status = cli.ok("status", "--json").json()
    assert status["documents"]["confirmed"] == 6 and status["documents"]["pending"] == 0
    assert status["batches"][0]["block_hash"].startswith("0x")

    # A second anchor has nothing to do and anchors nothing twice.
    again = cli.ok("anchor", "--json").json()
    assert again == {"batches": []}

    out = tmp_path / "receipts"
    cli.ok("receipt", *map(str, [*docs, loose]), *elsewhere, "-o", str(out))
    written = sorted(out.glob("*.receipt.json"))
    assert len(written) == 6

    # Trustless: an empty data dir and a database URL that does not exist; what the
    # stranger trusts is what the service publishes: its deployment and signing key.
    from docanchor.signing import public_key_of

    contract = json.loads(written[0].read_text())["anchor"]["contract"]
    published_key = public_key_of(cli.data_dir / "receipt-signing-key.pem")
    assert published_key is not None
    stranger = Cli(
        data_dir=tmp_path / "stranger",
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        rpc_url=cli.rpc_url,
    )
    untrusting = stranger.run("verify", "--receipt", str(written[0]))
    assert untrusting.code == 1
    assert "which is not a docanchor deployment this verifier trusts" in untrusting.stdout
    stranger.extra_env = {
        "DOCANCHOR_TRUSTED_CONTRACTS": f"31337:{contract}",
        "DOCANCHOR_TRUSTED_SIGNING_KEYS": published_key.hex(),
    }
    for n, path in enumerate([*docs, loose]):
        receipt_path = out / f"{hashlib.sha256(path.read_bytes()).hexdigest()}.receipt.json"
        # The installed console script itself, in a process of its own.
        result = stranger.run(
            "verify", str(path), "--receipt", str(receipt_path), "--json", subprocess=n == 0
        )
        assert result.code == 0, result.stdout + result.stderr
        report = result.json()
        assert report["valid"] is True and report["confirmations"] >= 1
        assert [c["step"] for c in report["checks"]] == [1, 2, 4, 5, 6, 7, 8]
        signature = report["checks"][-1]
        assert signature["ok"] and not signature["skipped"], signature
    assert not (tmp_path / "stranger").exists() or not list((tmp_path / "stranger").iterdir())

    # The receipt alone (no document) also verifies; the document is then not checked.
    receipt_only = stranger.run("verify", "--receipt", str(written[0]))
    assert receipt_only.code == 0, receipt_only.stderr
    assert "VALID" in receipt_only.stdout

    # A tampered document is rejected by its receipt.
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(docs[0].read_bytes() + b" ")
    receipt0 = out / f"{hashlib.sha256(docs[0].read_bytes()).hexdigest()}.receipt.json"
    bad = stranger.run("verify", str(tampered), "--receipt", str(receipt0))
    assert bad.code == 1
    assert "does not match" in bad.stdout

    # Without a receipt, the local look-up finds nothing for the tampered file.
    unknown = cli.run("verify", str(tampered))
    assert unknown.code == 1 and "not registered" in unknown.stdout
    # ... and the real document verifies through the database and the chain.
    assert cli.ok("verify", str(docs[1])).stdout.startswith("VALID")


FORGERIES = ("root", "path", "salt", "metadata", "chain_id", "block_hash", "seq", "tree_size")


def forge(receipt: dict[str, Any], what: str) -> dict[str, Any]:
    forged = json.loads(json.dumps(receipt))
    forged.pop("signature", None)

    def flipped(hex_text: str) -> str:
        return ("1" if hex_text[0] != "1" else "2") + hex_text[1:]

    if what == "root":
        forged["batch"]["root"] = flipped(forged["batch"]["root"])
    elif what == "path":
        forged["proof"]["path"][0] = flipped(forged["proof"]["path"][0])
    elif what == "salt":
        forged["document"]["salt"] = flipped(forged["document"]["salt"])
    elif what == "metadata":
        forged["document"]["metadata"]["reference"] = "OC-10"
    elif what == "chain_id":
        forged["anchor"]["chain_id"] = 1
    elif what == "block_hash":
        forged["anchor"]["block_hash"] = "0x" + "ab" * 32
    elif what == "seq":
        forged["anchor"]["seq"] += 1
    elif what == "tree_size":
        # A consistent-looking proof for a bigger tree: the path length then
        # no longer matches, which parsing refuses.
        forged["proof"]["tree_size"] += 1
    return forged


def test_forged_receipts_are_rejected(cli: Cli, tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "in", 3)
    cli.ok("submit", *map(str, docs), "--entity", ENTITY, "--reference", "OC-9", "--as-versions")
    cli.ok("anchor")
    receipt = json.loads(cli.ok("receipt", str(docs[0])).stdout)

    from docanchor.chain import ChainClient
    from docanchor.errors import ReceiptFormatError
    from docanchor.receipt import TrustedDeployment, parse_receipt, trust_policy
    from docanchor.service import verify_receipt_on_chain

    reader = ChainClient(rpc_url=cli.rpc_url)
    digest = hashlib.sha256(docs[0].read_bytes()).digest()
    contract = receipt["anchor"]["contract"]
    trust = trust_policy({TrustedDeployment(31337, contract)})
    genuine = verify_receipt_on_chain(
        parse_receipt(receipt),
        reader,
        document_sha256=digest,
        required_confirmations=1,
        trust=trust,
    )
    assert genuine.valid, genuine.checks
    for what in FORGERIES:
        forged = forge(receipt, what)
        try:
            parsed = parse_receipt(forged)
        except ReceiptFormatError:
            assert what == "tree_size"
            continue
        result = verify_receipt_on_chain(
            parsed, reader, document_sha256=digest, required_confirmations=1, trust=trust
        )
        assert not result.valid, what
        assert any(not c.ok and not c.skipped for c in result.checks), what

    # And through the CLI, as an auditor would run it.
    for what in ("path", "chain_id"):
        path = tmp_path / f"forged-{what}.json"
        path.write_text(json.dumps(forge(receipt, what)))
        result = cli.run("verify", str(docs[0]), "--receipt", str(path), "--json")
        assert result.code == 1, result.stdout + result.stderr
        report = result.json()
        assert report["valid"] is False
    # A receipt that claims chain 1 names a deployment this data dir does not trust...
    forged_chain = str(tmp_path / "forged-chain_id.json")
    chain_report = cli.run("verify", "--receipt", forged_chain).stdout
    assert (
        f"anchored in {contract} on chain 1, which is not a docanchor deployment "
        "this verifier trusts"
    ) in chain_report
    # ...and once trusted, the node on chain 31337 is the wrong one to check it on.
    trusting = cli.env(DOCANCHOR_TRUSTED_CONTRACTS=f"1:{contract}")
    chain_report = cli.run("verify", "--receipt", forged_chain, env=trusting).stdout
    assert "belongs to chain 1" in chain_report and "31337" in chain_report


def test_registration_is_idempotent_and_versions_follow_metadata(cli: Cli, tmp_path: Path) -> None:
    doc = make_docs(tmp_path / "in", 1)[0]
    first = cli.ok("submit", str(doc), "--entity", ENTITY, "--reference", "OC-7", "--json")
    again = cli.ok("submit", str(doc), "--entity", ENTITY, "--reference", "OC-7", "--json")
    (a,), (b,) = first.json_lines(), again.json_lines()
    assert a["created"] is True and b["created"] is False and a["id"] == b["id"]
    assert a["receipt"]["document"]["salt"] == b["receipt"]["document"]["salt"]

    other = cli.ok(
        "submit",
        str(doc),
        "--entity",
        ENTITY,
        "--reference",
        "OC-7",
        "--meta",
        "amendment=1",
        "--json",
    ).json_lines()[0]
    assert other["created"] is True and other["id"] != a["id"]
    assert (a["version"], b["version"], other["version"]) == (1, 1, 2)
    assert other["receipt"]["document"]["salt"] != a["receipt"]["document"]["salt"]

    every = json.loads(cli.ok("receipt", str(doc), "--all").stdout)
    assert len(every) == 2
    assert {r["document"]["metadata"].get("amendment") for r in every} == {None, "1"}
    latest = json.loads(cli.ok("receipt", str(doc)).stdout)
    assert latest["document"]["metadata"]["amendment"] == "1"


def test_submitting_an_anchored_document_again_shows_its_anchor(cli: Cli, tmp_path: Path) -> None:
    """A document registered before and anchored since is not pending: submit --json
    shows its status and a receipt with its proof, as `receipt` does."""
    docs = make_docs(tmp_path / "in", 2)
    cli.ok("submit", str(docs[0]), "--entity", ENTITY, "--json")
    cli.ok("anchor", "--json")
    (old, new) = cli.ok("submit", *map(str, docs), "--entity", ENTITY, "--json").json_lines()
    assert old["created"] is False and old["status"] in ("anchored", "confirmed"), old
    assert old["batch_id"] is not None
    assert old["receipt"]["status"] == old["status"]
    assert old["receipt"]["proof"] is not None and old["receipt"]["anchor"] is not None
    assert old["receipt"] == json.loads(cli.ok("receipt", str(docs[0])).stdout)
    assert new["created"] is True and new["status"] == "pending", new
    assert new["receipt"]["status"] == "pending" and new["receipt"]["proof"] is None


def test_bad_input_gets_one_clear_line_and_exit_code(cli: Cli, tmp_path: Path) -> None:
    missing = cli.run("submit", str(tmp_path / "nope.pdf"))
    assert missing.code == 2 and "no such file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    bad_hashes = tmp_path / "bad.txt"
    bad_hashes.write_text("a" * 64 + "\nnot-a-digest\n")
    result = cli.run("submit", "--hashes", str(bad_hashes))
    assert result.code == 2 and "line 2" in result.stderr
    assert cli.ok("status", "--json").json()["documents"]["pending"] == 0  # nothing half-done

    floats = cli.run("submit", "--hashes", str(bad_hashes), "--meta", "amount:=12.5")
    assert floats.code == 2 and "floating-point" in floats.stderr

    nothing = cli.run("submit")
    assert nothing.code == 2

    unknown = cli.run("receipt", "ab" * 32)
    assert unknown.code == 1 and "no registration" in unknown.stderr

    bad_receipt = tmp_path / "r.json"
    bad_receipt.write_text('{"version": "docanchor-receipt/2"}')
    result = cli.run("verify", "--receipt", str(bad_receipt))
    assert result.code == 2 and "version" in result.stderr

    down = cli.run("anchor", env=cli.env(DOCANCHOR_RPC_URL="http://127.0.0.1:1"))
    assert down.code == 3 and "cannot reach" in down.stderr

    bad_env = cli.run("status", env=cli.env(DOCANCHOR_BATCH_MAX="lots"))
    assert bad_env.code == 3 and "DOCANCHOR_BATCH_MAX" in bad_env.stderr


def test_audit_catches_a_tampered_database_row(cli: Cli, tmp_path: Path, database_url: str) -> None:
    docs = make_docs(tmp_path / "in", 4)
    cli.ok("submit", *map(str, docs), "--entity", ENTITY)
    cli.ok("anchor")
    clean = cli.ok("audit", "--json").json()
    assert clean["ok"] is True and clean["events"] == 1 and clean["batches_checked"] == 1

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE document SET sha256 = :s WHERE id = 2"), {"s": bytes(32)})
    engine.dispose()
    result = cli.run("audit", "--json")
    assert result.code == 1
    kinds = {f["kind"] for f in result.json()["findings"]}
    assert kinds == {"root_mismatch"}
    # The tampered row no longer gets a receipt as if nothing happened: its leaf
    # hash is not the one the log holds at its index. (The other documents'
    # receipts stay true: their leaves and the log are intact.)
    receipt = cli.run("receipt", "00" * 32)
    assert receipt.code == 1 and "altered" in receipt.stderr
    cli.ok("verify", str(docs[0]))


def test_batches_of_a_previous_deployment_are_left_to_it(cli: Cli, tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "in", 2)
    cli.ok("submit", str(docs[0]), "--entity", ENTITY)
    first = cli.ok("anchor", "--json").json()["batches"][0]
    receipt = tmp_path / "r.json"
    receipt.write_text(cli.ok("receipt", str(docs[0])).stdout)

    cli.ok("deploy", "--force")  # a new contract: later batches go there
    cli.ok("submit", str(docs[1]), "--entity", ENTITY)
    second = cli.ok("anchor", "--json").json()["batches"]
    assert [b["id"] for b in second] == [first["id"] + 1]  # the first is not anchored again
    status = cli.ok("status", "--json").json()
    contracts = {b["id"]: b["contract"] for b in status["batches"]}
    assert contracts[first["id"]] != contracts[first["id"] + 1]
    assert all(b["status"] == "confirmed" for b in status["batches"])
    # The replaced deployment is still trusted: its receipts keep verifying.
    record = json.loads((cli.data_dir / "deployment.json").read_text())
    assert record["address"] == contracts[first["id"] + 1]
    assert [p["address"] for p in record["previous"]] == [contracts[first["id"]]]
    cli.ok("verify", str(docs[0]), "--receipt", str(receipt))
    cli.ok("verify", str(docs[0]))


def test_the_signing_key_is_made_when_a_receipt_is_first_signed(cli: Cli, tmp_path: Path) -> None:
    key = cli.data_dir / "receipt-signing-key.pem"
    doc = make_docs(tmp_path / "in", 1)[0]
    cli.ok("submit", str(doc), "--entity", ENTITY)
    cli.ok("status")
    assert not key.exists()  # nothing was signed yet
    signed = json.loads(cli.ok("receipt", str(doc)).stdout)
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert signed["signature"]["alg"] == "Ed25519"
    again = json.loads(cli.ok("receipt", str(doc)).stdout)
    assert again["signature"]["key_id"] == signed["signature"]["key_id"]


def test_log_verify_checks_the_whole_history_from_the_chain(
    cli: Cli, tmp_path: Path, database_url: str
) -> None:
    from docanchor import merkle

    for round_ in range(3):
        docs = make_docs(tmp_path / f"in{round_}", round_ + 2, prefix=f"r{round_}")
        cli.ok("submit", *map(str, docs), "--entity", ENTITY)
        cli.ok("anchor")
    checkpoints = cli.ok("log", "checkpoints", "--json").json()["checkpoints"]
    assert [(c["seq"], c["tree_size"], c["status"]) for c in checkpoints] == [
        (0, 2, "confirmed"),
        (1, 5, "confirmed"),
        (2, 9, "confirmed"),
    ]
    assert "seq 1: size 5, root " + checkpoints[1]["root"] in cli.ok("log", "checkpoints").stdout
    proof = cli.ok("log", "consistency", "2", "9", "--json").json()
    merkle.verify_consistency(
        2,
        9,
        [bytes.fromhex(h) for h in proof["proof"]],
        bytes.fromhex(checkpoints[0]["root"]),
        bytes.fromhex(checkpoints[2]["root"]),
    )
    not_a_checkpoint = cli.run("log", "consistency", "3", "9")
    assert not_a_checkpoint.code == 2 and "not the size of a checkpoint" in not_a_checkpoint.stderr

    honest = cli.ok("log", "verify", "--json").json()
    assert honest == {"ok": True, "events": 3, "batches_checked": 0, "findings": []}
    assert "3 checkpoint(s) on chain: each extends the one before" in cli.ok("log", "verify").stdout
    assert cli.ok("audit", "--json").json()["ok"] is True

    # One stored leaf of the log is replaced: the history no longer matches the chain.
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        tile = bytes(
            conn.execute(
                sa.text("SELECT hashes FROM log_tile WHERE level = 0 AND idx = 0")
            ).scalar_one()
        )
        forged = tile[:96] + hashlib.sha256(b"forged").digest() + tile[128:]
        conn.execute(
            sa.text("UPDATE log_tile SET hashes = :h WHERE level = 0 AND idx = 0"), {"h": forged}
        )
    engine.dispose()
    result = cli.run("log", "verify", "--json")
    assert result.code == 1
    kinds = {f["kind"] for f in result.json()["findings"]}
    assert "compact_range_mismatch" in kinds and "inconsistent_history" in kinds
    human = cli.run("log", "verify")
    assert human.code == 1 and "[inconsistent_history]" in human.stdout
    audit = cli.run("audit", "--json")
    assert audit.code == 1 and "compact_range_mismatch" in {
        f["kind"] for f in audit.json()["findings"]
    }

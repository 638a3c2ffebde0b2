"""What the CLI says on a real devnet: counts in good grammar, hints only when
they apply, the verdicts of ``verify``, ``--json`` on the reporting commands,
and the anchoring lease shared with ``serve``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docanchor.service import ANCHOR_LOCK
from docanchor.store import Store, utcnow
from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli

ENTITY = "20131370998"


@pytest.fixture
def cli(tmp_path: Path, database_url: str, anvil: AnvilNode) -> Cli:
    c = Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=anvil.rpc_url)
    c.ok("deploy", "--json")
    return c


def doc(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_counts_hints_and_verdicts_read_right(cli: Cli, tmp_path: Path, anvil: AnvilNode) -> None:
    one = doc(tmp_path / "in", "orden.txt", "orden de compra 1")
    submitted = cli.ok("submit", str(one), "--reference", "OC-1", "--entity", ENTITY)
    assert submitted.stdout.splitlines()[-1] == (
        "1 document registered, 0 already registered; "
        "1 pending: run `docanchor anchor` to anchor it"
    )

    anchored = cli.ok("anchor")
    line = anchored.stdout.strip()
    assert line.startswith("batch 1: 1 document, root ") and "confirmed" in line, line
    status = cli.ok("status").stdout.splitlines()
    assert status[0] == "documents: 0 pending, 0 sealed, 0 anchored, 1 confirmed"
    assert status[1].startswith("batch 1: 1 document confirmed, root ")

    # Nothing is pending any more: no hint to run anchor.
    again = cli.ok("submit", str(one), "--reference", "OC-1", "--entity", ENTITY)
    assert again.stdout.splitlines()[-1] == "0 documents registered, 1 already registered"
    assert "docanchor anchor" not in again.stdout

    receipt = tmp_path / "orden.receipt.json"
    receipt.write_text(cli.ok("receipt", str(one)).stdout, encoding="utf-8")
    valid = cli.ok("verify", "--receipt", str(receipt), str(one)).stdout.splitlines()
    assert valid[0].startswith("VALID: 1 confirmation, 1 required"), valid[0]
    step7 = next(line for line in valid if "7. confirmations" in line)
    assert step7.endswith("the anchor has 1 confirmation (1 required)"), step7

    # Valid but short of the confirmations the verifier asks for: not yet confirmed.
    early = cli.run("verify", "--receipt", str(receipt), str(one), "--confirmations", "50")
    assert early.code == 1
    assert early.stdout.startswith("NOT YET CONFIRMED: 1 confirmation, 50 required")
    early_json = cli.run(
        "verify", "--receipt", str(receipt), "--confirmations", "50", "--json"
    ).json()
    assert early_json["valid"] is False and early_json["verdict"] == "not_yet_confirmed"

    # A pending receipt is not yet confirmed either, not "not valid".
    two = doc(tmp_path / "in", "contrato.txt", "contrato 2")
    cli.ok("submit", str(two), "--entity", ENTITY)
    pending = tmp_path / "contrato.receipt.json"
    pending.write_text(cli.ok("receipt", str(two)).stdout, encoding="utf-8")
    waiting = cli.run("verify", "--receipt", str(pending), str(two), "--json")
    assert waiting.code == 1 and waiting.json()["verdict"] == "not_yet_confirmed"

    # An altered document is not valid, whatever the confirmations.
    altered = doc(tmp_path / "in", "altered.txt", "orden de compra 9")
    bad = cli.run("verify", "--receipt", str(receipt), str(altered))
    assert bad.code == 1 and bad.stdout.startswith("NOT VALID: 1 confirmation")
    bad_json = cli.run("verify", "--receipt", str(receipt), str(altered), "--json").json()
    assert bad_json["verdict"] == "not_valid"

    audit = cli.ok("audit").stdout.splitlines()[0]
    assert audit == "1 Anchored event, 1 batch checked: all consistent"


def test_a_folder_with_one_reference_is_refused_unless_as_versions(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    for i in range(3):
        doc(folder, f"factura-{i}.txt", f"factura {i}")
    refused = cli.run("submit", str(folder), "--reference", "F001-1", "--entity", ENTITY)
    assert refused.code == 2 and "--as-versions" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert cli.ok("status", "--json").json()["documents"]["pending"] == 0

    # Without --reference, a folder is simply many documents.
    plain = cli.ok("submit", str(folder), "--entity", ENTITY, "--json").json_lines()
    assert len(plain) == 3 and all(line["version"] is None for line in plain)

    versions = cli.ok(
        "submit",
        str(folder),
        "--reference",
        "F001-1",
        "--entity",
        ENTITY,
        "--as-versions",
        "--json",
    ).json_lines()
    assert [line["version"] for line in versions] == [1, 2, 3]


def test_anchor_takes_the_anchoring_lease_of_serve(
    cli: Cli, tmp_path: Path, anvil: AnvilNode, database_url: str
) -> None:
    cli.ok("submit", str(doc(tmp_path / "in", "orden.txt", "orden 77")), "--entity", ENTITY)
    # Another process (a `docanchor serve` or another `docanchor anchor`) holds the lease.
    store = Store(database_url)
    try:
        assert store.try_lock(ANCHOR_LOCK, "other-host:4242:1", now=utcnow(), ttl_seconds=300)
        head = anvil.rpc("eth_blockNumber")
        held = cli.run("anchor")
        assert held.code == 3, held.stderr
        line = held.stderr.strip()
        assert len(line.splitlines()) == 1 and "anchoring lease is held by another process" in line
        assert anvil.rpc("eth_blockNumber") == head  # no transaction was sent
        assert cli.ok("status", "--json").json()["documents"]["pending"] == 1
        store.unlock(ANCHOR_LOCK, "other-host:4242:1")
    finally:
        store.close()

    done = cli.ok("anchor", "--json").json()
    assert [b["status"] for b in done["batches"]] == ["confirmed"]
    # The lease was released when the command ended: a serve can take it at once.
    store = Store(database_url)
    try:
        assert store.try_lock(ANCHOR_LOCK, "serve:1:1", now=utcnow(), ttl_seconds=5)
    finally:
        store.close()


def test_two_anchors_at_once_send_one_transaction(
    cli: Cli, tmp_path: Path, anvil: AnvilNode
) -> None:
    """Two `docanchor anchor` processes started together: one anchors, the other finds
    the lease held (exit 3) or nothing left to do (exit 0); one transaction is mined."""
    import subprocess

    from clihelp import DOCANCHOR

    for round_ in range(2):
        folder = tmp_path / f"in{round_}"
        for i in range(5):
            doc(folder, f"orden-{i}.txt", f"orden {round_}-{i}")
        cli.ok("submit", str(folder), "--entity", ENTITY)
        head = anvil.rpc("eth_blockNumber")
        procs = [
            subprocess.Popen(
                [DOCANCHOR, "anchor", "--json"],
                env=cli.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in results)
        assert codes in ([0, 0], [0, 3]), results
        for code, _out, err in results:
            assert "Traceback" not in err
            if code == 3:
                assert "anchoring lease is held by another process" in err, err
        assert int(str(anvil.rpc("eth_blockNumber")), 16) - int(str(head), 16) == 1, results
        counts = cli.ok("status", "--json").json()["documents"]
        assert counts["confirmed"] == 5 * (round_ + 1) and counts["pending"] == 0, counts


def test_receipt_json_names_the_files_written(cli: Cli, tmp_path: Path) -> None:
    one = doc(tmp_path / "in", "orden.txt", "orden 5")
    cli.ok("submit", str(one))
    out = tmp_path / "receipts"
    lines = cli.run("receipt", str(one), "ab" * 32, "-o", str(out), "--json")
    assert lines.code == 1, lines.stderr  # one of the two is not registered
    written, missing = [json.loads(line) for line in lines.stdout.splitlines()]
    assert Path(written["files"][0]).parent == out
    assert (
        json.loads(Path(written["files"][0]).read_text())["document"]["sha256"]
        == (written["sha256"])
    )
    assert missing == {"target": "ab" * 32, "sha256": "ab" * 32, "files": []}

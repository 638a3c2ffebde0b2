"""Stamped PDFs through the real CLI, on a real Anvil, on every database.

register -> anchor -> ``docanchor stamp`` -> a stranger with no database runs
``docanchor verify stamped.pdf`` against a node; a changed copy fails at
step 1; what is pending, unregistered, encrypted or not a PDF is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from docanchor.pdf.stamped import read_stamp
from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli
from tests.support.pdfsamples import (
    DATA,
    REAL_WORLD,
    classic_pdf,
    decode_qr,
    pdfinfo_pages,
    qpdf,
    qpdf_check,
)

ENTITY = "20131370998"
PUBLIC_URL = "https://verifica.example.gob.pe"


@pytest.fixture
def cli(tmp_path: Path, database_url: str, anvil: AnvilNode) -> Cli:
    c = Cli(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rpc_url=anvil.rpc_url,
        extra_env={"DOCANCHOR_PUBLIC_URL": PUBLIC_URL + "/"},
    )
    c.ok("deploy")
    return c


def _stranger(cli: Cli, tmp_path: Path) -> Cli:
    """Someone with only the stamped file, a node, and what the service publishes
    (its deployment and receipt signing key): no data dir, no database."""
    deployment = json.loads((cli.data_dir / "deployment.json").read_text(encoding="utf-8"))
    return Cli(
        data_dir=tmp_path / "stranger",
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        rpc_url=cli.rpc_url,
        extra_env={
            "DOCANCHOR_TRUSTED_CONTRACTS": f"{deployment['chain_id']}:{deployment['address']}"
        },
    )


def test_stamp_then_verify_with_only_the_stamped_file(cli: Cli, tmp_path: Path) -> None:
    order = tmp_path / "orden.pdf"
    order.write_bytes(classic_pdf(lang="es-PE"))
    manual = tmp_path / "manual.pdf"
    manual.write_bytes((DATA / REAL_WORLD[0]).read_bytes())
    cli.ok(
        "submit",
        str(order),
        str(manual),
        "--reference",
        "OC-2025-000777",
        "--as-versions",
        "--entity",
        ENTITY,
    )
    cli.ok("anchor")

    done = cli.ok("stamp", str(order))
    stamped_path = tmp_path / "orden.stamped.pdf"
    assert str(stamped_path) in done.stdout and "stamped" in done.stdout
    stamped = stamped_path.read_bytes()
    original = order.read_bytes()
    digest = hashlib.sha256(original).hexdigest()
    assert stamped.startswith(original) and len(stamped) > len(original)
    assert qpdf_check(stamped).returncode == 0
    assert pdfinfo_pages(stamped) == pdfinfo_pages(original) + 1
    found = read_stamp(stamped)
    assert found is not None and found.original_sha256.hex() == digest
    assert f'"sha256": "{digest}"' in found.receipt.decode()
    assert '"signature"' in found.receipt.decode()  # the signed receipt, as the service emits it
    assert decode_qr(stamped, pdfinfo_pages(stamped), tmp_path) == [
        f"{PUBLIC_URL}/?sha256={digest}"
    ]

    out = tmp_path / "out" / "manual-sellado.pdf"
    out.parent.mkdir()
    written = cli.ok("stamp", str(manual), "-o", str(out), "--json").json()
    assert out.read_bytes().startswith(manual.read_bytes())
    assert written == {
        "file": str(out),
        "original": str(manual),
        "sha256": hashlib.sha256(manual.read_bytes()).hexdigest(),
        "original_length": manual.stat().st_size,
        "appended_length": out.stat().st_size - manual.stat().st_size,
    }

    stranger = _stranger(cli, tmp_path)
    for path in (stamped_path, out):
        result = stranger.run("verify", str(path), "--json")
        assert result.code == 0, result.stdout + result.stderr
        report = result.json()
        assert report["valid"] is True and report["status"] == "confirmed"
        assert report["stamped"]["original_length"] < path.stat().st_size
        assert [c["ok"] for c in report["checks"]] == [True] * len(report["checks"])
    text = stranger.run("verify", str(stamped_path), subprocess=True)
    assert text.code == 0, text.stdout + text.stderr
    assert "stamped PDF" in text.stdout and digest in text.stdout and "VALID" in text.stdout
    assert not (tmp_path / "stranger").exists() or not list((tmp_path / "stranger").iterdir())

    # A copy whose original part was changed fails at step 1.
    changed = tmp_path / "cambiado.pdf"
    data = bytearray(stamped)
    at = data.index(b"OC-2025-000001")
    data[at + 13] = ord("7")
    changed.write_bytes(bytes(data))
    result = stranger.run("verify", str(changed), "--json")
    assert result.code == 1, result.stdout + result.stderr
    step1 = next(c for c in result.json()["checks"] if c["step"] == 1)
    assert step1["ok"] is False
    # One that changed length is refused with the reason.
    longer = tmp_path / "alargado.pdf"
    longer.write_bytes(stamped.replace(b"OC-2025-000001", b"OC-2025-0000001", 1))
    refused = stranger.run("verify", str(longer))
    assert refused.code == 1 and "changed after it was stamped" in refused.stderr


def test_stamp_refuses_what_it_cannot_stamp(cli: Cli, tmp_path: Path) -> None:
    pending = tmp_path / "pendiente.pdf"
    pending.write_bytes(classic_pdf(title="Pendiente"))
    cli.ok("submit", str(pending))
    result = cli.run("stamp", str(pending))
    assert result.code == 1 and "not anchored yet" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "pendiente.stamped.pdf").exists()

    unknown = tmp_path / "desconocido.pdf"
    unknown.write_bytes(classic_pdf(title="Desconocido"))
    result = cli.run("stamp", str(unknown))
    assert result.code == 1 and "no registration" in result.stderr, result.stderr

    encrypted = tmp_path / "cifrado.pdf"
    encrypted.write_bytes(qpdf(classic_pdf(), "--encrypt", "u", "o", "256", "--"))
    cli.ok("submit", str(encrypted))
    cli.ok("anchor")
    result = cli.run("stamp", str(encrypted))
    assert result.code == 2 and "encrypted" in result.stderr, result.stderr

    for name, content, needle in (
        ("texto.pdf", b"just text", "not a PDF"),
        ("cortado.pdf", classic_pdf(title="Cortado")[:300], "truncated"),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        result = cli.run("stamp", str(path))
        assert result.code == 2 and needle in result.stderr, result.stderr

    result = cli.run("stamp", str(pending), "-o", str(pending))
    assert result.code == 2 and "must not replace the original" in result.stderr
    result = cli.run("stamp", str(tmp_path / "missing.pdf"))
    assert result.code == 2 and "cannot read" in result.stderr

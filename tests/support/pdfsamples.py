"""PDFs for the stamping tests: made here (each kind of cross-reference), or real ones.

``classic_pdf`` writes a small PDF by hand with a classic cross-reference
table; qpdf (Debian package ``qpdf``) turns it into the other kinds. The QR
code is read back by rendering a page with pdftoppm (poppler-utils) and
decoding it with zbarimg (zbar-tools), as a phone's camera would.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from docanchor import hashing
from docanchor.receipt import AnchorPart, BatchPart, DocumentPart, ProofPart, Receipt

DATA = Path(__file__).resolve().parents[1] / "data" / "pdf"
REAL_WORLD = ("libtasn1.pdf", "shared-mime-info-spec.pdf")


def classic_pdf(
    pages: int = 2, *, lang: str | None = None, title: str = "Orden de compra", padding: int = 0
) -> bytes:
    """A PDF 1.4 file with a classic xref table, one line of text per page.

    ``padding`` bytes of pseudo-random data go in a stream no page uses (a large file).
    """
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    lang_entry = f" /Lang ({lang})" if lang else ""
    objects.append(f"<< /Type /Catalog /Pages 2 0 R{lang_entry} >>".encode())
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        text = f"BT /F1 18 Tf 72 720 Td ({title} OC-2025-{i:06d}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
    if padding:
        filler = bytearray()
        block = hashlib.sha256(title.encode()).digest()
        while len(filler) < padding:
            block = hashlib.sha256(block).digest()
            filler += block * 1024
        del filler[padding:]
        objects.append(b"<< /Length %d >>\nstream\n" % padding + bytes(filler) + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        b"ab" * 16,
        b"ab" * 16,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def qpdf(data: bytes, *args: str) -> bytes:
    """``qpdf ARGS in.pdf out.pdf`` on ``data``; the output's bytes."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.pdf", Path(folder) / "out.pdf"
        source.write_bytes(data)
        subprocess.run(["qpdf", *args, str(source), str(target)], check=True, capture_output=True)
        return target.read_bytes()


def qpdf_check(data: bytes) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "check.pdf"
        path.write_bytes(data)
        return subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)


def pdfinfo_pages(data: bytes) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "info.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError(f"pdfinfo printed no page count: {out.stdout!r}")


def render_page(data: bytes, page: int, target: Path, dpi: int = 150) -> Path:
    """The page rendered by pdftoppm as a PNG at ``target`` (its path)."""
    source = target.with_suffix(".pdf")
    source.write_bytes(data)
    stem = target.with_suffix("")
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-png",
            "-singlefile",
            "-f",
            str(page),
            "-l",
            str(page),
            str(source),
            str(stem),
        ],
        check=True,
        capture_output=True,
    )
    return stem.with_suffix(".png")


def decode_qr(data: bytes, page: int, folder: Path) -> list[str]:
    """Every QR code zbarimg reads on the page rendered at 150 dpi."""
    png = render_page(data, page, folder / f"page{page}.png")
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
        capture_output=True,
        text=True,
    )
    return [line for line in out.stdout.splitlines() if line]


def receipt_for(document: bytes, metadata: dict[str, Any] | None = None) -> bytes:
    """An anchored receipt (a batch of one) for ``document``, as the service writes it.

    The anchor's values are made up (they only need to be well formed): the
    stamping code neither reads a chain nor checks one.
    """
    meta = (
        metadata
        if metadata is not None
        else {
            "reference": "OC-2025-000123",
            "type": "purchase_order",
            "entity_ruc": "20131370998",
        }
    )
    digest = hashlib.sha256(document).digest()
    salt = hashlib.sha256(b"salt" + digest).digest()
    meta_digest = hashing.metadata_digest(meta)
    root = hashing.document_leaf_hash(salt, digest, meta_digest)
    receipt = Receipt(
        status="confirmed",  # type: ignore[arg-type]
        document=DocumentPart(digest, salt, meta_digest, meta),
        proof=ProofPart(0, 1, ()),
        batch=BatchPart(7, root),
        anchor=AnchorPart(
            chain_id=31337,
            contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
            seq=6,
            tx_hash="0x" + "ab" * 32,
            block_number=42,
            block_hash="0x" + "cd" * 32,
            timestamp=1_795_746_450,
        ),
    )
    return (json.dumps(receipt.to_json(), indent=2, ensure_ascii=False) + "\n").encode()

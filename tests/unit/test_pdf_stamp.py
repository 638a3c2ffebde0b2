"""Stamped PDFs ("docanchor stamp, version 1"): the update, the embedded receipt, the QR code.

Every kind of original the issue names is stamped, then checked with three
independent readers: pypdf, ``qpdf --check`` and poppler (pdfinfo, and
pdftoppm to render the added page, whose QR code zbarimg decodes).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from docanchor.errors import (
    EXIT_CHECK_FAILED,
    EXIT_USAGE,
    InputError,
    NotAnchoredError,
    PdfError,
    VerificationError,
)
from docanchor.pdf.stamp import open_pdf, page_language, stamp_pdf, verify_url_for
from docanchor.pdf.stamped import STAMP_MARKER, find_stamp, read_stamp, read_stamp_stream
from docanchor.receipt import check_document, parse_receipt_json
from tests.support.pdfsamples import (
    DATA,
    REAL_WORLD,
    classic_pdf,
    decode_qr,
    pdfinfo_pages,
    qpdf,
    qpdf_check,
    receipt_for,
)

PUBLIC_URL = "https://verifica.example.gob.pe"


def _incremental(data: bytes) -> bytes:
    """``data`` with one incremental update by pypdf (a new /Title)."""
    writer = PdfWriter(io.BytesIO(data), incremental=True)
    writer.add_metadata({"/Title": "Orden de compra OC-2025-000123"})
    out = io.BytesIO()
    writer.write(out)
    assert out.getvalue().startswith(data)
    return out.getvalue()


def _stamp(data: bytes) -> bytes:
    return stamp_pdf(
        data,
        receipt_for(data),
        verify_url=verify_url_for(PUBLIC_URL, hashlib.sha256(data).digest()),
    )


VARIANTS: dict[str, Callable[[], bytes]] = {
    "classic xref table": classic_pdf,
    "xref stream and object streams": lambda: qpdf(classic_pdf(), "--object-streams=generate"),
    "linearized": lambda: qpdf(classic_pdf(3), "--linearize"),
    "linearized with object streams": lambda: qpdf(
        classic_pdf(), "--linearize", "--object-streams=generate"
    ),
    "updated incrementally before": lambda: _incremental(classic_pdf()),
    "stamped once already": lambda: _stamp(classic_pdf()),
    **{name: (lambda name=name: (DATA / name).read_bytes()) for name in REAL_WORLD},  # type: ignore[misc]
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_stamped_pdf_keeps_the_original_opens_everywhere_and_carries_its_receipt(
    variant: str, tmp_path: Path
) -> None:
    original = VARIANTS[variant]()
    receipt = receipt_for(original)
    digest = hashlib.sha256(original).digest()
    url = verify_url_for(PUBLIC_URL, digest)
    stamped = stamp_pdf(original, receipt, verify_url=url)

    # the original is a byte prefix: its SHA-256 is the registered one
    assert stamped[: len(original)] == original
    assert stamped[len(original) :].startswith(STAMP_MARKER)

    # three readers open it, with one page more
    pages = pdfinfo_pages(original)
    check = qpdf_check(stamped)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout
    assert pdfinfo_pages(stamped) == pages + 1
    reader = PdfReader(io.BytesIO(stamped), strict=True)
    assert len(reader.pages) == pages + 1

    # the original pages are untouched; the new page is the last
    before = PdfReader(io.BytesIO(original))
    for i in range(pages):
        assert reader.pages[i].extract_text() == before.pages[i].extract_text()
    assert "docanchor" in reader.pages[-1].extract_text()

    # the receipt, embedded as docanchor-receipt.json, is the service's bytes
    embedded = reader.attachments["docanchor-receipt.json"]
    assert receipt in embedded  # with the receipt of an earlier stamp, if any
    assert parse_receipt_json(receipt).document.sha256 == digest
    spec = reader.trailer["/Root"]["/AF"][-1].get_object()
    assert spec["/AFRelationship"] == "/Supplement"
    assert spec["/DocAnchorOriginalLength"] == len(original)
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/json"
    assert "/Filter" not in spec["/EF"]["/F"].get_object()

    # a byte scanner cuts the original back out
    found = read_stamp(stamped)
    assert found is not None
    assert found.original_length == len(original)
    assert found.original_sha256 == digest == found.recorded_sha256
    assert found.receipt == receipt

    # the QR code on the rendered page opens the verification page on this document
    assert decode_qr(stamped, pages + 1, tmp_path) == [url]


def test_stamping_keeps_what_the_original_had_attached() -> None:
    writer = PdfWriter(io.BytesIO(classic_pdf()))
    writer.add_attachment("anexo.txt", b"anexo de la orden")
    buffer = io.BytesIO()
    writer.write(buffer)
    stamped = _stamp(buffer.getvalue())
    attachments = PdfReader(io.BytesIO(stamped)).attachments
    assert attachments["anexo.txt"] == [b"anexo de la orden"]
    assert "docanchor-receipt.json" in attachments


def test_the_page_speaks_the_documents_language() -> None:
    spanish = PdfReader(io.BytesIO(_stamp(classic_pdf(lang="es-PE")))).pages[-1].extract_text()
    undetermined = PdfReader(io.BytesIO(_stamp(classic_pdf()))).pages[-1].extract_text()
    english = PdfReader(io.BytesIO(_stamp(classic_pdf(lang="en-US")))).pages[-1].extract_text()
    assert "Documento registrado" in spanish and "Cómo comprobarlo" in spanish
    assert "Documento registrado" in undetermined
    assert "Document registered" in english and "How to check it" in english
    for text in (spanish, english):
        assert "OC-2025-000123" in text and "20131370998" in text
        assert "2026-11-27 02:27:30 UTC" in text  # the anchor timestamp 1795746450, in UTC


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("", "es"), ("es", "es"), ("ES-pe", "es"), ("en-US", "en"), ("qu", "en"), ("  ", "es")],
)
def test_page_language(lang: str, expected: str) -> None:
    assert page_language(lang) == expected


def _encrypted() -> bytes:
    return qpdf(classic_pdf(), "--encrypt", "user", "owner", "256", "--")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_encrypted, "encrypted"),
        (lambda: classic_pdf()[:-200], "truncated"),
        (lambda: classic_pdf()[: len(classic_pdf()) // 2], "truncated"),
        (lambda: b"PK\x03\x04 not a pdf at all", "not a PDF"),
        (lambda: b"", "not a PDF"),
        (lambda: classic_pdf().replace(b"startxref\n", b"startxref\n9"), "damaged"),
        (lambda: classic_pdf().replace(b"/Root 1 0 R", b"/Root 9 0 R"), "damaged"),
    ],
)
def test_encrypted_and_broken_pdfs_are_refused(make: Callable[[], bytes], message: str) -> None:
    data = make()
    with pytest.raises(PdfError, match=message) as caught:
        stamp_pdf(data, receipt_for(data), verify_url="http://127.0.0.1:8000/?sha256=00")
    assert caught.value.exit_code == EXIT_USAGE
    assert caught.value.http_status == 422


def test_a_receipt_for_another_document_or_not_anchored_is_refused() -> None:
    data = classic_pdf()
    with pytest.raises(InputError, match="not for this file"):
        stamp_pdf(data, receipt_for(b"other"), verify_url="http://x/")
    pending = json.loads(receipt_for(data))
    pending = {
        "version": pending["version"],
        "status": "pending",
        "document": pending["document"],
        "proof": None,
        "batch": None,
        "anchor": None,
    }
    with pytest.raises(NotAnchoredError, match="not anchored yet") as caught:
        stamp_pdf(data, json.dumps(pending).encode(), verify_url="http://x/")
    assert caught.value.exit_code == EXIT_CHECK_FAILED
    assert caught.value.http_status == 409


def test_a_changed_original_part_fails_step_1() -> None:
    original = classic_pdf()
    stamped = bytearray(_stamp(original))
    at = stamped.index(b"OC-2025-000001")
    stamped[at + 13] = ord("9")  # same length: the stamp is still found
    found = read_stamp(bytes(stamped))
    assert found is not None
    assert found.original_sha256 != hashlib.sha256(original).digest()
    result = check_document(parse_receipt_json(found.receipt), found.original_sha256)
    assert result.step == 1 and not result.ok


def test_a_changed_length_is_refused_as_a_changed_file() -> None:
    stamped = _stamp(classic_pdf())
    longer = stamped.replace(b"OC-2025-000001", b"OC-2025-0000001", 1)
    with pytest.raises(VerificationError, match="changed after it was stamped"):
        read_stamp(longer)
    with pytest.raises(VerificationError, match="changed after it was stamped"):
        read_stamp_stream(io.BytesIO(longer))


def test_the_stream_reader_matches_the_whole_file_reader() -> None:
    stamped = _stamp((DATA / REAL_WORLD[0]).read_bytes())
    assert read_stamp_stream(io.BytesIO(stamped)) == read_stamp(stamped)
    assert read_stamp_stream(io.BytesIO(classic_pdf())) is None
    assert read_stamp_stream(io.BytesIO(b"plain text")) is None


def test_a_window_on_the_tail_finds_the_stamp() -> None:
    stamped = _stamp((DATA / REAL_WORLD[1]).read_bytes())
    start = len(stamped) - 30_000
    location = find_stamp(stamped[start:], window_start=start, total_length=len(stamped))
    assert location is not None
    assert location == find_stamp(stamped)


def test_a_record_inside_the_receipt_is_not_a_stamp() -> None:
    original = classic_pdf()
    fake = (
        b"/DocAnchorOriginalLength 10 /DocAnchorOriginalSHA256 (" + b"0" * 64 + b")"
        b" /DocAnchorReceiptOffset 20 /DocAnchorReceiptLength 5"
    )
    receipt = receipt_for(original, {"reference": fake.decode()})
    stamped = stamp_pdf(original, receipt, verify_url="http://x/")
    found = read_stamp(stamped)
    assert found is not None and found.original_length == len(original)
    with pytest.raises(VerificationError):  # a record whose marker is not where it says
        read_stamp(original + fake)


def test_the_lenient_reading_writes_the_same_stamp() -> None:
    """The fallback for files a strict reading refuses gives the same update."""
    for original in (classic_pdf(), (DATA / REAL_WORLD[0]).read_bytes()):
        receipt, url = receipt_for(original), "http://x/"
        lenient = open_pdf(original, strict=False)
        assert not lenient.strict and open_pdf(original).strict
        assert stamp_pdf(original, receipt, verify_url=url, opened=lenient) == stamp_pdf(
            original, receipt, verify_url=url
        )


def test_a_broken_prev_pointer_in_the_original_still_stamps() -> None:
    """pypdf repairs what an earlier update's /Prev gets wrong; the stamp points at the
    original's own last section, which is right."""
    original = _incremental(classic_pdf())
    tail = original[len(classic_pdf()) :]
    prev = re.search(rb"/Prev (\d+)", tail)
    assert prev is not None
    broken = original[: len(classic_pdf())] + tail.replace(
        prev.group(0), b"/Prev %d" % (int(prev.group(1)) + 5)
    )
    stamped = _stamp(broken)
    assert stamped.startswith(broken)
    assert len(PdfReader(io.BytesIO(stamped)).pages) == 3
    found = read_stamp(stamped)
    assert found is not None and found.original_length == len(broken)

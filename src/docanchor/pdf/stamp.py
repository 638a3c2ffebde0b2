"""Write a stamped PDF: the original's bytes, unchanged, and one incremental update.

The update (normative description in docs/stamping.md, "docanchor stamp,
version 1") adds the receipt as an embedded file associated with the document
(``/AF``, ``/Names /EmbeddedFiles``), records the original's length where a
byte scanner finds it (see :mod:`docanchor.pdf.stamped`), and appends one page
that shows what was registered, when it was anchored and how to check it,
with a QR code of the verification URL. Nothing of the original is covered.

pypdf only reads the original's structure (trailer, catalog, page tree); the
update itself is written here, new objects, a new xref section of the same
kind as the original's last one (table or stream), a trailer with ``/Prev``,
so that every original byte stays where it was.

Pure: bytes in, bytes out; no I/O, no environment, no node, no database.
"""

from __future__ import annotations

import hashlib
import io
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import segno
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    IndirectObject,
    NullObject,
    PdfObject,
    TextStringObject,
)

from docanchor.errors import InputError, NotAnchoredError, PdfError
from docanchor.pdf.stamped import STAMP_MARKER
from docanchor.receipt import Receipt, ReceiptStatus, parse_receipt_json

RECEIPT_FILE_NAME: Final = "docanchor-receipt.json"
A4: Final = (595.28, 841.89)
MARGIN: Final = 56.0
QR_MODULE: Final = 3.2  # points per QR module: 5.3 pixels at 150 dpi
_HEADER_WINDOW: Final = 1024
_TAIL_WINDOW: Final = 2048
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF")
_OBJ_HEADER = re.compile(rb"\s*\d+\s+\d+\s+obj\b")


@dataclass(frozen=True)
class OpenedPdf:
    """What the update needs to know about the original."""

    reader: PdfReader
    strict: bool
    sha256: bytes
    startxref: int
    xref_is_stream: bool
    size: int
    catalog_ref: IndirectObject
    pages_ref: IndirectObject
    page_size: tuple[float, float]
    language: str


# --- reading the original ------------------------------------------------------------------


class _Source(io.BytesIO):
    """The original as a stream pypdf reads without copying it.

    pypdf asks a stream with ``getbuffer`` for its size that way, which makes
    ``BytesIO`` copy the bytes it shares with the caller (50 ms per 10 MB);
    without it, pypdf seeks to the end instead.
    """

    @property
    def getbuffer(self) -> Any:
        raise AttributeError("getbuffer")


def open_pdf(original: bytes, *, strict: bool = True) -> OpenedPdf:
    """The original's structure, or :class:`PdfError` when it cannot be stamped.

    ``strict`` reads the cross-reference as written (fast); the lenient reading
    also checks every object's offset and repairs what it can (slower: one
    seek per object), for files a strict reading refuses.
    """
    if b"%PDF-" not in original[:_HEADER_WINDOW]:
        raise PdfError("the file is not a PDF (no %PDF- header at its start)")
    matches = list(_STARTXREF.finditer(original[-_TAIL_WINDOW:]))
    if not matches:
        raise PdfError("the PDF is damaged or truncated: it does not end with startxref and %%EOF")
    startxref = int(matches[-1].group(1))
    if startxref >= len(original):
        raise PdfError("the PDF is damaged: its startxref points past the end of the file")
    at = original[startxref : startxref + 64]
    if at.lstrip().startswith(b"xref"):
        xref_is_stream = False
    elif _OBJ_HEADER.match(at):
        xref_is_stream = True
    else:
        raise PdfError("the PDF is damaged: its startxref does not point to a cross-reference")
    try:
        reader = PdfReader(_Source(original), strict=strict)
        if reader.is_encrypted:
            raise PdfError("the PDF is encrypted; only unencrypted PDFs can be stamped")
        trailer = reader.trailer
        catalog_ref = trailer.raw_get("/Root")
        if not isinstance(catalog_ref, IndirectObject):
            raise PdfError("the PDF is damaged: its trailer has no indirect /Root")
        catalog = catalog_ref.get_object()
        if not isinstance(catalog, DictionaryObject):
            raise PdfError("the PDF is damaged: its catalog is not a dictionary")
        pages_ref = catalog.raw_get("/Pages")
        if not isinstance(pages_ref, IndirectObject):
            raise PdfError("the PDF is damaged: its catalog has no indirect /Pages")
        pages = pages_ref.get_object()
        if not isinstance(pages, DictionaryObject) or "/Kids" not in pages:
            raise PdfError("the PDF is damaged: its page tree has no /Kids")
        size = int(trailer.get("/Size", 0))
        for numbers in reader.xref.values():
            size = max(size, *(n + 1 for n in numbers), 0)
        size = max(size, *(n + 1 for n in reader.xref_objStm), 0)
        page_size = _first_page_size(pages)
        lang = catalog.get("/Lang")
        language = str(lang) if isinstance(lang, str) else ""
    except PdfError:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        if strict:
            return open_pdf(original, strict=False)
        raise PdfError(f"the PDF is damaged: {exc}") from None
    return OpenedPdf(
        strict=strict,
        sha256=hashlib.sha256(original).digest(),
        reader=reader,
        startxref=startxref,
        xref_is_stream=xref_is_stream,
        size=size,
        catalog_ref=catalog_ref,
        pages_ref=pages_ref,
        page_size=page_size,
        language=language,
    )


def _first_page_size(pages: DictionaryObject) -> tuple[float, float]:
    """Width and height of the first page (A4 when it cannot be told), for the added page."""
    node: Any = pages
    box: Any = pages.get("/MediaBox")
    for _ in range(64):
        kids = node.get("/Kids") if isinstance(node, DictionaryObject) else None
        if not kids:
            break
        node = kids[0].get_object()
        if isinstance(node, DictionaryObject) and "/MediaBox" in node:
            box = node["/MediaBox"]
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
        width, height = abs(x1 - x0), abs(y1 - y0)
    except (TypeError, ValueError):
        return A4
    if 300 <= width <= 2000 and 400 <= height <= 3000:
        return (width, height)
    return A4


# --- PDF syntax ----------------------------------------------------------------------------


def _ser(obj: PdfObject) -> bytes:
    out = io.BytesIO()
    obj.write_to_stream(out)
    return out.getvalue()


def pdf_string(text: str) -> bytes:
    """A literal string of WinAnsi (cp1252) bytes, for text shown with the standard fonts."""
    raw = text.encode("cp1252", errors="replace")
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped.replace(b"\r", b"\\r").replace(b"\n", b"\\n") + b")"


def _string_key(value: Any) -> bytes:
    """The bytes a name-tree key is sorted by."""
    if isinstance(value, TextStringObject):
        return bytes(value.original_bytes)
    if isinstance(value, ByteStringObject):
        return bytes(value)
    return str(value).encode("utf-8")


def _items(value: Any, what: str) -> list[Any]:
    """An array's elements as written (indirect references unresolved)."""
    array = value.get_object() if value is not None else None
    if not isinstance(array, ArrayObject):
        raise PdfError(f"the PDF is damaged: {what} is not an array")
    return list(list.__iter__(array))


def _name_tree_pairs(root: Any, limit: int = 100_000) -> list[tuple[bytes, bytes, bytes]]:
    """Every (sort key, serialized key, serialized value) of a name tree, leaves in order."""
    pairs: list[tuple[bytes, bytes, bytes]] = []
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack and len(pairs) < limit:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            if node.idnum in seen:
                continue
            seen.add(node.idnum)
        resolved = node.get_object() if node is not None else None
        if not isinstance(resolved, DictionaryObject):
            continue
        names = resolved.get("/Names")
        if names is not None:
            raw = _items(names, "a name tree's /Names")
            for i in range(0, len(raw) - 1, 2):
                key = raw[i].get_object()
                pairs.append((_string_key(key), _ser(key), _ser(raw[i + 1])))
        kids = resolved.get("/Kids")
        if kids is not None:
            stack.extend(reversed(_items(kids, "a name tree's /Kids")))
    return pairs


# --- the page ------------------------------------------------------------------------------

_TEXTS: Final = {
    "es": {
        "title": "Documento registrado y anclado en blockchain",
        "intro": (
            "Las páginas anteriores son el documento original, sin ningún cambio. Este archivo es "
            "el original seguido de una actualización incremental que añade esta página y, como "
            "archivo adjunto, el recibo docanchor-receipt.json que permite comprobarlo."
        ),
        "digest": "SHA-256 del documento original:",
        "reference": "Referencia",
        "type": "Tipo",
        "entity_ruc": "Entidad (RUC)",
        "anchored": (
            "Anclado el {when} en la cadena {chain}, bloque {block}, lote {batch} "
            "(posición {leaf} de {size})."
        ),
        "contract": "Contrato:",
        "tx": "Transacción:",
        "how": "Cómo comprobarlo",
        "step1": (
            "1. Escanee el código QR (o abra la dirección que figura debajo) y elija su copia del "
            "archivo: la página la comprueba byte por byte."
        ),
        "step2": (
            "2. Con su propio nodo Ethereum, sin depender de este servicio: "
            "docanchor verify ARCHIVO.pdf --rpc-url URL_DE_SU_NODO, o la página de verificación "
            "con ?rpc=URL_DE_SU_NODO."
        ),
        "step3": (
            "Si se modifica cualquier byte del documento original, la comprobación falla en el "
            "paso 1."
        ),
        "scan": "Verificar:",
    },
    "en": {
        "title": "Document registered and anchored on a blockchain",
        "intro": (
            "The pages before this one are the original document, unchanged. This file is the "
            "original followed by an incremental update that adds this page and, as an attached "
            "file, the receipt docanchor-receipt.json that proves it."
        ),
        "digest": "SHA-256 of the original document:",
        "reference": "Reference",
        "type": "Type",
        "entity_ruc": "Entity (RUC)",
        "anchored": (
            "Anchored on {when} on chain {chain}, block {block}, batch {batch} "
            "(leaf {leaf} of {size})."
        ),
        "contract": "Contract:",
        "tx": "Transaction:",
        "how": "How to check it",
        "step1": (
            "1. Scan the QR code (or open the address below it) and choose your copy of the file: "
            "the page checks it byte for byte."
        ),
        "step2": (
            "2. With your own Ethereum node, without relying on this service: "
            "docanchor verify FILE.pdf --rpc-url YOUR_NODE_URL, or the verification page with "
            "?rpc=YOUR_NODE_URL."
        ),
        "step3": "If any byte of the original document is changed, the check fails at step 1.",
        "scan": "Verify:",
    },
}


def page_language(lang: str) -> str:
    """``en`` when the document declares a language other than Spanish, else ``es``.

    A document with no ``/Lang`` is taken to be Spanish: the service registers
    Peruvian procurement documents.
    """
    tag = lang.strip().lower()
    return "en" if tag and not tag.startswith("es") else "es"


class _Page:
    """A content stream under construction, top to bottom."""

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.y = height - MARGIN - 6
        self.ops: list[bytes] = []
        self.chars_per_line = int((width - 2 * MARGIN) / 5.0)

    def text(self, line: str, *, font: str = "F1", size: float = 10, lead: float = 14) -> None:
        self.ops.append(
            b"BT /%s %.1f Tf %.2f %.2f Td %s Tj ET"
            % (font.encode(), size, MARGIN, self.y, pdf_string(line))
        )
        self.y -= lead

    def paragraph(self, text: str, *, size: float = 10) -> None:
        for line in textwrap.wrap(
            text, width=int(self.chars_per_line * 10 / size), break_on_hyphens=False
        ):
            self.text(line, size=size)
        self.y -= 4

    def qr(self, url: str) -> None:
        matrix = segno.make_qr(url, error="m").matrix
        m = QR_MODULE
        size = len(matrix) * m
        top = self.y
        rects: list[bytes] = []
        for r, row in enumerate(matrix):
            c = 0
            while c < len(row):
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    rects.append(
                        b"%.2f %.2f %.2f %.2f re"
                        % (
                            MARGIN + 4 * m + start * m,
                            top - 4 * m - (r + 1) * m,
                            (c - start) * m,
                            m,
                        )
                    )
                else:
                    c += 1
        # The quiet zone (4 modules) is the page's white; the modules are black squares.
        self.ops.append(b"q 0 g " + b" ".join(rects) + b" f Q")
        self.y = top - size - 8 * m - 4

    def content(self) -> bytes:
        return b"\n".join(self.ops) + b"\n"


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _page_content(receipt: Receipt, url: str, language: str, size: tuple[float, float]) -> bytes:
    t = _TEXTS[language]
    page = _Page(*size)
    page.text(t["title"], font="F2", size=15, lead=24)
    page.paragraph(t["intro"])
    page.text(t["digest"])
    page.text(receipt.document.sha256.hex(), font="F3", size=9, lead=18)
    metadata = receipt.document.metadata or {}
    for key in ("reference", "type", "entity_ruc"):
        value = metadata.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            page.text(f"{t[key]}: {str(value)[:90]}")
    anchor, batch, proof = receipt.anchor, receipt.batch, receipt.proof
    assert anchor is not None and batch is not None and proof is not None
    page.y -= 4
    page.paragraph(
        t["anchored"].format(
            when=_when(anchor.timestamp),
            chain=anchor.chain_id,
            block=anchor.block_number,
            batch=batch.id,
            leaf=proof.leaf_index,
            size=proof.tree_size,
        )
    )
    page.text(f"{t['contract']} {anchor.contract}", font="F3", size=8, lead=12)
    page.text(f"{t['tx']} {anchor.tx_hash}", font="F3", size=8, lead=18)
    page.text(t["how"], font="F2", size=11, lead=16)
    page.paragraph(t["step1"])
    page.paragraph(t["step2"])
    page.paragraph(t["step3"])
    page.qr(url)
    page.text(f"{t['scan']} {url}", font="F3", size=7, lead=10)
    return page.content()


# --- the update ----------------------------------------------------------------------------


class _Update:
    """The bytes appended to the original, with the offset of each object written."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.out = bytearray(STAMP_MARKER)
        self.offsets: dict[int, tuple[int, int]] = {}

    @property
    def position(self) -> int:
        return self.base + len(self.out)

    def obj(self, number: int, body: bytes, generation: int = 0) -> None:
        self.offsets[number] = (self.position, generation)
        self.out += b"%d %d obj\n" % (number, generation) + body + b"\nendobj\n"

    def stream(self, number: int, head: bytes, data: bytes) -> int:
        """Write a stream object with no filter; returns the absolute offset of its data."""
        self.offsets[number] = (self.position, 0)
        self.out += b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (number, head, len(data))
        start = self.position
        self.out += data + b"\nendstream\nendobj\n"
        return start


def _groups(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of consecutive object numbers, as (first, count)."""
    runs: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if runs and runs[-1][0] + runs[-1][1] == n:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((n, 1))
    return runs


def _trailer_entries(original: OpenedPdf, size: int, new_id: bytes) -> bytes:
    trailer = original.reader.trailer
    parts = [
        b"/Size %d" % size,
        b"/Root %d %d R" % (original.catalog_ref.idnum, original.catalog_ref.generation),
    ]
    info = trailer.raw_get("/Info") if "/Info" in trailer else None
    if info is not None and not isinstance(info, NullObject):
        parts.append(b"/Info " + _ser(info))
    ids = trailer.get("/ID")
    if isinstance(ids, ArrayObject) and len(ids) == 2:
        parts.append(b"/ID [" + _ser(ids[0]) + b" <" + new_id.hex().encode() + b">]")
    parts.append(b"/Prev %d" % original.startxref)
    return b" ".join(parts)


def _finish_table(update: _Update, original: OpenedPdf, size: int, new_id: bytes) -> None:
    start = update.position
    # The head of the free list (object 0) first, as readers expect a section to start
    # at object 0; then the objects this update writes.
    update.out += b"xref\n0 1\n0000000000 65535 f\r\n"
    for first, count in _groups(update.offsets):
        update.out += b"%d %d\n" % (first, count)
        for n in range(first, first + count):
            offset, generation = update.offsets[n]
            update.out += b"%010d %05d n\r\n" % (offset, generation)
    update.out += b"trailer\n<< " + _trailer_entries(original, size, new_id) + b" >>\n"
    update.out += b"startxref\n%d\n%%%%EOF\n" % start


def _finish_stream(update: _Update, original: OpenedPdf, size: int, new_id: bytes) -> None:
    xref_number = size
    size += 1
    start = update.position
    update.offsets[xref_number] = (start, 0)
    width = max(4, (start.bit_length() + 7) // 8)
    rows = bytearray()
    runs = _groups(update.offsets)
    for first, count in runs:
        for n in range(first, first + count):
            offset, generation = update.offsets[n]
            rows += b"\x01" + offset.to_bytes(width, "big") + generation.to_bytes(2, "big")
    index = b" ".join(b"%d %d" % run for run in runs)
    head = b"/Type /XRef /W [1 %d 2] /Index [%s] %s" % (
        width,
        index,
        _trailer_entries(original, size, new_id),
    )
    update.out += b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (xref_number, head, len(rows))
    update.out += rows + b"\nendstream\nendobj\n"
    update.out += b"startxref\n%d\n%%%%EOF\n" % start


def stamp_pdf(
    original: bytes, receipt_json: bytes, *, verify_url: str, opened: OpenedPdf | None = None
) -> bytes:
    """The stamped file: ``original`` unchanged, then one incremental update.

    ``receipt_json`` is the receipt exactly as the service emits it (UTF-8
    JSON); it must be anchored or confirmed and name ``original``'s SHA-256.
    ``verify_url`` is what the QR code encodes. Raises :class:`PdfError` for a
    file that is not a usable, unencrypted PDF and :class:`NotAnchoredError`
    for a receipt with no anchor yet. ``opened`` is ``open_pdf(original)`` when
    the caller already has it.
    """
    receipt = parse_receipt_json(receipt_json)
    pdf = opened if opened is not None else open_pdf(original)
    digest = pdf.sha256
    if receipt.document.sha256 != digest:
        raise InputError(
            f"the receipt is for the document {receipt.document.sha256.hex()}, "
            f"not for this file ({digest.hex()})"
        )
    if receipt.status not in (ReceiptStatus.ANCHORED, ReceiptStatus.CONFIRMED):
        raise NotAnchoredError(
            f"the document {digest.hex()} is {receipt.status.value}, not anchored yet; "
            "stamp it once its batch is anchored"
        )
    if not verify_url.isascii() or any(c in verify_url for c in "()\\\r\n"):
        raise InputError("the verification URL must be printable ASCII without ( ) or \\")
    try:
        return _write_stamp(original, receipt, receipt_json, verify_url, pdf)
    except PdfError:
        if not pdf.strict:
            raise
        # Read strictly, the file held less than it seemed: read it again leniently.
        lenient = open_pdf(original, strict=False)
        return _write_stamp(original, receipt, receipt_json, verify_url, lenient)


def _write_stamp(
    original: bytes, receipt: Receipt, receipt_json: bytes, verify_url: str, pdf: OpenedPdf
) -> bytes:
    digest = pdf.sha256
    catalog = pdf.catalog_ref.get_object()
    pages = pdf.pages_ref.get_object()
    assert isinstance(catalog, DictionaryObject) and isinstance(pages, DictionaryObject)

    n_file, n_spec, n_tree, n_content, n_page = range(pdf.size, pdf.size + 5)
    size = pdf.size + 5
    update = _Update(len(original))

    # (a) the receipt, stored without a filter so that a verifier reads it as it is
    receipt_offset = update.stream(
        n_file,
        b"/Type /EmbeddedFile /Subtype /application#2Fjson /Params << /Size %d >>"
        % len(receipt_json),
        receipt_json,
    )
    # (b) and (c) its file specification, carrying the original's length
    name = pdf_string(RECEIPT_FILE_NAME)
    update.obj(
        n_spec,
        b"<< /Type /Filespec /F %s /UF %s /Desc %s /AFRelationship /Supplement "
        b"/EF << /F %d 0 R /UF %d 0 R >> "
        b"/DocAnchorOriginalLength %d /DocAnchorOriginalSHA256 (%s) "
        b"/DocAnchorReceiptOffset %d /DocAnchorReceiptLength %d >>"
        % (
            name,
            name,
            pdf_string("docanchor-receipt/1"),
            n_file,
            n_file,
            len(original),
            digest.hex().encode(),
            receipt_offset,
            len(receipt_json),
        ),
    )
    try:
        names_dict = catalog.get("/Names")
        names = names_dict.get_object() if names_dict is not None else None
        existing: list[tuple[bytes, bytes, bytes]] = []
        if isinstance(names, DictionaryObject) and "/EmbeddedFiles" in names:
            existing = _name_tree_pairs(names.raw_get("/EmbeddedFiles"))
        key = f"{RECEIPT_FILE_NAME[:-5]}-{digest.hex()[:16]}.json".encode()
        entries = [p for p in existing if p[0] != key]
        entries.append((key, b"(" + key + b")", b"%d 0 R" % n_spec))
        entries.sort(key=lambda p: p[0])
        update.obj(
            n_tree,
            b"<< /Names [" + b" ".join(k + b" " + v for _, k, v in entries) + b"] >>",
        )
        # (d) the visible stamp: one page at the end, in the document's language
        width, height = pdf.page_size
        content = _page_content(receipt, verify_url, page_language(pdf.language), (width, height))
        update.stream(n_content, b"", content)
        box = b"[0 0 %.2f %.2f]" % (width, height)
        fonts = (
            b"/F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
            b"/Encoding /WinAnsiEncoding >> "
            b"/F2 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
            b"/Encoding /WinAnsiEncoding >> "
            b"/F3 << /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>"
        )
        update.obj(
            n_page,
            b"<< /Type /Page /Parent %d %d R /MediaBox %s /CropBox %s /Rotate 0 "
            b"/Resources << /Font << %s >> /ProcSet [/PDF /Text] >> /Contents %d 0 R >>"
            % (pdf.pages_ref.idnum, pdf.pages_ref.generation, box, box, fonts, n_content),
        )
        # the page tree's root and the catalog, in new versions
        kids = _items(pages.raw_get("/Kids"), "the page tree's /Kids")
        count = int(pages.get("/Count", len(kids)))
        update.obj(
            pdf.pages_ref.idnum,
            _dict_with(
                pages,
                {
                    "/Kids": b"[" + b" ".join(_ser(k) for k in kids) + b" %d 0 R]" % n_page,
                    "/Count": b"%d" % (count + 1),
                },
            ),
            pdf.pages_ref.generation,
        )
        names_entries = {"/EmbeddedFiles": b"%d 0 R" % n_tree}
        names_body = (
            _dict_with(names, names_entries)
            if isinstance(names, DictionaryObject)
            else b"<< /EmbeddedFiles %d 0 R >>" % n_tree
        )
        af = catalog.raw_get("/AF") if "/AF" in catalog else None
        af_items = _items(af, "the catalog's /AF") if af is not None else []
        af_body = b"[" + b" ".join(_ser(i) for i in af_items) + b" %d 0 R]" % n_spec
        update.obj(
            pdf.catalog_ref.idnum,
            _dict_with(catalog, {"/Names": names_body, "/AF": af_body}),
            pdf.catalog_ref.generation,
        )
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise PdfError(f"the PDF is damaged: {exc}") from None
    new_id = hashlib.sha256(digest + receipt_json).digest()[:16]
    if pdf.xref_is_stream:
        _finish_stream(update, pdf, size, new_id)
    else:
        _finish_table(update, pdf, size, new_id)
    return original + bytes(update.out)


def _dict_with(original: DictionaryObject, replaced: dict[str, bytes]) -> bytes:
    """``original`` serialized with some entries replaced (or added) by ready-made values."""
    parts: list[bytes] = [b"<<"]
    for key, value in dict.items(original):
        if key in replaced:
            continue
        parts.append(_ser(key) + b" " + _ser(value))
    parts.extend(k.encode() + b" " + v for k, v in replaced.items())
    parts.append(b">>")
    return b"\n".join(parts)


def verify_url_for(public_url: str, sha256: bytes) -> str:
    """The URL the QR code encodes: the verification page, opened on the document."""
    return f"{public_url.rstrip('/')}/?sha256={sha256.hex()}"


__all__: Sequence[str] = [
    "RECEIPT_FILE_NAME",
    "NotAnchoredError",
    "OpenedPdf",
    "PdfError",
    "open_pdf",
    "page_language",
    "pdf_string",
    "stamp_pdf",
    "verify_url_for",
]

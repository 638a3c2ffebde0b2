"""``submit --json`` writes each line's text directly: it must be exactly the text
``encode_line`` gives the line's object (``presenters.document_line``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from docanchor.cli import encode_line
from docanchor.cli.document_commands import _submit_line
from docanchor.presenters import document_line
from docanchor.service import Batch, DocumentRow, DocumentView, Registration

RECEIPT: dict[str, Any] = {"version": "docanchor-receipt/1", "note": 'ñ "quoted" \\ \u2028'}
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row(n: int, *, entity: str, reference: str | None, batch_id: int | None) -> DocumentRow:
    return DocumentRow(
        n, f"{n:064x}", "00" * 16, "{}", "11" * 32, entity, reference, None, CREATED, batch_id, None
    )


CASES = [
    # (path, entity, reference, version, batch, created)
    ("a1b2", "20131370998", "OC-2025-001", 3, None, True),
    ("folder/file name.pdf", "", None, None, None, False),
    ('odd "name"\t\u00e9\u2028.pdf', "20131370998", 'ref ñ "x" \\ \n', 1, None, True),
    (
        "sealed.pdf",
        "20131370998",
        "OC-1",
        2,
        Batch(id=7, root="ab" * 32, size=1, status="sealed"),
        False,
    ),
]


@pytest.mark.parametrize(("path", "entity", "reference", "version", "batch", "created"), CASES)
def test_a_submit_line_is_the_encoded_document_line(
    path: str,
    entity: str,
    reference: str | None,
    version: int | None,
    batch: Batch | None,
    created: bool,
) -> None:
    doc = _row(41, entity=entity, reference=reference, batch_id=None if batch is None else 7)
    view = DocumentView(doc, batch, version)
    versions = {} if version is None else {doc.id: version}
    receipt_text = json.dumps(RECEIPT, separators=(",", ":"), ensure_ascii=False)
    texts: dict[Any, str] = {}
    line = _submit_line(path, Registration(view, created), versions, receipt_text, texts)
    expected = encode_line(document_line(view, RECEIPT, path=path, created=created))
    assert line == expected
    # The kept texts of repeated values give the same line again.
    assert _submit_line(path, Registration(view, created), versions, receipt_text, texts) == line

"""The JSON shapes both edges show: one time format for every time of a batch, and a
document shown whole or in summary with the same members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from docanchor.presenters import (
    batch_json,
    document_json,
    document_line,
    iso,
    public_batch,
    registration_summary,
)
from docanchor.service import Batch
from docanchor.store.tables import DocumentRow, DocumentView

# 12:00 UTC, written three ways: aware UTC, naive UTC (as some drivers give the
# columns back) and aware at UTC-05:00 (07:00 there).
NOON = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
NAIVE_NOON = NOON.replace(tzinfo=None)
LIMA_NOON = NOON.astimezone(timezone(timedelta(hours=-5)))


def test_iso_writes_utc_with_a_z_whatever_the_zone_it_is_given() -> None:
    expected = "2026-03-01T12:00:00.250000Z"
    assert iso(NOON) == iso(NAIVE_NOON) == iso(LIMA_NOON) == expected
    assert iso(None) is None


def test_a_batch_shows_its_times_as_every_other_time_is_shown() -> None:
    batch = Batch(
        id=1,
        root="ab" * 32,
        size=2,
        status="confirmed",
        sealed_at=NAIVE_NOON,
        anchored_at=LIMA_NOON,
        confirmed_at=NOON,
    )
    for shape in (batch_json(batch), public_batch(batch)):
        assert shape["sealed_at"] == "2026-03-01T12:00:00.250000Z"
        assert shape["anchored_at"] == "2026-03-01T12:00:00.250000Z"
        assert shape["confirmed_at"] == "2026-03-01T12:00:00.250000Z"


def test_a_document_whole_and_in_summary() -> None:
    row = DocumentRow(
        id=7,
        sha256="cd" * 32,
        salt="ef" * 32,
        metadata_json='{"reference": "OC-1", "type": "purchase_order"}',
        metadata_sha256="01" * 32,
        entity_ruc="",
        reference="OC-1",
        doc_type="purchase_order",
        created_at=NAIVE_NOON,
        batch_id=None,
        leaf_index=None,
    )
    view = DocumentView(row, None, 2)
    receipt = {"version": "docanchor-receipt/1"}
    common = {
        "id": 7,
        "status": "pending",
        "entity_ruc": None,
        "reference": "OC-1",
        "type": "purchase_order",
        "version": 2,
        "registered_at": "2026-03-01T12:00:00.250000Z",
        "batch_id": None,
    }
    assert registration_summary(view) == {**common, "anchor": None}
    whole = document_json(view, receipt, created=True)
    assert list(whole) == [
        "created", "id", "sha256", "status", "entity_ruc", "reference", "type", "version",
        "registered_at", "batch_id", "metadata", "receipt",
    ]  # fmt: skip
    assert whole == {
        "created": True,
        **common,
        "sha256": "cd" * 32,
        "metadata": {"reference": "OC-1", "type": "purchase_order"},
        "receipt": receipt,
    }
    assert "created" not in document_json(view, receipt)
    assert "salt" not in whole and "salt" not in document_line(view, receipt)

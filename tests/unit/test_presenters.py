"""The JSON shapes both edges show: one time format for every time of a batch, and a
document shown whole or in summary with the same members."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from docanchor.presenters import (
    anchor_summary,
    batch_json,
    checkpoint_json,
    document_json,
    document_line,
    iso,
    public_batch,
    registration_summary,
)
from docanchor.service import BatchRecord, Checkpoint, DocumentRow, DocumentView
from docanchor.store import Batch

# 12:00 UTC, written three ways: aware UTC, naive UTC (as some drivers give the
# columns back) and aware at UTC-05:00 (07:00 there).
NOON = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
NAIVE_NOON = NOON.replace(tzinfo=None)
LIMA_NOON = NOON.astimezone(timezone(timedelta(hours=-5)))


def test_iso_writes_utc_with_a_z_whatever_the_zone_it_is_given() -> None:
    expected = "2026-03-01T12:00:00.250000Z"
    assert iso(NOON) == iso(NAIVE_NOON) == iso(LIMA_NOON) == expected
    assert iso(None) is None


TX = "0x" + "11" * 32
BLOCK = "0x" + "22" * 32
CONTRACT = "0x" + "33" * 20


def confirmed_row(**changes: object) -> Batch:
    fields: dict[str, object] = {
        "id": 1,
        "root": "ab" * 32,
        "size": 2,
        "status": "confirmed",
        "sealed_at": NAIVE_NOON,
        "anchored_at": LIMA_NOON,
        "confirmed_at": NOON,
        "first_index": 3,
        "tree_size": 5,
        "chain_id": 31337,
        "contract": CONTRACT,
        "seq": 4,
        "tx_hash": TX,
        "block_number": 40,
        "block_hash": BLOCK,
        "anchor_timestamp": 1_790_000_480,
        "tx_log": json.dumps([{"kind": "reorg"}, {"kind": "sent", "tx_hash": TX}]),
    }
    fields.update(changes)
    return Batch(**fields)


def test_a_batch_shows_its_times_as_every_other_time_is_shown() -> None:
    batch = BatchRecord.of(confirmed_row())
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


def test_a_batch_record_shows_every_member_in_order() -> None:
    shape = batch_json(BatchRecord.of(confirmed_row()))
    assert list(shape) == [
        "id", "size", "root", "status", "seq", "tx_hash", "block_number", "block_hash",
        "timestamp", "chain_id", "contract", "anchorer", "gas_used", "sealed_at",
        "anchored_at", "confirmed_at", "last_error", "first_index", "tree_size",
        "reanchored", "attempts",
    ]  # fmt: skip
    assert (shape["root"], shape["status"], shape["seq"], shape["block_number"]) == (
        "ab" * 32,
        "confirmed",
        4,
        40,
    )
    assert (shape["first_index"], shape["tree_size"], shape["reanchored"]) == (3, 5, True)
    assert shape["attempts"] == [{"kind": "reorg"}, {"kind": "sent", "tx_hash": TX}]
    assert anchor_summary(BatchRecord.of(confirmed_row())) == {
        "tx_hash": TX,
        "block_number": 40,
        "block_hash": BLOCK,
        "timestamp": 1_790_000_480,
        "chain_id": 31337,
        "contract": CONTRACT,
        "seq": 4,
    }


def test_a_sealed_batch_shows_its_sent_transaction_and_no_anchor() -> None:
    row = confirmed_row(
        status="sealed",
        seq=None,
        block_number=None,
        block_hash=None,
        anchor_timestamp=None,
        tx_log=None,
    )
    record = BatchRecord.of(row)
    shape = batch_json(record)
    assert shape["tx_hash"] == TX and shape["chain_id"] == 31337
    assert (shape["seq"], shape["block_number"], shape["timestamp"]) == (None, None, None)
    assert (shape["reanchored"], shape["attempts"]) == (False, [])
    assert anchor_summary(record) is None
    checkpoint = Checkpoint.of_log(row)
    assert checkpoint_json(checkpoint) == {
        "seq": None,
        "tree_size": 5,
        "root": "ab" * 32,
        "tx_hash": TX,
        "block_number": None,
        "block_hash": None,
        "timestamp": None,
        "status": "sealed",
        "batch_id": 1,
    }


def test_a_version_1_batch_shows_no_log_sizes() -> None:
    shape = batch_json(BatchRecord.of(confirmed_row(first_index=None, tree_size=None)))
    assert (shape["first_index"], shape["tree_size"]) == (None, None)


def test_a_receipt_check_has_one_shape_for_both_edges() -> None:
    from pathlib import Path

    from docanchor.presenters import receipt_check_json
    from docanchor.receipt import (
        CheckResult,
        ReceiptVerification,
        loads_receipt_text,
        parse_receipt,
    )

    data = Path(__file__).parents[1] / "data"
    receipt = parse_receipt(
        loads_receipt_text(
            (data / "receipts" / "receipts" / "broken-untrusted-contract.json").read_bytes()
        )
    )
    result = ReceiptVerification(
        valid=False,
        confirmations=3,
        checks=[
            CheckResult(1, "document", True, "no document given", True),
            CheckResult(7, "confirmations", False, "3 of 12"),
        ],
    )
    shown = receipt_check_json(result, receipt, verdict="not_valid", required_confirmations=12)
    assert list(shown) == [
        "valid",
        "verdict",
        "status",
        "confirmations",
        "required_confirmations",
        "checks",
    ]
    assert shown["valid"] is False and shown["verdict"] == "not_valid"
    assert shown["status"] == receipt.status.value
    assert (shown["confirmations"], shown["required_confirmations"]) == (3, 12)
    assert shown["checks"] == [
        {"step": 1, "name": "document", "ok": True, "skipped": True, "detail": "no document given"},
        {"step": 7, "name": "confirmations", "ok": False, "skipped": False, "detail": "3 of 12"},
    ]
    assert json.loads(json.dumps(shown)) == shown


def test_the_versions_of_a_document_in_order_marking_the_one_asked_about() -> None:
    from docanchor.presenters import document_versions

    def version(n: int, sha: str, batch: BatchRecord | None) -> DocumentView:
        row = DocumentRow(
            id=n,
            sha256=sha,
            salt="ef" * 32,
            metadata_json='{"reference": "OC-1"}',
            metadata_sha256="01" * 32,
            entity_ruc="",
            reference="OC-1",
            doc_type="purchase_order",
            created_at=NAIVE_NOON + timedelta(minutes=n),
            batch_id=None if batch is None else batch.id,
            leaf_index=None,
        )
        return DocumentView(row, batch, n)

    second = version(2, "cd" * 32, None)
    first = version(1, "ab" * 32, BatchRecord.of(confirmed_row()))
    shown = document_versions([second, first], "cd" * 32)
    assert shown == [
        {
            "entity_ruc": None,
            "reference": "OC-1",
            "version": 1,
            "sha256": "ab" * 32,
            "status": "confirmed",
            "registered_at": "2026-03-01T12:01:00.250000Z",
            "is_this_document": False,
        },
        {
            "entity_ruc": None,
            "reference": "OC-1",
            "version": 2,
            "sha256": "cd" * 32,
            "status": "pending",
            "registered_at": "2026-03-01T12:02:00.250000Z",
            "is_this_document": True,
        },
    ]
    assert [list(v) for v in shown] == [list(shown[0])] * 2
    assert list(shown[0]) == [
        "entity_ruc", "reference", "version", "sha256", "status", "registered_at",
        "is_this_document",
    ]  # fmt: skip
    assert document_versions([], "cd" * 32) == []

"""The service's records of a batch: every field a state requires, or a StoreError.

A row the service wrote always has what its status requires; a row without
(an edited database) must stop a receipt or a pass with the store's error,
never with an assertion or a receipt that lacks part of its anchor.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from docanchor.errors import StoreError
from docanchor.receipt import AnchorPart
from docanchor.service import AnchoredBatch, BatchRecord, Checkpoint, DocAnchorService, SealedBatch
from docanchor.service.records import SharedRecords
from docanchor.store import Batch, Store
from docanchor.vocabulary import BatchStatus
from tests.support.fakechain import FAKE_CONTRACT, FakeChain

ROOT = "ab" * 32
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def anchored_row(**changes: object) -> Batch:
    fields: dict[str, object] = {
        "id": 7,
        "root": ROOT,
        "size": 3,
        "status": BatchStatus.CONFIRMED,
        "first_index": 5,
        "tree_size": 8,
        "chain_id": 31337,
        "contract": FAKE_CONTRACT,
        "seq": 2,
        "tx_hash": "0x" + "11" * 32,
        "block_number": 40,
        "block_hash": "0x" + "22" * 32,
        "anchor_timestamp": 1_790_000_480,
    }
    fields.update(changes)
    return Batch(**fields)


def test_a_sealed_batch_has_its_id_and_root() -> None:
    assert SealedBatch.of(anchored_row()) == SealedBatch(7, bytes.fromhex(ROOT))
    with pytest.raises(StoreError, match="batch 7 is stored without its id or its root"):
        SealedBatch.of(anchored_row(root=None))


def test_a_checkpoint_is_a_batch_of_the_log() -> None:
    assert Checkpoint.of(anchored_row()) == Checkpoint(
        7,
        bytes.fromhex(ROOT),
        5,
        8,
        status=BatchStatus.CONFIRMED,
        tx_hash="0x" + "11" * 32,
        anchor=AnchoredBatch.of(anchored_row()),
    )
    # A sealed checkpoint: the transaction sent for it, no anchor yet.
    sealed = anchored_row(status=BatchStatus.SEALED, seq=None, block_number=None)
    assert Checkpoint.of_log(sealed) == Checkpoint(
        7, bytes.fromhex(ROOT), 5, 8, tx_hash="0x" + "11" * 32
    )
    with pytest.raises(StoreError, match="tree_size"):
        Checkpoint.of_log(anchored_row(tree_size=None, first_index=None))
    # A version 1 batch is no checkpoint of the log.
    assert Checkpoint.of(anchored_row(tree_size=None, first_index=None)) is None
    with pytest.raises(StoreError, match="first_index"):
        Checkpoint.of(anchored_row(first_index=None))


def test_an_anchored_batch_has_every_part_of_its_anchor() -> None:
    anchored = AnchoredBatch.of(anchored_row())
    assert anchored.status is BatchStatus.CONFIRMED
    assert anchored.anchor_part() == AnchorPart(
        chain_id=31337,
        contract=FAKE_CONTRACT,
        seq=2,
        tx_hash="0x" + "11" * 32,
        block_number=40,
        block_hash="0x" + "22" * 32,
        timestamp=1_790_000_480,
    )
    for column in (
        "chain_id",
        "contract",
        "seq",
        "tx_hash",
        "block_number",
        "block_hash",
        "anchor_timestamp",
    ):
        with pytest.raises(StoreError, match="a part of the anchor its status"):
            AnchoredBatch.of(anchored_row(**{column: None}))
    with pytest.raises(StoreError, match="is sealed, not anchored"):
        AnchoredBatch.of(anchored_row(status=BatchStatus.SEALED))


def test_a_batch_recorded_as_anchored_without_its_block_hash_stops_receipts_and_passes(
    database_url: str,
) -> None:
    fake = FakeChain()
    service = DocAnchorService(store=Store(database_url), chain=fake, confirmations=1)
    digests = [hashlib.sha256(f"record {i}".encode()).digest() for i in range(3)]
    service.register_many(service.prepare_registrations(digests, entity_ruc="20131370998"))
    assert [r.action for r in service.run_once(now=NOW)] == ["sealed", "anchored", "confirmed"]
    (view,) = service.lookup(digests[0])
    assert service.receipt(view).anchor is not None

    (batch,) = service.batches()
    service.store.update_batch(batch.id, block_hash=None)
    # The look-up builds the batch's record, and stops there: no receipt is made.
    with pytest.raises(StoreError, match=f"batch {batch.id} is stored without a part"):
        service.lookup(digests[0])
    with pytest.raises(StoreError, match=f"batch {batch.id} is stored without a part"):
        service.confirm(now=NOW)


def test_shared_records_build_a_rows_record_once() -> None:
    shared = SharedRecords(size=1)
    row = anchored_row()
    record = shared.of(row)
    assert record == BatchRecord.of(row)
    assert shared.of(row) is record
    other = anchored_row(status=BatchStatus.ANCHORED)
    assert shared.of(other).status == BatchStatus.ANCHORED
    # Evicted (size 1): the first row's record is built again, equal.
    rebuilt = shared.of(row)
    assert rebuilt is not record and rebuilt == record

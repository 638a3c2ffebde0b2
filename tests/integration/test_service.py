"""The service over a real database (SQLite, and PostgreSQL when configured),
without a chain: registration, sealing, receipts and their signatures."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from docanchor import merkle
from docanchor.errors import InputError, MetadataError, VerificationError
from docanchor.keys import create_key, key_hash
from docanchor.merkle import MerkleTree
from docanchor.receipt import parse_receipt, verify_receipt_proof
from docanchor.service import DocAnchorService, leaf_hash_of_row
from docanchor.signing import ReceiptSigner, verify_signature
from docanchor.store import Store
from docanchor.vocabulary import utcnow

ENTITY = "20131370998"


def digest(n: int) -> bytes:
    return hashlib.sha256(f"documento {n}".encode()).digest()


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


def test_receipts_are_signed_and_the_signature_covers_every_member(
    store: Store, tmp_path: Path
) -> None:
    signer = ReceiptSigner.load_or_create(tmp_path / "key.pem")
    service = DocAnchorService(store=store, signer=signer)
    reg = service.register(digest(1), {"reference": "OC-1"}, entity_ruc=ENTITY)
    signed = service.receipt_json(reg.view)
    assert signed["signature"]["key_id"] == signer.key_id
    verify_signature(signed, signer.public_raw)

    tampered = {**signed, "status": "confirmed"}
    with pytest.raises(VerificationError):
        verify_signature(tampered, signer.public_raw)
    # The key survives a restart: the same file gives the same key.
    assert ReceiptSigner.load_or_create(tmp_path / "key.pem").key_id == signer.key_id


# Metadata whose canonical text differs from json.dumps: non-ASCII, escapes, key order
# by UTF-16 code units, nesting, integers; and none at all.
BULK_METADATA: list[dict[str, object] | None] = [
    None,
    {"reference": "OC-1", "type": "orden de compra"},
    {"reference": "Ñandú \u20ac \U0001f600", "z": [1, {"b": 2, "a": '\n\t"\\'}], "é": -3},
    {"\ufb33": "hebrew", "\U0001f600": "emoji", "a": {"nested": {"deep": [True, False, None]}}},
]


@pytest.mark.parametrize("signed", [True, False])
def test_pending_receipts_in_bulk_equal_the_ones_made_one_by_one(
    store: Store, tmp_path: Path, signed: bool
) -> None:
    """pending_receipts_json writes the RFC 8785 signing payload itself: every receipt
    (signature included: Ed25519 is deterministic) equals receipt_json's, and verifies."""
    signer = ReceiptSigner.load_or_create(tmp_path / "key.pem") if signed else None
    service = DocAnchorService(store=store, signer=signer)
    items = [
        service.prepare_registration(digest(100 + i), metadata, entity_ruc=ENTITY)
        for metadata in BULK_METADATA
        for i in range(3)
    ]
    results = service.register_many(items)
    documents = [r.view.document for r in results]
    bulk = service.pending_receipts_json(documents)
    assert bulk == [service.receipt_json(r.view) for r in results]
    assert len({json.dumps(r, sort_keys=True) for r in bulk}) == len(items)
    for receipt in bulk:
        parse_receipt(receipt)
        if signer is not None:
            verify_signature(receipt, signer.public_raw)
        else:
            assert "signature" not in receipt


def test_sealing_respects_the_batch_limit_and_every_proof_verifies(store: Store) -> None:
    service = DocAnchorService(store=store, batch_max=3)
    regs = service.register_many(
        service.prepare_registrations([digest(i) for i in range(7)], entity_ruc=ENTITY)
    )
    batches = service.seal_all()
    assert [b.size for b in batches] == [3, 3, 1]
    # Each batch is a checkpoint of the one log: its root is the root of every
    # leaf so far, recomputed here from the stored documents.
    log: list[bytes] = []
    for batch in batches:
        assert batch.checkpoint is not None
        assert (batch.checkpoint.first_index, batch.checkpoint.tree_size) == (
            len(log),
            len(log) + batch.size,
        )
        log += [leaf_hash_of_row(*r) for r in store.batch_leaves(batch.id)]
        assert MerkleTree(log).root == batch.root
    assert store.log_leaves(0, 7) == log
    for n, reg in enumerate(regs):
        (view,) = service.lookup(bytes.fromhex(reg.view.document.sha256))
        assert view.status == "sealed"
        receipt = parse_receipt(service.receipt_json(view))
        verify_receipt_proof(receipt)
        assert receipt.proof is not None and receipt.batch is not None
        assert receipt.batch.id == view.document.batch_id
        # The index in the log, in the first checkpoint that holds the leaf.
        assert receipt.proof.leaf_index == n
        assert receipt.proof.tree_size == [3, 6, 7][n // 3]


def test_consistency_proofs_between_any_two_checkpoints_verify(store: Store) -> None:
    service = DocAnchorService(store=store, batch_max=37)
    service.register_many(
        service.prepare_registrations([digest(i) for i in range(600)], entity_ruc=ENTITY)
    )
    batches = service.seal_all()
    sizes = [None if b.checkpoint is None else b.checkpoint.tree_size for b in batches]
    assert sizes[-1] == 600 and len(sizes) == 17
    leaves = store.log_leaves(0, 600)
    for first in sizes:
        assert first is not None
        compact = service.compact_range(first)
        assert merkle.fold_compact_range(compact) == MerkleTree(leaves[:first]).root
        for second in sizes:
            assert second is not None
            if second < first:
                with pytest.raises(InputError):
                    service.consistency(first, second)
                continue
            old, new, proof = service.consistency(first, second)
            assert (old.tree_size, new.tree_size) == (first, second)
            merkle.verify_consistency(first, second, proof, old.root, new.root)
            # Range check of the leaves between the two checkpoints.
            merkle.verify_range(compact, first, leaves[first:second], new.root)
    with pytest.raises(InputError, match="not the size of a checkpoint"):
        service.consistency(5, 37)
    with pytest.raises(InputError, match="not the size of a checkpoint"):
        service.compact_range(38)
    assert service.compact_range(0) == []
    with pytest.raises(InputError, match="at most 100"):
        service.log_leaves(0, 200, limit=100)
    with pytest.raises(InputError, match="beyond its end"):
        service.log_leaves(590, 601)


def test_an_altered_leaf_is_caught_when_a_receipt_is_made(store: Store) -> None:
    service = DocAnchorService(store=store)
    regs = service.register_many(
        service.prepare_registrations([digest(i) for i in range(5)], entity_ruc=ENTITY)
    )
    service.seal_all()
    with store.engine.begin() as conn:
        tile = conn.execute(sa.text("SELECT hashes FROM log_tile WHERE level = 0")).scalar_one()
        altered = bytes(tile[:32]) + bytes(32) + bytes(tile[64:])
        conn.execute(sa.text("UPDATE log_tile SET hashes = :h WHERE level = 0"), {"h": altered})
    (view,) = service.lookup(bytes.fromhex(regs[0].view.document.sha256))
    with pytest.raises(VerificationError, match="database was altered"):
        service.receipt(view)


def test_a_tile_altered_after_its_nodes_were_cached_is_still_caught(store: Store) -> None:
    # A receipt made first leaves the tile's inner nodes in the store's cache; the
    # cache answers only for the very bytes it hashed, so the altered tile is
    # hashed again and the proof no longer reaches the checkpoint's root.
    service = DocAnchorService(store=store)
    regs = service.register_many(
        service.prepare_registrations([digest(i) for i in range(6)], entity_ruc=ENTITY)
    )
    service.seal_all()
    (view,) = service.lookup(bytes.fromhex(regs[0].view.document.sha256))
    verify_receipt_proof(parse_receipt(service.receipt_json(view)))
    with store.engine.begin() as conn:
        tile = conn.execute(sa.text("SELECT hashes FROM log_tile WHERE level = 0")).scalar_one()
        altered = bytes(tile[:96]) + bytes(32) + bytes(tile[128:])
        conn.execute(sa.text("UPDATE log_tile SET hashes = :h WHERE level = 0"), {"h": altered})
    with pytest.raises(VerificationError, match="database was altered"):
        service.receipt(view)


def test_kept_read_connections_see_what_another_store_commits(database_url: str) -> None:
    """The verify, tile and API-key look-ups run on a connection each thread keeps
    between calls: what another store (as another process) commits is seen at once."""
    reader, writer = Store(database_url), Store(database_url)
    try:
        sha = digest(900).hex()
        assert reader.lookup_rows(sha) == ()
        service = DocAnchorService(store=writer, batch_max=2)
        service.register_many(
            service.prepare_registrations([digest(900), digest(901)], entity_ruc=ENTITY)
        )
        hits, _ = reader.views_of_lookup(reader.lookup_rows(sha), sha)
        assert [(v.document.sha256, v.status) for v in hits] == [(sha, "pending")]

        # Receipts through the reader while the writer's log grows: the tile read
        # (and cached) for the first checkpoint is read again, longer, for the next.
        reading = DocAnchorService(store=reader)
        service.seal_all()
        for n in (900, 902):
            if n == 902:
                service.register_many(
                    service.prepare_registrations([digest(902)], entity_ruc=ENTITY)
                )
                service.seal_all()
            (view,) = reading.lookup(digest(n))
            assert view.status == "sealed"
            receipt = parse_receipt(reading.receipt_json(view))
            verify_receipt_proof(receipt)
            assert receipt.proof is not None
            assert receipt.proof.tree_size == (2 if n == 900 else 3)

        made = create_key(writer, role="auditor", entity_ruc=None)
        found = reader.api_key_by_hash(key_hash(made.secret))
        assert found is not None and found.id == made.key.id and found.revoked_at is None
        assert found.role == "auditor" and found.created_at is not None
        writer.revoke_api_key(made.key.id, utcnow())
        revoked = reader.api_key_by_hash(key_hash(made.secret))
        assert revoked is not None and revoked.revoked_at is not None
        assert reader.api_key_by_hash(key_hash(made.secret + "x")) is None
    finally:
        reader.close()
        writer.close()


def test_concurrent_registrations_through_two_stores_are_all_kept(database_url: str) -> None:
    # Two stores on one database, as two server workers: on SQLite their writers
    # queue on a lock file beside the database; every registration is kept, once.
    stores = [Store(database_url), Store(database_url)]
    try:
        results: list[list[bool]] = [[], []]

        def register(n: int) -> None:
            service = DocAnchorService(store=stores[n])
            for start in range(0, 200, 20):
                items = service.prepare_registrations(
                    [digest(5_000 + i) for i in range(start, start + 20)], entity_ruc=ENTITY
                )
                results[n] += [r.created for r in service.register_many(items)]

        threads = [threading.Thread(target=register, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [len(r) for r in results] == [200, 200]
        assert sum(results[0]) + sum(results[1]) == 200  # each digest created once
        assert stores[0].document_counts()["pending"] == 200
        if database_url.startswith("sqlite"):
            database = database_url.split("///", 1)[1]
            assert Path(database + "-write.lock").exists()
    finally:
        for store in stores:
            store.close()


def test_concurrent_sealers_never_seal_a_document_twice(store: Store) -> None:
    service = DocAnchorService(store=store, batch_max=50)
    service.register_many(
        service.prepare_registrations([digest(i) for i in range(400)], entity_ruc=ENTITY)
    )
    errors: list[BaseException] = []

    def seal() -> None:
        try:
            DocAnchorService(store=Store(store.url, migrate=False), batch_max=50).seal_all()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=seal) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    batches = store.batches()
    assert sum(b.size for b in batches) == 400
    assert store.document_counts()["pending"] == 0
    seen: set[int] = set()
    for batch in batches:
        assert batch.id is not None
        ids = store.batch_document_ids(batch.id)
        assert len(ids) == batch.size and not seen & set(ids)
        seen.update(ids)


def test_registration_is_idempotent_and_refuses_bad_metadata(store: Store) -> None:
    service = DocAnchorService(store=store)
    first = service.register(digest(5), {"reference": "OC-5"}, entity_ruc=ENTITY)
    again = service.register(digest(5), {"reference": "OC-5"}, entity_ruc=ENTITY)
    assert first.created and not again.created
    assert again.view.document.id == first.view.document.id
    other_entity = service.register(digest(5), {"reference": "OC-5"}, entity_ruc="20100000001")
    assert other_entity.created
    with pytest.raises(MetadataError):
        service.register(digest(6), {"amount": 1.5})
    with pytest.raises(InputError):
        service.register(digest(6), {"entity_ruc": "20100000001"}, entity_ruc=ENTITY)
    versions = service.versions("OC-5", ENTITY)
    assert [v.version for v in versions] == [1]


def test_bulk_registration_answers_each_item_with_its_own_stored_row(store: Store) -> None:
    service = DocAnchorService(store=store)
    service.register(digest(900), {"reference": "OC-900"}, entity_ruc=ENTITY)
    # Metadata that json.dumps keys alike only if types were ignored: true, 1 and "1"
    # are three registrations with three metadata digests, and equal objects share one.
    flags: list[object] = [True, 1, "1", None, True]
    items = [(digest(1000 + i), {"reference": f"OC-{i}", "flag": flags[i % 5]}) for i in range(300)]
    items += [(digest(2000 + i), {"flag": flags[i % 5]}) for i in range(5)]
    prepared = service.prepare_each(items, lambda _metadata: ENTITY)
    assert len({p.metadata_sha256 for p in prepared[300:]}) == 4
    for p, (_, metadata) in zip(prepared, items, strict=True):
        assert json.loads(p.metadata_json) == {**metadata, "entity_ruc": ENTITY}
    results = service.register_many(prepared)
    assert all(r.created for r in results)
    with store.engine.begin() as conn:
        stored = {
            row[0]: (bytes(row[1]), bytes(row[2]), row[3])
            for row in conn.execute(sa.text("SELECT id, sha256, salt, metadata_json FROM document"))
        }
    assert len(stored) == 1 + len(items)
    ids = [r.view.document.id for r in results]
    assert ids == sorted(ids)  # in the order given
    for result, item in zip(results, prepared, strict=True):
        doc = result.view.document
        assert stored[doc.id] == (item.sha256, item.salt, item.metadata_json)
        assert (doc.sha256, doc.salt) == (item.sha256.hex(), item.salt.hex())
    # The same items again: nothing new, each answered with the row stored above.
    again = service.register_many(service.prepare_each(items, lambda _metadata: ENTITY))
    assert not any(r.created for r in again)
    assert [r.view.document.id for r in again] == ids


def test_look_ups_share_a_batch_record_until_its_row_changes(store: Store) -> None:
    """The verify look-up builds a batch's record once for its documents and repeated
    look-ups, and afresh as soon as any stored column of the batch changes."""
    service = DocAnchorService(store=store, batch_max=10)
    service.register_many(
        service.prepare_registrations([digest(950), digest(951)], entity_ruc=ENTITY)
    )
    service.seal_all()
    (first,), _ = service.lookup_with_versions(digest(950).hex())
    (second,), _ = service.lookup_with_versions(digest(951).hex())
    (again,), _ = service.lookup_with_versions(digest(950).hex())
    assert first.batch is not None and first.batch.last_error is None
    assert second.batch is first.batch and again.batch is first.batch
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE batch SET last_error = 'node down'"))
    (changed,), _ = service.lookup_with_versions(digest(950).hex())
    assert changed.batch is not None and changed.batch is not first.batch
    assert changed.batch.last_error == "node down"
    (other,), _ = service.lookup_with_versions(digest(951).hex())
    assert other.batch is changed.batch

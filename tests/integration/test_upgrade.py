"""A database made by the previous version (independent batch trees, hex text
digests) upgraded to the log: nothing registered is lost, every old receipt
stays what it was, and new registrations go into the log.

The old database is built with the version 1 schema (migration 0001) and rows
written the way version 1 wrote them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa

from docanchor import hashing
from docanchor.merkle import MerkleTree
from docanchor.migrations import upgrade
from docanchor.receipt import parse_receipt, verify_receipt_proof
from docanchor.service import DocAnchorService
from docanchor.store import SCHEMA_HEAD, Store

ENTITY = "20131370998"
CONTRACT_V1 = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def digest(n: int) -> bytes:
    return hashlib.sha256(f"orden {n}".encode()).digest()


def _version1_database(url: str) -> dict[str, object]:
    """Three documents in a confirmed batch, two in a sealed one, one pending."""
    engine = sa.create_engine(url)
    upgrade(engine, "0001")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    meta = hashing.canonical_metadata({"entity_ruc": ENTITY, "reference": "OC-1"})
    meta_sha = hashing.sha256(meta).hex()
    rows = []
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO entity (ruc, created_at) VALUES (:r, :t)"), {"r": ENTITY, "t": now}
        )
        for n in range(6):
            salt = hashlib.sha256(f"salt {n}".encode()).hexdigest()
            doc_id = conn.execute(
                sa.text(
                    "INSERT INTO document (sha256, salt, metadata_json, metadata_sha256, "
                    "entity_ruc, reference, doc_type, created_at) VALUES "
                    "(:s, :salt, :m, :ms, :e, 'OC-1', NULL, :t) RETURNING id"
                ),
                {
                    "s": digest(n).hex(),
                    "salt": salt,
                    "m": meta.decode(),
                    "ms": meta_sha,
                    "e": ENTITY,
                    "t": now,
                },
            ).scalar_one()
            rows.append((doc_id, salt))
        leaves = [
            hashing.leaf_hash(bytes.fromhex(salt + digest(n).hex() + meta_sha))
            for n, (_, salt) in enumerate(rows)
        ]
        old_root = MerkleTree(leaves[:3]).root.hex()
        sealed_root = MerkleTree(leaves[3:5]).root.hex()
        batch_ids = []
        for root, size, status, anchored in (
            (old_root, 3, "confirmed", True),
            (sealed_root, 2, "sealed", False),
        ):
            batch_id = conn.execute(
                sa.text(
                    "INSERT INTO batch (root, size, status, sealed_at, anchor_attempts, "
                    "chain_id, contract, seq, tx_hash, block_number, block_hash, "
                    "anchor_timestamp, anchorer) VALUES (:root, :size, :status, :t, 1, "
                    ":chain, :contract, :seq, :tx, :block, :bh, :ts, :who) RETURNING id"
                ),
                {
                    "root": root,
                    "size": size,
                    "status": status,
                    "t": now,
                    "chain": 31337 if anchored else None,
                    "contract": CONTRACT_V1 if anchored else None,
                    "seq": 0 if anchored else None,
                    "tx": "0x" + "11" * 32 if anchored else None,
                    "block": 2 if anchored else None,
                    "bh": "0x" + "22" * 32 if anchored else None,
                    "ts": 1_767_571_200 if anchored else None,
                    "who": CONTRACT_V1 if anchored else None,
                },
            ).scalar_one()
            batch_ids.append(batch_id)
        for n, (doc_id, _) in enumerate(rows):
            if n < 5:
                conn.execute(
                    sa.text(
                        "INSERT INTO batch_member (document_id, batch_id, leaf_index) "
                        "VALUES (:d, :b, :i)"
                    ),
                    {"d": doc_id, "b": batch_ids[0 if n < 3 else 1], "i": n if n < 3 else n - 3},
                )
            else:
                conn.execute(
                    sa.text("INSERT INTO pending_document (document_id) VALUES (:d)"), {"d": doc_id}
                )
    engine.dispose()
    return {"old_root": old_root, "old_batch": batch_ids[0]}


def test_a_version1_database_is_upgraded_without_losing_anything(database_url: str) -> None:
    before = _version1_database(database_url)
    store = Store(database_url)
    assert store.schema_revision() == SCHEMA_HEAD
    service = DocAnchorService(store=store)
    # Digests are binary now; every look-up still answers in hex.
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT sha256 FROM document ORDER BY id")).scalars().all()
    assert [bytes(v) for v in stored] == [digest(n) for n in range(6)]

    # The confirmed version 1 batch stays as it was: same root, same per-batch
    # proofs, the version 1 contract in its anchor.
    for n in range(3):
        (view,) = service.lookup(digest(n))
        assert view.status == "confirmed" and view.batch is not None
        assert not view.batch.in_log
        receipt = parse_receipt(service.receipt_json(view))
        verify_receipt_proof(receipt)
        assert receipt.batch is not None and receipt.batch.root.hex() == before["old_root"]
        assert receipt.proof is not None
        assert (receipt.proof.leaf_index, receipt.proof.tree_size) == (n, 3)
        assert receipt.anchor is not None and receipt.anchor.contract == CONTRACT_V1

    # The never-anchored batch went back to the queue with the pending document.
    counts = store.document_counts()
    assert counts["pending"] == 3 and counts["confirmed"] == 3
    assert [b.id for b in store.batches()] == [before["old_batch"]]

    # New registrations and the old queue go into the log, from index 0.
    service.register(digest(9), {"reference": "OC-9"}, entity_ruc=ENTITY)
    (batch,) = service.seal_all()
    assert batch.checkpoint is not None
    assert (batch.checkpoint.first_index, batch.checkpoint.tree_size, batch.size) == (0, 4, 4)
    for n in (3, 4, 5, 9):
        (view,) = service.lookup(digest(n))
        receipt = parse_receipt(service.receipt_json(view))
        verify_receipt_proof(receipt)
        assert receipt.proof is not None and receipt.proof.tree_size == 4
    # The old batch's documents are not part of the log.
    assert store.log_size() == 4
    assert (
        json.loads(json.dumps(service.receipt_json(service.lookup(digest(0))[0])))["proof"][
            "tree_size"
        ]
        == 3
    )

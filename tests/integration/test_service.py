"""The service over a real database (SQLite, and PostgreSQL when configured),
without a chain: registration, sealing, receipts and their signatures."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from docanchor.errors import InputError, MetadataError, VerificationError
from docanchor.merkle import MerkleTree
from docanchor.receipt import parse_receipt, verify_receipt_proof
from docanchor.service import DocAnchorService, leaf_hash_of_row
from docanchor.signing import ReceiptSigner, verify_signature
from docanchor.store import Store

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


def test_sealing_respects_the_batch_limit_and_every_proof_verifies(store: Store) -> None:
    service = DocAnchorService(store=store, batch_max=3)
    regs = service.register_many(
        service.prepare_registrations([digest(i) for i in range(7)], entity_ruc=ENTITY)
    )
    batches = service.seal_all()
    assert [b.size for b in batches] == [3, 3, 1]
    for batch in batches:
        assert batch.id is not None
        rows = store.batch_leaves(batch.id)
        assert MerkleTree([leaf_hash_of_row(*r) for r in rows]).root.hex() == batch.root
    for reg in regs:
        (view,) = service.lookup(bytes.fromhex(reg.view.document.sha256))
        assert view.status == "sealed"
        receipt = parse_receipt(service.receipt_json(view))
        verify_receipt_proof(receipt)
        assert receipt.proof is not None and receipt.batch is not None
        assert receipt.batch.id == view.document.batch_id


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

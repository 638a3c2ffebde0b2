"""Receipts: built from the store, signed, stamped into a PDF, and checked on a chain.

Building reads the log's tiles (or a version 1 batch's rows) and checks the
proof against the stored root before a receipt leaves the service. Checking
a receipt (``verify_receipt_on_chain``) fetches from a node through
:class:`~docanchor.service.ports.ChainReader` and leaves every verdict to
the pure core (``docanchor.receipt``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785

from docanchor import hashing, merkle
from docanchor.errors import NotAnchoredError, VerificationError
from docanchor.merkle import MerkleTree, root_from_inclusion_proof
from docanchor.onchain import OnChainRecord
from docanchor.receipt import (
    RECEIPT_VERSION,
    STEP_CHAIN_RECORD,
    STEP_CONFIRMATIONS,
    STEP_DOCUMENT,
    STEP_METADATA,
    BatchPart,
    DocumentPart,
    ProofPart,
    Receipt,
    ReceiptStatus,
    ReceiptVerification,
    TrustPolicy,
    evaluate_receipt,
)
from docanchor.service.leaves import leaf_hash_of_row
from docanchor.service.lookups import Lookups, not_found
from docanchor.service.ports import ChainReader
from docanchor.service.records import Checkpoint, DocumentView, SealedBatch
from docanchor.store import DocumentRow
from docanchor.vocabulary import DocumentStatus


class Receipts(Lookups):
    """Receipts of registered documents."""

    def tree_for(self, batch: SealedBatch) -> MerkleTree:
        """The batch's tree, rebuilt from its stored rows (cached, checked against its root)."""
        with self._tree_lock:
            tree = self._trees.get(batch.id)
            if tree is not None:
                self._trees.move_to_end(batch.id)
                return tree
        rows = self.store.iter_batch_leaves(batch.id)
        tree = MerkleTree([leaf_hash_of_row(*r) for r in rows])
        if tree.root != batch.root:
            raise VerificationError(
                f"batch {batch.id}: the documents stored for it no longer give its root "
                f"{batch.root.hex()}; the database was altered (run docanchor audit)"
            )
        with self._tree_lock:
            self._trees[batch.id] = tree
            while len(self._trees) > self._tree_cache_size:
                self._trees.popitem(last=False)
        return tree

    def receipt(self, view: DocumentView) -> Receipt:
        doc = view.document
        batch = view.batch
        metadata = json.loads(doc.metadata_json)
        document = DocumentPart(
            sha256=bytes.fromhex(doc.sha256),
            salt=bytes.fromhex(doc.salt),
            metadata_sha256=bytes.fromhex(doc.metadata_sha256),
            metadata=metadata,
        )
        if batch is None or doc.leaf_index is None:
            return Receipt(ReceiptStatus.PENDING, document, None, None, None, {})
        checkpoint = batch.checkpoint
        if checkpoint is not None:
            proof = self.log_proof(
                doc.leaf_index,
                checkpoint,
                hashing.leaf_hash(document.salt + document.sha256 + document.metadata_sha256),
            )
        else:
            tree = self.tree_for(batch.sealed)
            proof = ProofPart(
                doc.leaf_index, tree.size, tuple(tree.inclusion_proof(doc.leaf_index))
            )
        batch_part = BatchPart(batch.id, batch.root)
        anchored = batch.anchor
        if anchored is not None:
            return Receipt(
                ReceiptStatus(anchored.status),
                document,
                proof,
                batch_part,
                anchored.anchor_part(),
                {},
            )
        return Receipt(ReceiptStatus.SEALED, document, proof, batch_part, None, {})

    def log_proof(self, leaf_index: int, checkpoint: Checkpoint, leaf_hash: bytes) -> ProofPart:
        """The inclusion proof of log leaf ``leaf_index`` in ``checkpoint``.

        Read from O(log n) stored tiles, then checked: the proof from the
        document's own leaf hash must lead to the checkpoint's root.
        """
        tree_size = checkpoint.tree_size
        with self.store.log_nodes() as node:
            path = merkle.log_inclusion_proof(leaf_index, tree_size, node)
        root = root_from_inclusion_proof(leaf_hash, leaf_index, tree_size, path)
        if root != checkpoint.root:
            raise VerificationError(
                f"batch {checkpoint.batch_id}: the log's stored leaves no longer give its root "
                f"{checkpoint.root.hex()}; the database was altered (run docanchor audit)"
            )
        return ProofPart(leaf_index, tree_size, tuple(path))

    def receipt_json(self, view: DocumentView) -> dict[str, Any]:
        data = self.receipt(view).to_json()
        return self.signer.sign(data) if self.signer is not None else data

    def pending_receipts_json(self, documents: Sequence[DocumentRow]) -> list[dict[str, Any]]:
        """``receipt_json(DocumentView(d, None))`` of each document, made in bulk.

        A pending receipt has one shape: only its hex members and its metadata vary,
        so its RFC 8785 signing payload is written from the metadata's canonical text
        (made once per distinct metadata) and the hex members, instead of being
        canonicalised document by document. The receipts of documents with the same
        metadata share one metadata object: encode them, do not change them.
        Documents whose stored metadata is not an object take the ordinary path.
        """
        signer = self.signer
        shared: dict[str, tuple[dict[str, Any], bytes] | None] = {}
        out: list[dict[str, Any]] = []
        for doc in documents:
            known = shared.get(doc.metadata_json, ...)
            if known is ...:
                metadata = json.loads(doc.metadata_json)
                known = (metadata, rfc8785.dumps(metadata)) if isinstance(metadata, dict) else None
                shared[doc.metadata_json] = known
            if known is None:
                out.append(self.receipt_json(DocumentView(doc, None)))
                continue
            metadata, canonical = known
            data: dict[str, Any] = {
                "version": RECEIPT_VERSION,
                "status": DocumentStatus.PENDING,
                "document": {
                    "sha256": doc.sha256,
                    "salt": doc.salt,
                    "metadata_sha256": doc.metadata_sha256,
                    "metadata": metadata,
                },
                "proof": None,
                "batch": None,
                "anchor": None,
            }
            if signer is None:
                out.append(data)
                continue
            # RFC 8785: members sorted by name; hex text needs no escaping.
            payload = (
                b'{"anchor":null,"batch":null,"document":{"metadata":'
                + canonical
                + b',"metadata_sha256":"'
                + doc.metadata_sha256.encode("ascii")
                + b'","salt":"'
                + doc.salt.encode("ascii")
                + b'","sha256":"'
                + doc.sha256.encode("ascii")
                + b'"},"proof":null,"status":"pending","version":"'
                + RECEIPT_VERSION.encode("ascii")
                + b'"}'
            )
            out.append(signer.sign_payload(data, payload))
        return out

    def stamp(self, pdf: bytes, *, public_url: str) -> bytes:
        """``pdf`` followed by an incremental update that carries its receipt and a QR code.

        A file that is not a usable PDF is refused first (``PdfError``). The
        document must be registered (``NotFoundError``) and anchored
        (``NotAnchoredError`` while it is pending or sealed). The receipt is
        the newest anchored registration's, signed, as ``receipt_json`` gives
        it; the QR code opens ``{public_url}/?sha256=<hex>``.
        """
        from docanchor.pdf.stamp import open_pdf, stamp_pdf, verify_url_for

        opened = open_pdf(pdf)  # a file that cannot be stamped is refused before the look-up
        digest = opened.sha256
        views = self.lookup(digest)
        if not views:
            raise not_found(digest)
        anchored = [
            v for v in views if v.status in (DocumentStatus.ANCHORED, DocumentStatus.CONFIRMED)
        ]
        if not anchored:
            raise NotAnchoredError(
                f"the document {digest.hex()} is {self.best_status(views)}, not anchored yet; "
                "it can be stamped once its batch is anchored"
            )
        receipt = receipt_bytes(self.receipt_json(anchored[-1]))
        return stamp_pdf(pdf, receipt, verify_url=verify_url_for(public_url, digest), opened=opened)


def verify_receipt_on_chain(
    receipt: Receipt,
    reader: ChainReader,
    *,
    document_sha256: bytes | None,
    required_confirmations: int,
    trust: TrustPolicy,
    receipt_json: Mapping[str, Any] | None = None,
) -> ReceiptVerification:
    """Fetch what spec section 6 needs from the node, then check it with the pure core.

    Every way of verifying a receipt (a receipt file, a document looked up in
    the database, a request to the API) goes through here, so the trust
    check of step 5 cannot be left out: for a deployment ``trust`` does not
    hold, the node is not asked anything. ``receipt_json`` is the JSON object
    the receipt was parsed from, for the signature check.
    """
    record: OnChainRecord | None = None
    block_hash: str | None = None
    head = 0
    node_chain_id: int | None = None
    anchor = receipt.anchor
    if anchor is not None and receipt.batch is not None and trust.trusts(receipt):
        node_chain_id = reader.chain_id
        if node_chain_id == anchor.chain_id:
            record = reader.get_anchor_at(anchor.contract, receipt.batch.root)
            block_hash = reader.block_hash(anchor.block_number)
            head = reader.head_number()
    return evaluate_receipt(
        receipt,
        document_sha256=document_sha256,
        node_chain_id=node_chain_id,
        record=record,
        block_hash=block_hash,
        head_number=head,
        required_confirmations=required_confirmations,
        trust=trust,
        receipt_json=receipt_json,
    )


def receipt_verdict(
    result: ReceiptVerification, receipt: Receipt, *, node_chain_id: int, trust: TrustPolicy
) -> str:
    """The verdict on a checked receipt, in the words every edge uses.

    ``valid``; ``not_yet_confirmed`` when the document and metadata match and
    only what time brings is missing (the anchor of a pending or sealed
    receipt, or confirmations); ``cannot_check`` when every check that could
    run passed but the node is on another chain than the receipt's trusted
    anchor, so its record could not be read (nothing failed: it was not
    checked); else ``not_valid``.
    """
    if result.valid:
        return "valid"
    failed = {c.step for c in result.checks if not c.ok}
    if receipt.anchor is None:
        return "not_valid" if failed & {STEP_DOCUMENT, STEP_METADATA} else "not_yet_confirmed"
    if (
        receipt.anchor.chain_id != node_chain_id
        and trust.trusts(receipt)
        and failed == {STEP_CHAIN_RECORD}
    ):
        return "cannot_check"
    return "not_yet_confirmed" if failed == {STEP_CONFIRMATIONS} else "not_valid"


def receipt_bytes(receipt_json: Mapping[str, Any]) -> bytes:
    """A receipt as the service writes it to a file: indented UTF-8 JSON and a final newline."""
    return (json.dumps(receipt_json, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

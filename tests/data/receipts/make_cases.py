"""Write the golden receipts of tests/data/receipts/ (run by hand; see README.md there).

    .venv/bin/python tests/data/receipts/make_cases.py [OUT_DIR]

Deterministic: fixed documents, salts derived from fixed labels, an Ed25519
key from a fixed seed (Ed25519 signatures are deterministic), fixed anchor
values. The receipts are built with docanchor's own hashing, tree and
receipt model and written as the CLI writes receipt files; the broken ones
are the valid ones with one named edit. The expected verdicts below are
written by hand from docs/receipt-v1.md: nothing here runs the verifier.
Running it again writes the same bytes (tests/unit/test_golden_receipts.py
checks that).
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from docanchor import hashing
from docanchor.merkle import MerkleTree
from docanchor.receipt import (
    AnchorPart,
    BatchPart,
    DocumentPart,
    ProofPart,
    Receipt,
    ReceiptStatus,
)
from docanchor.signing import ReceiptSigner

HERE = Path(__file__).resolve().parent
FORMAT = "docanchor-golden-receipt-case/1"

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # Anvil's first deployment
OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"  # Anvil's second deployment
ANCHORER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # Anvil's first account
ZERO_ADDRESS = "0x" + "0" * 40
SEQ = 1
TREE_SIZE = 5
BLOCK_NUMBER = 12
TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z
TX_HASH = "0x" + hashlib.sha256(b"docanchor golden tx").hexdigest()
BLOCK_HASH = "0x" + hashlib.sha256(b"docanchor golden block 12").hexdigest()
OTHER_BLOCK_HASH = "0x" + hashlib.sha256(b"docanchor golden block 12, reorganised").hexdigest()
REQUIRED = 6
HEAD = BLOCK_NUMBER + REQUIRED - 1  # exactly the 6 confirmations required

SIGNING_SEED = hashlib.sha256(b"docanchor golden signing key").digest()
OTHER_SIGNING_SEED = hashlib.sha256(b"docanchor golden other signing key").digest()

# The documents whose files are shipped (documents/), by file name.
PURCHASE_ORDER = b"Orden de compra OC-2026-000042\nEntidad: 20131370998\nTotal: S/ 18 500,00\n"
PURCHASE_ORDER_ALTERED = PURCHASE_ORDER.replace(b"18 500", b"81 500")
INVOICE = b"Factura F001-00001234\nProveedor: 20601234567\n"
CONTRACT_DOC = b"Contrato N.o 017-2026\nAdenda 1\n"
DOCUMENTS = {
    "purchase-order.txt": PURCHASE_ORDER,
    "purchase-order-altered.txt": PURCHASE_ORDER_ALTERED,
    "invoice.txt": INVOICE,
    "contract.txt": CONTRACT_DOC,
}
METADATA = {
    "entity_ruc": "20131370998",
    "reference": "OC-2026-000042",
    "type": "purchase_order",
    "supplier_ruc": "20601234567",
    "description": "Adquisición de equipos de cómputo",
    "items": 3,
    "urgent": False,
}


def salt(label: str) -> bytes:
    return hashlib.sha256(b"docanchor golden salt " + label.encode()).digest()


# The log at its checkpoint of size 5: leaf 2 is the purchase order (with
# metadata), leaf 4 the invoice (without); the others are filler documents.
LEAVES: list[tuple[bytes, bytes, dict[str, Any] | None]] = [
    (b"golden filler 0\n", salt("leaf 0"), {"reference": "OS-2026-000001"}),
    (b"golden filler 1\n", salt("leaf 1"), None),
    (PURCHASE_ORDER, salt("leaf 2"), METADATA),
    (b"golden filler 3\n", salt("leaf 3"), {"reference": "OS-2026-000003"}),
    (INVOICE, salt("leaf 4"), None),
]


def leaf_parts(index: int) -> DocumentPart:
    data, leaf_salt, metadata = LEAVES[index]
    return DocumentPart(
        sha256=hashing.sha256(data),
        salt=leaf_salt,
        metadata_sha256=hashing.metadata_digest(metadata),
        metadata=None if metadata is None else copy.deepcopy(metadata),
    )


TREE = MerkleTree(
    [
        hashing.document_leaf_hash(d.salt, d.sha256, d.metadata_sha256)
        for d in map(leaf_parts, range(TREE_SIZE))
    ]
)
ANCHOR = AnchorPart(
    chain_id=CHAIN_ID,
    contract=CONTRACT,
    seq=SEQ,
    tx_hash=TX_HASH,
    block_number=BLOCK_NUMBER,
    block_hash=BLOCK_HASH,
    timestamp=TIMESTAMP,
)


def receipt_json(index: int, status: ReceiptStatus) -> dict[str, Any]:
    """The receipt of log leaf ``index`` at ``status``, as docanchor emits it."""
    anchored = status in (ReceiptStatus.ANCHORED, ReceiptStatus.CONFIRMED)
    receipt = Receipt(
        status=status,
        document=leaf_parts(index),
        proof=ProofPart(index, TREE_SIZE, tuple(TREE.inclusion_proof(index))),
        batch=BatchPart(id=2, root=TREE.root),
        anchor=ANCHOR if anchored else None,
    )
    return receipt.to_json()


def pending_json() -> dict[str, Any]:
    """The contract, registered after the checkpoint: not yet in a sealed tree."""
    document = DocumentPart(
        sha256=hashing.sha256(CONTRACT_DOC),
        salt=salt("pending"),
        metadata_sha256=hashing.metadata_digest(None),
    )
    return Receipt(status=ReceiptStatus.PENDING, document=document).to_json()


def receipt_text(data: dict[str, Any]) -> str:
    """The text of a receipt file, as ``docanchor receipt -o`` writes it."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def edited(text: str, old: str, new: str) -> str:
    """``text`` with its one occurrence of ``old`` replaced by ``new``."""
    if text.count(old) != 1:
        raise SystemExit(f"make_cases: {old!r} occurs {text.count(old)} times, not once")
    return text.replace(old, new)


def flip_hex(value: str) -> str:
    """A hex value with its last digit changed."""
    return value[:-1] + ("0" if value[-1] != "0" else "1")


SIGNER = ReceiptSigner(Ed25519PrivateKey.from_private_bytes(SIGNING_SEED))
OTHER_SIGNER = ReceiptSigner(Ed25519PrivateKey.from_private_bytes(OTHER_SIGNING_SEED))

# --- verdicts ------------------------------------------------------------------


def ok(phrase: str) -> dict[str, str]:
    return {"outcome": "ok", "detail": phrase}


def failed(phrase: str) -> dict[str, str]:
    return {"outcome": "failed", "detail": phrase}


def skipped(phrase: str) -> dict[str, str]:
    return {"outcome": "skipped", "detail": phrase}


PO_SHA = hashing.sha256(PURCHASE_ORDER).hex()
EMPTY_METADATA_SHA = hashing.metadata_digest(None).hex()
WHERE = f"on chain {CHAIN_ID} at {CONTRACT}"


def all_ok(**changes: dict[str, str]) -> dict[str, dict[str, str]]:
    """The verdicts of the valid confirmed purchase-order receipt, with ``changes`` (s1=...)."""
    steps = {
        "1": ok(f"the document matches this receipt (SHA-256 {PO_SHA})"),
        "2": ok("the metadata matches its digest"),
        "4": ok(f"the document is leaf 2 of 5 in the tree with root {TREE.root.hex()}"),
        "5": ok(f"the root is anchored {WHERE} as number {SEQ}, in block {BLOCK_NUMBER}"),
        "6": ok(f"block {BLOCK_NUMBER} has hash {BLOCK_HASH}"),
        "7": ok(f"the anchor has {REQUIRED} confirmations ({REQUIRED} required)"),
        "8": skipped("the receipt carries no service signature"),
    }
    for key, value in changes.items():
        steps[key.removeprefix("s")] = value
    return steps


def node(**changes: Any) -> dict[str, Any]:
    """What an honest node of chain 31337 answers, ``HEAD`` being its latest block."""
    facts: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "anchor_record": {
            "seq": SEQ,
            "tree_size": TREE_SIZE,
            "timestamp": TIMESTAMP,
            "block_number": BLOCK_NUMBER,
            "anchorer": ANCHORER,
        },
        "block_hash": BLOCK_HASH,
        "head_number": HEAD,
    }
    for key, value in changes.items():
        if key in facts:
            facts[key] = value
        else:
            facts["anchor_record"][key] = value
    return facts


UNKNOWN_RECORD = {
    "seq": 0,
    "tree_size": 0,
    "timestamp": 0,
    "block_number": 0,
    "anchorer": ZERO_ADDRESS,
}


def trust(*, keys: tuple[bytes, ...] = (), required: int = REQUIRED) -> dict[str, Any]:
    return {
        "deployments": [{"chain_id": CHAIN_ID, "contract": CONTRACT}],
        "signing_keys": [key.hex() for key in keys],
        "required_confirmations": required,
    }


# --- the cases -----------------------------------------------------------------

Case = dict[str, Any]


def cases() -> dict[str, tuple[str | bytes, Case]]:
    """Case name -> (receipt text, case without its ``receipt`` member)."""
    confirmed = receipt_json(2, ReceiptStatus.CONFIRMED)
    confirmed_text = receipt_text(confirmed)
    sealed_text = receipt_text(receipt_json(2, ReceiptStatus.SEALED))
    signed = SIGNER.sign(confirmed)
    signed_text = receipt_text(signed)
    altered_after_signing = copy.deepcopy(signed)
    altered_after_signing["batch"]["id"] = 3
    root = TREE.root.hex()
    path = [element.hex() for element in TREE.inclusion_proof(2)]
    po = {"file": "documents/purchase-order.txt"}
    no_anchor = "not checked: the receipt has no anchor yet"

    out: dict[str, tuple[str | bytes, Case]] = {}

    def add(
        name: str, description: str, text: str | bytes, expect: dict[str, Any], **rest: Any
    ) -> None:
        case: Case = {
            "format": FORMAT,
            "description": description,
            "document": rest.pop("document", po),
            "node": rest.pop("node", node()),
            "trust": rest.pop("trust", trust()),
            "expect": expect,
        }
        if rest:
            raise SystemExit(f"make_cases: unknown case members {sorted(rest)}")
        out[name] = (text, case)

    def verdict(valid: bool, confirmations: int, steps: dict[str, Any]) -> dict[str, Any]:
        return {"valid": valid, "confirmations": confirmations, "steps": steps}

    def parse_error(*words: str) -> dict[str, Any]:
        return {"parse_error": list(words)}

    # Valid receipts.
    add(
        "valid-pending",
        "A pending receipt (the contract, registered after the checkpoint), unaltered: "
        "well formed, but there is no proof yet, so it cannot be valid on chain.",
        receipt_text(pending_json()),
        verdict(
            False,
            0,
            {
                "1": ok("the document matches this receipt"),
                "2": skipped("the receipt carries no metadata"),
                "4": failed("this receipt is pending"),
                "5": failed("this receipt is pending: its batch root is not anchored yet"),
                "6": skipped(no_anchor),
                "7": skipped(no_anchor),
                "8": skipped("the receipt carries no service signature"),
            },
        ),
        document={"file": "documents/contract.txt"},
    )
    add(
        "valid-sealed",
        "A sealed receipt of the purchase order, unaltered: steps 1 to 4 pass, "
        "the root is not anchored yet.",
        sealed_text,
        verdict(
            False,
            0,
            all_ok(
                s5=failed("this receipt is sealed: its batch root is not anchored yet"),
                s6=skipped(no_anchor),
                s7=skipped(no_anchor),
            ),
        ),
    )
    add(
        "valid-anchored",
        "An anchored receipt of the purchase order; the node's head is the anchoring "
        "block itself and the verifier requires 1 confirmation.",
        receipt_text(receipt_json(2, ReceiptStatus.ANCHORED)),
        verdict(True, 1, all_ok(s7=ok("the anchor has 1 confirmation (1 required)"))),
        node=node(head_number=BLOCK_NUMBER),
        trust=trust(required=1),
    )
    add(
        "valid-confirmed",
        "A confirmed receipt of the purchase order, with metadata (non-ASCII text, "
        "an integer, a boolean), leaf 2 of 5, exactly the 6 confirmations required.",
        confirmed_text,
        verdict(True, REQUIRED, all_ok()),
    )
    add(
        "valid-confirmed-no-metadata",
        "A confirmed receipt of the invoice, without metadata (metadata_sha256 is the "
        "digest of {}), leaf 4 of 5 (a one-hash path).",
        receipt_text(receipt_json(4, ReceiptStatus.CONFIRMED)),
        verdict(
            True,
            REQUIRED,
            all_ok(
                s1=ok("the document matches this receipt"),
                s2=skipped("the receipt carries no metadata"),
                s4=ok(f"the document is leaf 4 of 5 in the tree with root {root}"),
            ),
        ),
        document={"file": "documents/invoice.txt"},
    )
    add(
        "valid-confirmed-no-document",
        "The valid confirmed receipt checked without the document: step 1 is skipped.",
        confirmed_text,
        verdict(
            True, REQUIRED, all_ok(s1=skipped("no document given; only the receipt was checked"))
        ),
        document=None,
    )
    add(
        "valid-unknown-members",
        "The valid confirmed receipt with members this version does not define, at the top "
        "level and inside anchor: kept, not errors, and not part of any step.",
        receipt_text(
            {
                **{k: v for k, v in confirmed.items() if k != "anchor"},
                "anchor": {**confirmed["anchor"], "x_explorer": "https://example.invalid/tx"},
                "x_note": "issued by the test vectors",
            }
        ),
        verdict(True, REQUIRED, all_ok()),
    )
    add(
        "valid-confirmed-more-confirmations",
        "The valid confirmed receipt, 20 blocks after its anchor.",
        confirmed_text,
        verdict(True, 21, all_ok(s7=ok("the anchor has 21 confirmations (6 required)"))),
        node=node(head_number=BLOCK_NUMBER + 20),
    )
    add(
        "valid-signed",
        "The valid confirmed receipt signed with the service key (Ed25519 from a fixed "
        "seed), checked by a verifier that trusts that key.",
        signed_text,
        verdict(True, REQUIRED, all_ok(s8=ok(f"signed by the service key {SIGNER.key_id}"))),
        trust=trust(keys=(SIGNER.public_raw,)),
    )
    add(
        "valid-signed-no-key",
        "The signed receipt, checked by a verifier that knows no signing key.",
        signed_text,
        verdict(True, REQUIRED, all_ok(s8=skipped("signature not checked"))),
    )

    # Broken receipts: a valid one with one edit (receipt, document, node or trust).
    add(
        "broken-altered-document",
        "The valid confirmed receipt against a document with one digit changed.",
        confirmed_text,
        verdict(False, REQUIRED, all_ok(s1=failed("the document does not match this receipt"))),
        document={"file": "documents/purchase-order-altered.txt"},
    )
    add(
        "broken-altered-document-sha256",
        "The valid confirmed receipt against a document given by its SHA-256 (of other bytes).",
        confirmed_text,
        verdict(False, REQUIRED, all_ok(s1=failed("the document does not match this receipt"))),
        document={"sha256": hashing.sha256(PURCHASE_ORDER_ALTERED).hex()},
    )
    add(
        "broken-altered-metadata",
        "metadata.reference changed, metadata_sha256 left as it was: step 2 fails, the "
        "leaf (made from metadata_sha256) still proves.",
        edited(confirmed_text, '"OC-2026-000042"', '"OC-2026-000043"'),
        verdict(False, REQUIRED, all_ok(s2=failed("the metadata in this receipt was altered"))),
    )
    add(
        "broken-altered-salt",
        "document.salt with its last hex digit changed.",
        edited(confirmed_text, salt("leaf 2").hex(), flip_hex(salt("leaf 2").hex())),
        verdict(
            False,
            REQUIRED,
            all_ok(s4=failed(f"the receipt's proof does not lead to batch root {root}")),
        ),
    )
    add(
        "broken-altered-path-element",
        "proof.path[1] with its last hex digit changed.",
        edited(confirmed_text, path[1], flip_hex(path[1])),
        verdict(
            False,
            REQUIRED,
            all_ok(s4=failed(f"the receipt's proof does not lead to batch root {root}")),
        ),
    )
    add(
        "broken-wrong-leaf-index",
        "proof.leaf_index 3 instead of 2 (the path length of leaf 3 of 5 is the same).",
        edited(confirmed_text, '"leaf_index": 2', '"leaf_index": 3'),
        verdict(
            False,
            REQUIRED,
            all_ok(s4=failed(f"the receipt's proof does not lead to batch root {root}")),
        ),
    )
    add(
        "broken-wrong-tree-size",
        "proof.tree_size 6 instead of 5. RFC 9162 folds the path of leaf 2 the same way "
        "in trees of 5 to 8 leaves, so the proof still leads to batch.root: an inclusion "
        "proof does not bind the tree size, step 5 does (the contract recorded 5).",
        edited(confirmed_text, '"tree_size": 5', '"tree_size": 6'),
        verdict(
            False,
            REQUIRED,
            all_ok(
                s4=ok(f"the document is leaf 2 of 6 in the tree with root {root}"),
                s5=failed("the tree size is 5 on chain but 6 in the receipt"),
            ),
        ),
    )
    add(
        "broken-wrong-root",
        "batch.root with its last hex digit changed; the contract does not know that "
        "root (getAnchor returns the all-zero record).",
        edited(confirmed_text, f'"root": "{root}"', f'"root": "{flip_hex(root)}"'),
        verdict(
            False,
            REQUIRED,
            all_ok(
                s4=failed(f"the receipt's proof does not lead to batch root {flip_hex(root)}"),
                s5=failed(f"this root is not anchored {WHERE}"),
            ),
        ),
        node=node(anchor_record=UNKNOWN_RECORD),
    )
    add(
        "broken-untrusted-contract",
        "anchor.contract replaced by another deployment of the same contract, which the "
        "verifier does not trust: the node is not consulted, steps 6 and 7 are skipped.",
        edited(confirmed_text, CONTRACT, OTHER_CONTRACT),
        verdict(
            False,
            0,
            all_ok(
                s5=failed(
                    f"anchored in {OTHER_CONTRACT} on chain {CHAIN_ID}, which is not a "
                    "docanchor deployment this verifier trusts"
                ),
                s6=skipped("not checked: the receipt's contract is not a trusted deployment"),
                s7=skipped("not checked: the receipt's contract is not a trusted deployment"),
            ),
        ),
    )
    add(
        "broken-node-other-chain",
        "The valid confirmed receipt checked with a node of chain 1 (no record is read).",
        confirmed_text,
        verdict(
            False,
            0,
            all_ok(
                s5=failed(f"this receipt belongs to chain {CHAIN_ID}; the node is on chain 1"),
                s6=skipped(f"not checked: the node is on chain 1, not {CHAIN_ID}"),
                s7=skipped(f"not checked: the node is on chain 1, not {CHAIN_ID}"),
            ),
        ),
        node=node(chain_id=1, anchor_record=None, block_hash=None, head_number=30),
    )
    add(
        "broken-unknown-root",
        "The valid confirmed receipt; the contract does not know its root (all-zero record).",
        confirmed_text,
        verdict(False, REQUIRED, all_ok(s5=failed(f"this root is not anchored {WHERE}"))),
        node=node(anchor_record=UNKNOWN_RECORD),
    )
    add(
        "broken-no-record-read",
        "The valid confirmed receipt; no getAnchor record could be read (null).",
        confirmed_text,
        verdict(False, REQUIRED, all_ok(s5=failed(f"no anchor record could be read {WHERE}"))),
        node=node(anchor_record=None),
    )
    for member, value, words in (
        ("tree_size", 6, "the tree size is 6 on chain but 5 in the receipt"),
        ("block_number", 13, "the block number is 13 on chain but 12 in the receipt"),
        ("timestamp", TIMESTAMP + 1, f"the timestamp is {TIMESTAMP + 1} on chain but {TIMESTAMP}"),
        ("seq", 2, "the sequence number is 2 on chain but 1 in the receipt"),
    ):
        add(
            f"broken-record-{member.replace('_', '-')}",
            f"The valid confirmed receipt; the on-chain record's {member} is {value}.",
            confirmed_text,
            verdict(False, REQUIRED, all_ok(s5=failed(words))),
            node=node(**{member: value}),
        )
    add(
        "broken-reorganised-block",
        "The valid confirmed receipt; the node's block 12 has another hash.",
        confirmed_text,
        verdict(
            False,
            0,
            all_ok(
                s6=failed("the chain was reorganised or reset since anchoring"),
                # An anchor whose block left the chain has no confirmations.
                s7=skipped(f"block {BLOCK_NUMBER} of the anchor is not on the node's chain"),
            ),
        ),
        node=node(block_hash=OTHER_BLOCK_HASH),
    )
    add(
        "broken-missing-block",
        "The valid confirmed receipt; the node has no block 12 (its head is block 10).",
        confirmed_text,
        verdict(
            False,
            0,
            all_ok(
                s6=failed(f"chain {CHAIN_ID} has no block {BLOCK_NUMBER}"),
                s7=skipped(f"block {BLOCK_NUMBER} of the anchor is not on the node's chain"),
            ),
        ),
        node=node(block_hash=None, head_number=10),
    )
    add(
        "broken-too-few-confirmations",
        "The valid confirmed receipt, 3 blocks deep for a verifier that requires 6: its "
        "status does not override the verifier's threshold.",
        confirmed_text,
        verdict(
            False,
            3,
            all_ok(s7=failed("the anchor has 3 of the 6 confirmations required")),
        ),
        node=node(head_number=BLOCK_NUMBER + 2),
    )
    add(
        "broken-bad-signature",
        "The signed receipt with batch.id (informational) changed after signing.",
        receipt_text(altered_after_signing),
        verdict(
            False,
            REQUIRED,
            all_ok(
                s8=failed("the receipt was altered after it was signed, or the signature is forged")
            ),
        ),
        trust=trust(keys=(SIGNER.public_raw,)),
    )
    add(
        "broken-unknown-signing-key",
        "The signed receipt, checked by a verifier that trusts another key only.",
        signed_text,
        verdict(
            False,
            REQUIRED,
            all_ok(
                s8=failed(
                    f"the receipt is signed by key '{SIGNER.key_id}', which is not a receipt "
                    "signing key this verifier trusts"
                )
            ),
        ),
        trust=trust(keys=(OTHER_SIGNER.public_raw,)),
    )

    # Malformed receipts: the strict parser refuses them before any step.
    deep = '{"a": ' * 61 + "{}" + "}" * 61  # metadata is level 3: 3 + 62 = 65
    malformed: list[tuple[str, str, str | bytes, tuple[str, ...]]] = [
        (
            "proof-too-short",
            "proof.path without its last element.",
            edited(confirmed_text, f',\n      "{path[2]}"', ""),
            ("proof.path has 2 hashes", "needs exactly 3"),
        ),
        (
            "proof-too-long",
            "proof.path with one element too many.",
            edited(confirmed_text, f'"{path[2]}"', f'"{path[2]}",\n      "{path[0]}"'),
            ("proof.path has 4 hashes", "needs exactly 3"),
        ),
        (
            "duplicate-member",
            "The member status twice in the top-level object (a lenient parser keeps the last).",
            edited(
                confirmed_text,
                '"status": "confirmed",',
                '"status": "sealed",\n  "status": "confirmed",',
            ),
            ("not acceptable JSON", "'status' appears twice"),
        ),
        (
            "float",
            "proof.tree_size written 5.0.",
            edited(confirmed_text, '"tree_size": 5', '"tree_size": 5.0'),
            ("not acceptable JSON", "5.0 has a fraction or exponent"),
        ),
        (
            "exponent",
            "anchor.block_number written 1.2e1.",
            edited(confirmed_text, '"block_number": 12', '"block_number": 1.2e1'),
            ("not acceptable JSON", "1.2e1 has a fraction or exponent"),
        ),
        (
            "nan",
            "anchor.timestamp written NaN.",
            edited(confirmed_text, f'"timestamp": {TIMESTAMP}', '"timestamp": NaN'),
            ("not acceptable JSON", "NaN is not JSON"),
        ),
        (
            "depth-65",
            "Metadata nested so that the receipt is 65 levels deep (the limit is 64).",
            edited(confirmed_text, '"urgent": false', f'"urgent": false,\n      "deep": {deep}'),
            ("nested 65 levels deep", "at most 64"),
        ),
        (
            "null-metadata",
            "document.metadata written null (a receipt without metadata leaves it out).",
            edited(
                receipt_text(receipt_json(4, ReceiptStatus.CONFIRMED)),
                f'"metadata_sha256": "{EMPTY_METADATA_SHA}"',
                f'"metadata_sha256": "{EMPTY_METADATA_SHA}",\n    "metadata": null',
            ),
            ("document.metadata is null",),
        ),
        (
            "uppercase-hex",
            "document.salt in uppercase hex.",
            edited(confirmed_text, salt("leaf 2").hex(), salt("leaf 2").hex().upper()),
            ("document.salt", "64 lowercase hex characters without 0x"),
        ),
        (
            "0x-hex64",
            "batch.root written with a 0x prefix.",
            edited(confirmed_text, f'"root": "{root}"', f'"root": "0x{root}"'),
            ("batch.root", "64 lowercase hex characters without 0x"),
        ),
        (
            "status-parts-mismatch",
            "status confirmed on a sealed receipt (anchor null).",
            edited(sealed_text, '"status": "sealed"', '"status": "confirmed"'),
            ("confirmed receipt must have member anchor set",),
        ),
        (
            "status-parts-mismatch-pending",
            "status pending on a confirmed receipt (proof, batch and anchor set).",
            edited(confirmed_text, '"status": "confirmed"', '"status": "pending"'),
            ("pending receipt must have member proof null",),
        ),
        (
            "missing-member",
            "The member proof left out of a sealed receipt.",
            _drop_member(sealed_text, "proof"),
            ("receipt member proof is missing",),
        ),
        (
            "wrong-version",
            "version docanchor-receipt/2.",
            edited(confirmed_text, "docanchor-receipt/1", "docanchor-receipt/2"),
            ("receipt member version must be 'docanchor-receipt/1'",),
        ),
        (
            "leaf-index-not-below-tree-size",
            "proof.leaf_index 5 in a tree of size 5.",
            edited(confirmed_text, '"leaf_index": 2', '"leaf_index": 5'),
            ("proof.leaf_index (5) must be below proof.tree_size (5)",),
        ),
        (
            "boolean-integer",
            "anchor.seq written true.",
            edited(confirmed_text, '"seq": 1', '"seq": true'),
            ("anchor.seq must be an integer, got a boolean",),
        ),
        (
            "string-integer",
            'anchor.seq written "1".',
            edited(confirmed_text, '"seq": 1', '"seq": "1"'),
            ("anchor.seq must be an integer, got a string",),
        ),
        (
            "negative-integer",
            "anchor.block_number written -12.",
            edited(confirmed_text, '"block_number": 12', '"block_number": -12'),
            ("anchor.block_number must be at least 0",),
        ),
        (
            "chain-id-zero",
            "anchor.chain_id 0.",
            edited(confirmed_text, f'"chain_id": {CHAIN_ID}', '"chain_id": 0'),
            ("anchor.chain_id must be at least 1",),
        ),
        (
            "short-address",
            "anchor.contract one hex digit short.",
            edited(confirmed_text, CONTRACT, CONTRACT[:-1]),
            ("anchor.contract must be an address",),
        ),
        (
            "not-an-object",
            "A JSON array holding the receipt.",
            "[\n" + confirmed_text + "]\n",
            ("must be an object",),
        ),
        (
            "not-utf8",
            "The metadata's 'ó' written as the Latin-1 byte 0xf3.",
            confirmed_text.encode("utf-8").replace("ó".encode(), b"\xf3", 1),
            ("the receipt is not UTF-8 text",),
        ),
        (
            "metadata-not-object",
            "document.metadata written as an array.",
            edited(
                receipt_text(receipt_json(4, ReceiptStatus.CONFIRMED)),
                f'"metadata_sha256": "{EMPTY_METADATA_SHA}"',
                f'"metadata_sha256": "{EMPTY_METADATA_SHA}",\n    "metadata": []',
            ),
            ("document.metadata must be an object, got an array",),
        ),
        (
            "float-metadata",
            "A floating-point number in the metadata.",
            edited(confirmed_text, '"items": 3', '"items": 3.5'),
            ("not acceptable JSON", "3.5 has a fraction or exponent"),
        ),
    ]
    for name, description, text, phrases in malformed:
        add(f"malformed-{name}", description, text, parse_error(*phrases))
    return out


def _drop_member(text: str, member: str) -> str:
    data = json.loads(text)
    del data[member]
    return receipt_text(data)


def write(out_dir: Path) -> list[Path]:
    """Write every case, receipt and document under ``out_dir``; the paths written."""
    written: list[Path] = []

    def put(relative: str, data: bytes) -> None:
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)

    for name, data in DOCUMENTS.items():
        put(f"documents/{name}", data)
    keys = {
        "signing_key": {
            "seed_hex": SIGNING_SEED.hex(),
            "public_key_hex": SIGNER.public_raw.hex(),
            "key_id": SIGNER.key_id,
        },
        "other_signing_key": {
            "seed_hex": OTHER_SIGNING_SEED.hex(),
            "public_key_hex": OTHER_SIGNER.public_raw.hex(),
            "key_id": OTHER_SIGNER.key_id,
        },
    }
    put("keys.json", (json.dumps(keys, indent=2) + "\n").encode())
    for name, (text, case) in cases().items():
        receipt = f"receipts/{name}.json"
        put(receipt, text if isinstance(text, bytes) else text.encode("utf-8"))
        ordered = {"format": case["format"], "description": case["description"], "receipt": receipt}
        ordered.update((k, v) for k, v in case.items() if k not in ordered)
        put(
            f"cases/{name}.json",
            (json.dumps(ordered, indent=2, ensure_ascii=False) + "\n").encode(),
        )
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else HERE
    paths = write(out_dir)
    print(f"wrote {len(paths)} files under {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

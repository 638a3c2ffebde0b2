"""Parsing and emitting docanchor-receipt/1 (spec sections 1, 3 and 5).

Valid receipts are built from a real three-leaf RFC 9162 tree assembled by
hand with ``hashing.node_hash``; every mutation of them that the spec forbids
must raise ReceiptFormatError naming the member.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from docanchor import hashing
from docanchor.errors import InputError, ReceiptFormatError
from docanchor.receipt import (
    RECEIPT_VERSION,
    AnchorPart,
    BatchPart,
    DocumentPart,
    ProofPart,
    Receipt,
    ReceiptStatus,
    inclusion_path_length,
    parse_receipt,
    parse_receipt_json,
    signing_payload,
)

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TX_HASH = "0x" + "ab" * 32
BLOCK_HASH = "0x" + "cd" * 32


def _registration(i: int) -> tuple[bytes, bytes, dict[str, Any]]:
    document = f"document number {i}\n".encode()
    salt = bytes([0x30 + i]) * 32
    metadata = {"entity_ruc": "20131370998", "reference": f"OC-2025-{i:06d}"}
    return hashing.sha256(document), salt, metadata


def _three_leaf_tree() -> tuple[list[bytes], bytes, list[list[bytes]]]:
    """Leaves, root and inclusion paths of the RFC 9162 tree of three registrations.

    MTH(d0, d1, d2) = node(node(l0, l1), l2): split at 2, the largest power of
    two below 3; the odd leaf l2 is not duplicated.
    """
    leaves = []
    for i in range(3):
        doc, salt, metadata = _registration(i)
        leaves.append(hashing.document_leaf_hash(salt, doc, hashing.metadata_digest(metadata)))
    left = hashing.node_hash(leaves[0], leaves[1])
    root = hashing.node_hash(left, leaves[2])
    paths = [[leaves[1], leaves[2]], [leaves[0], leaves[2]], [left]]
    return leaves, root, paths


def receipt_json(status: str = "anchored", index: int = 1) -> dict[str, Any]:
    """A well-formed receipt of ``status`` for leaf ``index`` of the three-leaf tree."""
    doc, salt, metadata = _registration(index)
    _, root, paths = _three_leaf_tree()
    data: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "status": status,
        "document": {
            "sha256": doc.hex(),
            "salt": salt.hex(),
            "metadata_sha256": hashing.metadata_digest(metadata).hex(),
            "metadata": metadata,
        },
        "proof": None,
        "batch": None,
        "anchor": None,
    }
    if status != "pending":
        data["proof"] = {
            "leaf_index": index,
            "tree_size": 3,
            "path": [p.hex() for p in paths[index]],
        }
        data["batch"] = {"id": 7, "root": root.hex()}
    if status in ("anchored", "confirmed"):
        data["anchor"] = {
            "chain_id": 31337,
            "contract": CONTRACT,
            "seq": 4,
            "tx_hash": TX_HASH,
            "block_number": 12,
            "block_hash": BLOCK_HASH,
            "timestamp": 1_750_000_000,
        }
    return data


STATUSES = [s.value for s in ReceiptStatus]


# --- valid receipts -----------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("index", [0, 1, 2])
def test_valid_receipt_round_trips(status: str, index: int) -> None:
    data = receipt_json(status, index)
    receipt = parse_receipt(data)
    assert receipt.status == ReceiptStatus(status)
    assert receipt.document.salt == bytes([0x30 + index]) * 32
    assert receipt.to_json() == data
    assert parse_receipt(receipt.to_json()) == receipt
    text = json.dumps(data)
    assert parse_receipt_json(text) == receipt
    assert parse_receipt_json(text.encode()) == receipt


def test_parts_follow_status() -> None:
    pending = parse_receipt(receipt_json("pending"))
    assert (pending.proof, pending.batch, pending.anchor) == (None, None, None)
    sealed = parse_receipt(receipt_json("sealed"))
    assert sealed.proof is not None and sealed.batch is not None and sealed.anchor is None
    assert sealed.proof.path == tuple(p for p in _three_leaf_tree()[2][1])
    anchored = parse_receipt(receipt_json("anchored"))
    assert anchored.anchor is not None
    assert anchored.anchor.block_number == 12
    assert anchored.batch is not None and anchored.batch.root == _three_leaf_tree()[1]


def test_emitted_form_is_exact() -> None:
    data = receipt_json("confirmed")
    emitted = parse_receipt(data).to_json()
    assert list(emitted) == ["version", "status", "document", "proof", "batch", "anchor"]
    assert list(emitted["document"]) == ["sha256", "salt", "metadata_sha256", "metadata"]
    assert list(emitted["anchor"]) == [
        "chain_id",
        "contract",
        "seq",
        "tx_hash",
        "block_number",
        "block_hash",
        "timestamp",
    ]
    assert emitted["anchor"]["contract"] == CONTRACT  # kept as given (EIP-55)


def test_metadata_absent_is_emitted_absent() -> None:
    data = receipt_json("sealed")
    del data["document"]["metadata"]
    receipt = parse_receipt(data)
    assert receipt.document.metadata is None
    assert "metadata" not in receipt.to_json()["document"]
    assert receipt.to_json() == data


def test_eth_hashes_accept_any_case_and_emit_lowercase() -> None:
    data = receipt_json("anchored")
    data["anchor"]["tx_hash"] = "0x" + "AB" * 32
    data["anchor"]["block_hash"] = "0x" + "Cd" * 32
    data["anchor"]["contract"] = CONTRACT.lower()
    receipt = parse_receipt(data)
    assert receipt.anchor is not None
    assert receipt.anchor.tx_hash == TX_HASH
    assert receipt.anchor.block_hash == BLOCK_HASH
    emitted = receipt.to_json()["anchor"]
    assert emitted["tx_hash"] == TX_HASH
    assert emitted["block_hash"] == BLOCK_HASH
    assert emitted["contract"] == CONTRACT.lower()


def test_unknown_members_are_kept_everywhere() -> None:
    data = receipt_json("anchored")
    data["signature"] = {"alg": "Ed25519", "key_id": "00" * 32, "value": "AAAA"}
    data["service"] = "https://docanchor.example"
    data["document"]["filename"] = "oc-123.pdf"
    data["proof"]["note"] = None
    data["batch"]["sealed_at"] = "2025-06-15T12:00:00Z"
    data["anchor"]["gas_used"] = 51234
    receipt = parse_receipt(data)
    assert receipt.extra == {
        "signature": data["signature"],
        "service": "https://docanchor.example",
    }
    assert receipt.document.extra == {"filename": "oc-123.pdf"}
    assert receipt.anchor is not None and receipt.anchor.extra == {"gas_used": 51234}
    assert receipt.to_json() == data
    # Parsing copies: changing the input afterwards leaves the receipt alone.
    data["signature"]["alg"] = "changed"
    data["document"]["metadata"]["reference"] = "changed"
    assert receipt.extra["signature"]["alg"] == "Ed25519"
    assert receipt.document.metadata is not None
    assert receipt.document.metadata["reference"] == "OC-2025-000001"


def test_pending_receipt_direct_construction_matches_parse() -> None:
    data = receipt_json("pending", 0)
    doc, salt, metadata = _registration(0)
    built = Receipt(
        status=ReceiptStatus.PENDING,
        document=DocumentPart(
            sha256=doc,
            salt=salt,
            metadata_sha256=hashing.metadata_digest(metadata),
            metadata=metadata,
        ),
    )
    assert built == parse_receipt(data)
    assert built.to_json() == data


def test_status_given_as_string_is_coerced() -> None:
    receipt = parse_receipt(receipt_json("pending"))
    built = Receipt(status="pending", document=receipt.document)  # type: ignore[arg-type]
    assert built.status is ReceiptStatus.PENDING


# --- malformed receipts -------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


def _upper(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        index: Any = int(last) if isinstance(target, list) else last
        upper = target[index].upper()
        assert upper != target[index], "the mutation must change the value"
        target[index] = upper

    return mutate


def _path_append(data: dict[str, Any]) -> None:
    data["proof"]["path"].append("00" * 32)


def _path_drop(data: dict[str, Any]) -> None:
    data["proof"]["path"].pop()


def _shrink_tree(data: dict[str, Any]) -> None:
    # Index 1 of a tree of size 2 needs one hash, not the two a size-3 tree needs.
    data["proof"]["tree_size"] = 2


def _grow_tree(data: dict[str, Any]) -> None:
    data["proof"]["tree_size"] = 5


# (case id, status of the valid receipt to mutate, mutation, fragment the message names)
MALFORMED: list[tuple[str, str, Mutation, str]] = [
    ("version wrong", "anchored", _set("version", "docanchor-receipt/2"), "version"),
    ("version missing", "anchored", _delete("version"), "version"),
    ("version not a string", "anchored", _set("version", 1), "version"),
    ("status unknown", "anchored", _set("status", "final"), "status"),
    ("status uppercase", "anchored", _set("status", "ANCHORED"), "status"),
    ("status missing", "anchored", _delete("status"), "status"),
    ("document missing", "anchored", _delete("document"), "document"),
    ("document a list", "anchored", _set("document", []), "document"),
    ("document null", "pending", _set("document", None), "document"),
    ("sha256 missing", "anchored", _delete("document.sha256"), "document.sha256"),
    ("sha256 uppercase", "anchored", _upper("document.sha256"), "document.sha256"),
    ("sha256 0x prefix", "anchored", _set("document.sha256", "0x" + "ab" * 32), "document.sha256"),
    ("sha256 short", "anchored", _set("document.sha256", "ab" * 31), "document.sha256"),
    ("sha256 long", "anchored", _set("document.sha256", "ab" * 33), "document.sha256"),
    ("sha256 non-hex", "anchored", _set("document.sha256", "zz" * 32), "document.sha256"),
    ("sha256 spaces", "anchored", _set("document.sha256", " " + "ab" * 32), "document.sha256"),
    ("sha256 integer", "anchored", _set("document.sha256", 5), "document.sha256"),
    ("salt uppercase", "pending", _set("document.salt", "AB" * 32), "document.salt"),
    ("salt missing", "pending", _delete("document.salt"), "document.salt"),
    ("salt base64", "pending", _set("document.salt", "ER" * 22), "document.salt"),
    (
        "metadata_sha256 missing",
        "pending",
        _delete("document.metadata_sha256"),
        "document.metadata_sha256",
    ),
    ("metadata null", "anchored", _set("document.metadata", None), "document.metadata"),
    ("metadata a list", "anchored", _set("document.metadata", [1]), "document.metadata"),
    ("metadata a string", "anchored", _set("document.metadata", "{}"), "document.metadata"),
    ("metadata float", "anchored", _set("document.metadata.amount", 1.5), "document.metadata"),
    (
        "metadata integer too big",
        "anchored",
        _set("document.metadata.amount", 2**53),
        "document.metadata",
    ),
    ("proof missing member", "sealed", _delete("proof"), "proof"),
    ("batch missing member", "sealed", _delete("batch"), "batch"),
    ("anchor missing member", "sealed", _delete("anchor"), "anchor"),
    ("proof a list", "sealed", _set("proof", []), "proof"),
    ("leaf_index missing", "sealed", _delete("proof.leaf_index"), "proof.leaf_index"),
    ("leaf_index negative", "sealed", _set("proof.leaf_index", -1), "proof.leaf_index"),
    ("leaf_index = tree_size", "sealed", _set("proof.leaf_index", 3), "proof.leaf_index"),
    ("leaf_index > tree_size", "sealed", _set("proof.leaf_index", 9), "proof.leaf_index"),
    ("leaf_index bool", "sealed", _set("proof.leaf_index", True), "proof.leaf_index"),
    ("leaf_index string", "sealed", _set("proof.leaf_index", "1"), "proof.leaf_index"),
    ("leaf_index float", "sealed", _set("proof.leaf_index", 1.0), "proof.leaf_index"),
    ("tree_size zero", "sealed", _set("proof.tree_size", 0), "proof.tree_size"),
    ("tree_size negative", "sealed", _set("proof.tree_size", -3), "proof.tree_size"),
    ("tree_size beyond uint64", "sealed", _set("proof.tree_size", 2**64), "proof.tree_size"),
    ("tree_size bool", "sealed", _set("proof.tree_size", True), "proof.tree_size"),
    ("tree_size missing", "sealed", _delete("proof.tree_size"), "proof.tree_size"),
    ("path missing", "sealed", _delete("proof.path"), "proof.path"),
    ("path an object", "sealed", _set("proof.path", {}), "proof.path"),
    ("path a string", "sealed", _set("proof.path", "00" * 32), "proof.path"),
    ("path too long", "sealed", _path_append, "proof.path"),
    ("path too short", "sealed", _path_drop, "proof.path"),
    ("path empty", "sealed", _set("proof.path", []), "proof.path"),
    ("path wrong for smaller tree", "sealed", _shrink_tree, "proof.path"),
    ("path wrong for larger tree", "sealed", _grow_tree, "proof.path"),
    ("path element uppercase", "sealed", _upper("proof.path.0"), "proof.path[0]"),
    ("path element short", "sealed", _set("proof.path.1", "ab"), "proof.path[1]"),
    ("path element null", "sealed", _set("proof.path.0", None), "proof.path[0]"),
    ("path element 0x", "sealed", _set("proof.path.0", "0x" + "00" * 32), "proof.path[0]"),
    ("batch id missing", "sealed", _delete("batch.id"), "batch.id"),
    ("batch id negative", "sealed", _set("batch.id", -1), "batch.id"),
    ("batch id string", "sealed", _set("batch.id", "7"), "batch.id"),
    ("batch id bool", "sealed", _set("batch.id", False), "batch.id"),
    ("batch root missing", "sealed", _delete("batch.root"), "batch.root"),
    ("batch root uppercase", "sealed", _upper("batch.root"), "batch.root"),
    ("batch root 0x", "sealed", _set("batch.root", "0x" + "00" * 32), "batch.root"),
    ("batch a string", "sealed", _set("batch", "7"), "batch"),
    ("chain_id zero", "anchored", _set("anchor.chain_id", 0), "anchor.chain_id"),
    ("chain_id negative", "anchored", _set("anchor.chain_id", -1), "anchor.chain_id"),
    ("chain_id beyond uint64", "anchored", _set("anchor.chain_id", 2**64), "anchor.chain_id"),
    ("chain_id string", "anchored", _set("anchor.chain_id", "31337"), "anchor.chain_id"),
    ("chain_id bool", "anchored", _set("anchor.chain_id", True), "anchor.chain_id"),
    ("chain_id missing", "anchored", _delete("anchor.chain_id"), "anchor.chain_id"),
    ("contract no 0x", "anchored", _set("anchor.contract", CONTRACT[2:]), "anchor.contract"),
    ("contract short", "anchored", _set("anchor.contract", CONTRACT[:-2]), "anchor.contract"),
    ("contract non-hex", "anchored", _set("anchor.contract", "0x" + "g" * 40), "anchor.contract"),
    ("contract missing", "anchored", _delete("anchor.contract"), "anchor.contract"),
    ("seq negative", "anchored", _set("anchor.seq", -1), "anchor.seq"),
    ("seq beyond uint64", "anchored", _set("anchor.seq", 2**64), "anchor.seq"),
    ("seq null", "anchored", _set("anchor.seq", None), "anchor.seq"),
    ("tx_hash no 0x", "anchored", _set("anchor.tx_hash", "ab" * 32), "anchor.tx_hash"),
    ("tx_hash short", "anchored", _set("anchor.tx_hash", "0x" + "ab" * 31), "anchor.tx_hash"),
    ("tx_hash 0X prefix", "anchored", _set("anchor.tx_hash", "0X" + "ab" * 32), "anchor.tx_hash"),
    ("tx_hash missing", "anchored", _delete("anchor.tx_hash"), "anchor.tx_hash"),
    ("block_number negative", "anchored", _set("anchor.block_number", -1), "anchor.block_number"),
    (
        "block_number beyond uint64",
        "anchored",
        _set("anchor.block_number", 2**64),
        "anchor.block_number",
    ),
    ("block_number string", "anchored", _set("anchor.block_number", "12"), "anchor.block_number"),
    ("block_hash non-hex", "anchored", _set("anchor.block_hash", "0x" + "x" * 64), "block_hash"),
    ("block_hash missing", "anchored", _delete("anchor.block_hash"), "anchor.block_hash"),
    ("timestamp negative", "anchored", _set("anchor.timestamp", -5), "anchor.timestamp"),
    ("timestamp beyond uint64", "anchored", _set("anchor.timestamp", 2**64), "anchor.timestamp"),
    ("timestamp string", "anchored", _set("anchor.timestamp", "2025"), "anchor.timestamp"),
    ("timestamp missing", "anchored", _delete("anchor.timestamp"), "anchor.timestamp"),
    ("anchor a list", "anchored", _set("anchor", []), "anchor"),
    # Status and parts must agree.
    ("pending with proof", "sealed", _set("status", "pending"), "proof"),
    ("sealed without proof", "sealed", _set("proof", None), "proof"),
    ("sealed without batch", "sealed", _set("batch", None), "batch"),
    ("sealed with anchor", "anchored", _set("status", "sealed"), "anchor"),
    ("anchored without anchor", "sealed", _set("status", "anchored"), "anchor"),
    ("confirmed without anchor", "anchored", _set("anchor", None), "anchor"),
    ("confirmed without proof", "confirmed", _set("proof", None), "proof"),
]


@pytest.mark.parametrize(
    ("status", "mutate", "fragment"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_receipt_is_refused(status: str, mutate: Mutation, fragment: str) -> None:
    data = receipt_json(status)
    mutate(data)
    with pytest.raises(ReceiptFormatError) as info:
        parse_receipt(data)
    assert fragment in str(info.value)
    # The same refusal through the JSON edge (where floats are refused earlier).
    with pytest.raises(ReceiptFormatError):
        parse_receipt_json(json.dumps(data))


def test_boundary_integers_are_accepted() -> None:
    data = receipt_json("anchored")
    for key in ("chain_id", "seq", "block_number", "timestamp"):
        data["anchor"][key] = 2**64 - 1
    data["anchor"]["seq"] = 0
    data["document"]["metadata"]["amount"] = 2**53 - 1
    receipt = parse_receipt(data)
    assert receipt.anchor is not None and receipt.anchor.chain_id == 2**64 - 1
    assert receipt.to_json() == data


@pytest.mark.parametrize("value", [None, [], "receipt", 3, True])
def test_receipt_must_be_an_object(value: object) -> None:
    with pytest.raises(ReceiptFormatError, match="must be an object"):
        parse_receipt(value)


# --- the JSON edge ------------------------------------------------------------


def _text(status: str = "anchored") -> str:
    return json.dumps(receipt_json(status))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[]", "must be an object"),
        ('{"version": "docanchor-receipt/1",}', "not valid JSON"),
        (_text().replace('"status"', '"version": "docanchor-receipt/1", "status"'), "twice"),
        (_text().replace('"id": 7', '"id": 7, "id": 8'), "twice"),
        (_text().replace('"seq": 4', '"seq": 4.0'), "fraction or exponent"),
        (_text().replace('"seq": 4', '"seq": 4e0'), "fraction or exponent"),
        (_text().replace('"seq": 4', '"seq": NaN'), "NaN"),
        (_text().replace('"seq": 4', '"seq": Infinity'), "Infinity"),
        (_text().replace('"seq": 4', '"seq": -Infinity'), "Infinity"),
        (_text()[:-1] + ', "extra": {"ratio": 0.5}}', "fraction or exponent"),
        (_text()[:-1] + ', "extra": [1E+2]}', "fraction or exponent"),
        ("\ufeff" + _text(), "not valid JSON"),
    ],
    ids=[
        "empty",
        "truncated",
        "array",
        "trailing comma",
        "duplicate top-level member",
        "duplicate nested member",
        "float seq",
        "exponent seq",
        "NaN",
        "Infinity",
        "minus Infinity",
        "float in extra member",
        "exponent in extra member",
        "byte order mark",
    ],
)
def test_bad_json_is_refused(text: str, fragment: str) -> None:
    with pytest.raises(ReceiptFormatError) as info:
        parse_receipt_json(text)
    assert fragment in str(info.value)


def test_non_utf8_bytes_are_refused() -> None:
    raw = _text().encode().replace(b'"OC-2025-000001"', b'"OC-2025-\xff"')
    with pytest.raises(ReceiptFormatError, match="UTF-8"):
        parse_receipt_json(raw)


def test_non_ascii_text_is_kept() -> None:
    data = receipt_json("pending")
    data["document"]["metadata"]["supplier"] = "Constructora Añaños S.A.C."
    data["document"]["metadata_sha256"] = hashing.metadata_digest(
        data["document"]["metadata"]
    ).hex()
    receipt = parse_receipt_json(json.dumps(data, ensure_ascii=False).encode())
    assert receipt.to_json() == data


# --- inclusion path length (RFC 9162 section 2.1.3) ----------------------------


def test_inclusion_path_length_small_trees() -> None:
    # Worked out on paper from the tree shapes: size 1 has no siblings; size 3
    # leaf 2 has one (the hash of leaves 0..1); size 7 leaf 6 climbs past 4..5
    # and 0..3; size 8 every leaf needs three.
    table = {
        (0, 1): 0,
        (0, 2): 1,
        (1, 2): 1,
        (0, 3): 2,
        (1, 3): 2,
        (2, 3): 1,
        (4, 5): 1,
        (3, 5): 3,
        (6, 7): 2,
        (5, 7): 3,
        **{(i, 8): 3 for i in range(8)},
        (0, 2**64 - 1): 64,
        (2**64 - 2, 2**64 - 1): 63,
    }
    for (index, size), expected in table.items():
        assert inclusion_path_length(index, size) == expected, (index, size)


def test_inclusion_path_length_matches_peer_vectors() -> None:
    folder = VECTORS / "transparency-dev" / "inclusion"
    cases = sorted(folder.glob("*/happy-path.json"))
    assert len(cases) >= 5, f"peer vectors missing under {folder}"
    for case_file in cases:
        case = json.loads(case_file.read_text())
        proof = case["proof"] or []
        assert all(base64.b64decode(p) for p in proof)
        assert inclusion_path_length(case["leafIdx"], case["treeSize"]) == len(proof), case_file


@pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 4), (True, 4)])
def test_inclusion_path_length_preconditions(index: int, size: int) -> None:
    with pytest.raises(InputError):
        inclusion_path_length(index, size)


# --- the dataclasses refuse what the parser refuses ---------------------------


def test_constructors_check_their_members() -> None:
    digest = b"\x00" * 32
    with pytest.raises(ReceiptFormatError, match=r"document\.salt"):
        DocumentPart(sha256=digest, salt=b"\x00" * 31, metadata_sha256=digest)
    with pytest.raises(ReceiptFormatError, match=r"proof\.path"):
        ProofPart(leaf_index=0, tree_size=2, path=())
    with pytest.raises(ReceiptFormatError, match=r"batch\.id"):
        BatchPart(id=True, root=digest)
    with pytest.raises(ReceiptFormatError, match=r"anchor\.block_hash"):
        AnchorPart(
            chain_id=1,
            contract=CONTRACT,
            seq=0,
            tx_hash=TX_HASH,
            block_number=1,
            block_hash="0x00",
            timestamp=0,
        )
    document = DocumentPart(sha256=digest, salt=digest, metadata_sha256=digest)
    with pytest.raises(ReceiptFormatError, match="proof"):
        Receipt(status=ReceiptStatus.SEALED, document=document)
    with pytest.raises(ReceiptFormatError, match="defined member"):
        Receipt(status=ReceiptStatus.PENDING, document=document, extra={"status": "x"})


# --- the signing payload ------------------------------------------------------


def test_signing_payload_is_jcs_without_signature() -> None:
    data = receipt_json("confirmed")
    unsigned = copy.deepcopy(data)
    data["signature"] = {"alg": "Ed25519", "key_id": "11" * 32, "value": "c2ln"}
    payload = signing_payload(data)
    assert payload == signing_payload(unsigned)
    assert payload == rfc8785.dumps(unsigned)
    assert b"signature" not in payload
    # JCS: members sorted, no blanks.
    assert payload.startswith(b'{"anchor":{"block_hash":"0x')
    assert b": " not in payload and b", " not in payload
    # Other extra members are covered.
    data["service"] = "x"
    assert signing_payload(data) != payload


def test_signing_payload_known_answer() -> None:
    # RFC 8785 by hand: keys in UTF-16 order ("a" < "b" < "version"), no blanks.
    payload = signing_payload({"version": "v", "b": [1, True, None], "a": "é", "signature": {}})
    assert payload == '{"a":"é","b":[1,true,null],"version":"v"}'.encode()


@pytest.mark.parametrize("depth", [600, 20_000])
def test_deep_nesting_is_refused_not_a_crash(depth: int) -> None:
    text = _text("pending")[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ReceiptFormatError):
        parse_receipt_json(text)

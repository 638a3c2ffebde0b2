"""Verifying docanchor-receipt/1 receipts (spec section 6), over values a node would return.

The base case is the worked example of docs/receipt-v1.md: leaf 0 of a
two-leaf tree, anchored on chain 31337. Every tampering must fail at its step
with a sentence a supplier can read; the untouched receipt must pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from docanchor import hashing
from docanchor.errors import InputError, RootMismatchError, VerificationError
from docanchor.merkle import MerkleTree, inclusion_proof_size
from docanchor.onchain import OnChainRecord
from docanchor.receipt import (
    CheckResult,
    Receipt,
    ReceiptStatus,
    TrustedDeployment,
    TrustPolicy,
    check_block_hash,
    check_chain_record,
    check_confirmations,
    check_document,
    check_leaf_and_proof,
    check_metadata,
    count_confirmations,
    evaluate_receipt,
    inclusion_path_length,
    leaf_hash_of,
    parse_receipt,
    parse_receipt_json,
    verify_receipt_offline,
    verify_receipt_proof,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "receipt-v1.md"

# --- the worked example (docs/receipt-v1.md), computed step by step ----------
#
# Computed with coreutils and hashlib, independently of docanchor:
#   printf 'hello procurement\n' | sha256sum                     -> DOCUMENT_SHA256
#   printf '%s' "$METADATA_JCS" | sha256sum                       -> METADATA_SHA256
#   leaf_data = 0x11 * 32 ‖ DOCUMENT_SHA256 ‖ METADATA_SHA256     (96 bytes)
#   printf '00'"$leaf_data_hex" | xxd -r -p | sha256sum           -> LEAF_HASH
# The sibling is leaf 1: document b"invoice 0001\n", salt 0x22 * 32, no
# metadata (JCS "{}"), hashed the same way -> SIBLING_LEAF_HASH, and
#   printf '01'"$LEAF_HASH$SIBLING_LEAF_HASH" | xxd -r -p | sha256sum -> ROOT
DOCUMENT = b"hello procurement\n"
SALT = bytes([0x11]) * 32
METADATA = {"entity_ruc": "20131370998", "reference": "OC-2025-000123"}
METADATA_JCS = b'{"entity_ruc":"20131370998","reference":"OC-2025-000123"}'
DOCUMENT_SHA256 = "fcd4a27c7d3955afb18ac6480b0ef45e6ca0da73d0a20081f6c596c5fdd004da"
METADATA_SHA256 = "34bb06756977fe8418d2fd59e8905ad90a84574319f9c111af2c50be65f8154d"
LEAF_HASH = "cc411cee7e24f4fddc519f0d5a85a254767e7dd67fa894272e22321e5ff94e66"
SIBLING_DOCUMENT = b"invoice 0001\n"
SIBLING_SALT = bytes([0x22]) * 32
SIBLING_LEAF_HASH = "be376c15b0f7445f3b1d9f651242161f18016a4535a4f9942c0605dbe7f9e661"
ROOT = "3ac256322839bc894d63919cec40d08cd67ae82010e79b671a9d4f4fc0a4159b"

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ANCHORER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TX_HASH = "0x442462431d63a0f026d5d586875e22c73a383c3b15a981da2895ab6b43e85d8e"
BLOCK_HASH = "0xf90872dacdaedeb30a4d8cf3ea751737680d6cf68ff7e339828f41ba23ea16e0"
BLOCK_NUMBER = 2
TIMESTAMP = 1_750_000_000


def example_json() -> dict[str, Any]:
    return {
        "version": "docanchor-receipt/1",
        "status": "confirmed",
        "document": {
            "sha256": DOCUMENT_SHA256,
            "salt": SALT.hex(),
            "metadata_sha256": METADATA_SHA256,
            "metadata": dict(METADATA),
        },
        "proof": {"leaf_index": 0, "tree_size": 2, "path": [SIBLING_LEAF_HASH]},
        "batch": {"id": 1, "root": ROOT},
        "anchor": {
            "chain_id": CHAIN_ID,
            "contract": CONTRACT,
            "seq": 0,
            "tx_hash": TX_HASH,
            "block_number": BLOCK_NUMBER,
            "block_hash": BLOCK_HASH,
            "timestamp": TIMESTAMP,
        },
    }


def good_record(**changes: Any) -> OnChainRecord:
    record = OnChainRecord(
        seq=0, tree_size=2, timestamp=TIMESTAMP, block_number=BLOCK_NUMBER, anchorer=ANCHORER
    )
    return replace(record, **changes)


ZERO_RECORD = OnChainRecord(
    seq=0, tree_size=0, timestamp=0, block_number=0, anchorer="0x" + "0" * 40
)


TRUSTED = frozenset({TrustedDeployment(CHAIN_ID, CONTRACT)})
TRUST = TrustPolicy(TRUSTED)


def chain_values(**changes: Any) -> dict[str, Any]:
    """What an honest node of chain 31337 returns, five blocks after the anchor."""
    values: dict[str, Any] = {
        "document_sha256": hashlib.sha256(DOCUMENT).digest(),
        "node_chain_id": CHAIN_ID,
        "record": good_record(),
        "block_hash": BLOCK_HASH,
        "head_number": BLOCK_NUMBER + 5,
        "required_confirmations": 6,
        "trust": TRUST,
    }
    values.update(changes)
    return values


def failed_steps(checks: list[CheckResult]) -> set[int]:
    return {check.step for check in checks if not check.ok}


def detail_of(checks: list[CheckResult], step: int) -> str:
    return next(check.detail for check in checks if check.step == step)


# --- known answers ------------------------------------------------------------


def test_worked_example_known_answers() -> None:
    document_sha256 = hashing.sha256(DOCUMENT)
    assert document_sha256.hex() == DOCUMENT_SHA256
    assert hashing.canonical_metadata(METADATA) == METADATA_JCS
    assert hashing.metadata_digest(METADATA).hex() == METADATA_SHA256
    leaf_data = hashing.leaf_data(SALT, document_sha256, bytes.fromhex(METADATA_SHA256))
    assert leaf_data == SALT + bytes.fromhex(DOCUMENT_SHA256 + METADATA_SHA256)
    assert hashing.leaf_hash(leaf_data).hex() == LEAF_HASH
    sibling = hashing.document_leaf_hash(
        SIBLING_SALT, hashing.sha256(SIBLING_DOCUMENT), hashing.metadata_digest(None)
    )
    assert sibling.hex() == SIBLING_LEAF_HASH
    assert hashing.node_hash(bytes.fromhex(LEAF_HASH), sibling).hex() == ROOT
    assert MerkleTree([bytes.fromhex(LEAF_HASH), sibling]).root.hex() == ROOT

    receipt = parse_receipt(example_json())
    assert leaf_hash_of(receipt).hex() == LEAF_HASH
    verify_receipt_proof(receipt)


def _doc_example_block() -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- worked-example-receipt -->\s*```json\n(.*?)```", text, re.DOTALL)
    assert match, f"{DOCS} has no marked worked-example receipt"
    return match.group(1)


def test_docs_worked_example_is_this_receipt_and_verifies() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for value in (
        DOCUMENT_SHA256,
        METADATA_JCS.decode(),
        METADATA_SHA256,
        (SALT + bytes.fromhex(DOCUMENT_SHA256 + METADATA_SHA256)).hex(),
        LEAF_HASH,
        SIBLING_LEAF_HASH,
        ROOT,
    ):
        assert value in text, f"docs/receipt-v1.md lacks {value}"
    receipt = parse_receipt_json(_doc_example_block())
    assert receipt.to_json() == example_json()
    result = evaluate_receipt(receipt, **chain_values())
    assert result.valid, result.checks


# --- the untouched receipt passes ---------------------------------------------


def test_correct_receipt_passes_every_step() -> None:
    receipt = parse_receipt(example_json())
    result = evaluate_receipt(receipt, **chain_values())
    assert result.valid
    assert result.first_failure is None
    assert result.confirmations == 6
    assert [check.step for check in result.checks] == [1, 2, 4, 5, 6, 7, 8]
    assert all(check.ok and not check.skipped for check in result.checks[:-1])
    # No signature in the receipt: the optional signature check is skipped, not failed.
    signature = result.checks[-1]
    assert signature.name == "signature" and signature.ok and signature.skipped
    assert "matches" in detail_of(result.checks, 1)
    assert ANCHORER in detail_of(result.checks, 5)


def test_without_document_step_one_is_skipped_and_the_rest_still_counts() -> None:
    receipt = parse_receipt(example_json())
    result = evaluate_receipt(receipt, **chain_values(document_sha256=None))
    assert result.valid
    first = result.checks[0]
    assert first.skipped and first.ok
    assert first.detail == "no document given; only the receipt was checked"


def test_without_metadata_step_two_is_skipped() -> None:
    data = example_json()
    del data["document"]["metadata"]
    result = evaluate_receipt(parse_receipt(data), **chain_values())
    assert result.valid
    assert result.checks[1].skipped


def test_block_hash_compared_without_regard_to_case() -> None:
    receipt = parse_receipt(example_json())
    upper = "0x" + BLOCK_HASH[2:].upper()
    assert evaluate_receipt(receipt, **chain_values(block_hash=upper)).valid


def test_more_confirmations_than_required() -> None:
    receipt = parse_receipt(example_json())
    result = evaluate_receipt(receipt, **chain_values(head_number=1000))
    assert result.valid
    assert result.confirmations == 999


# --- tampering, step by step --------------------------------------------------

Tamper = Callable[[dict[str, Any]], None]


def _no_change(data: dict[str, Any]) -> None:
    return None


def _set_document_sha256(data: dict[str, Any]) -> None:
    data["document"]["sha256"] = hashlib.sha256(b"hello procurement").hexdigest()


def _set_metadata_reference(data: dict[str, Any]) -> None:
    data["document"]["metadata"]["reference"] = "OC-2025-000124"


def _set_metadata_and_digest(data: dict[str, Any]) -> None:
    _set_metadata_reference(data)
    data["document"]["metadata_sha256"] = hashing.metadata_digest(
        data["document"]["metadata"]
    ).hex()


def _set_salt(data: dict[str, Any]) -> None:
    data["document"]["salt"] = "12" + "11" * 31


def _flip_path(data: dict[str, Any]) -> None:
    element = bytearray(bytes.fromhex(data["proof"]["path"][0]))
    element[31] ^= 0x01
    data["proof"]["path"][0] = element.hex()


def _set_root(data: dict[str, Any]) -> None:
    data["batch"]["root"] = hashing.sha256(b"another root").hex()


def _swap_leaf_index(data: dict[str, Any]) -> None:
    # Leaf 1 with leaf 0's own hash as sibling: well-formed, wrong position.
    data["proof"]["leaf_index"] = 1


# (case id, receipt tampering, chain values that differ, failed steps, step to read, words)
TAMPERED: list[tuple[str, Tamper, dict[str, Any], set[int], int, str]] = [
    (
        "other document",
        _no_change,
        {"document_sha256": hashlib.sha256(b"hello procurement").digest()},
        {1},
        1,
        "the document does not match this receipt",
    ),
    (
        "document digest altered in the receipt",
        _set_document_sha256,
        {},
        {1, 4},
        1,
        "the document does not match this receipt",
    ),
    (
        "metadata altered",
        _set_metadata_reference,
        {},
        {2},
        2,
        "the metadata in this receipt was altered",
    ),
    (
        "metadata and its digest altered",
        _set_metadata_and_digest,
        {},
        {4},
        4,
        "does not lead to batch root",
    ),
    ("salt altered", _set_salt, {}, {4}, 4, "does not lead to batch root"),
    ("path element altered", _flip_path, {}, {4}, 4, "the receipt was altered"),
    ("leaf index altered", _swap_leaf_index, {}, {4}, 4, "does not lead to batch root"),
    (
        "root altered (unknown to the contract)",
        _set_root,
        {"record": ZERO_RECORD},
        {4, 5},
        5,
        f"this root is not anchored on chain 31337 at {CONTRACT}",
    ),
    (
        "node on another chain",
        _no_change,
        {"node_chain_id": 1},
        {5},
        5,
        "this receipt belongs to chain 31337; the node is on chain 1",
    ),
    (
        "root unknown to the contract",
        _no_change,
        {"record": ZERO_RECORD},
        {5},
        5,
        f"this root is not anchored on chain 31337 at {CONTRACT}",
    ),
    (
        "no record read",
        _no_change,
        {"record": None},
        {5},
        5,
        "no anchor record could be read on chain 31337",
    ),
    (
        "tree size differs",
        _no_change,
        {"record": good_record(tree_size=3)},
        {5},
        5,
        "the tree size is 3 on chain but 2 in the receipt",
    ),
    (
        "block number differs",
        _no_change,
        {"record": good_record(block_number=3)},
        {5},
        5,
        "the block number is 3 on chain but 2 in the receipt",
    ),
    (
        "timestamp differs",
        _no_change,
        {"record": good_record(timestamp=TIMESTAMP + 12)},
        {5},
        5,
        "the timestamp is",
    ),
    (
        "seq differs",
        _no_change,
        {"record": good_record(seq=1)},
        {5},
        5,
        "the sequence number is 1 on chain but 0 in the receipt",
    ),
    (
        "block hash differs (reorganised)",
        _no_change,
        {"block_hash": "0x" + "ee" * 32},
        {6},
        6,
        "the chain was reorganised or reset",
    ),
    (
        "block missing (reset)",
        _no_change,
        {"block_hash": None},
        {6},
        6,
        "chain 31337 has no block 2",
    ),
    (
        "too few confirmations",
        _no_change,
        {"head_number": BLOCK_NUMBER + 4},
        {7},
        7,
        "the anchor has 5 of the 6 confirmations required",
    ),
    (
        "head below the anchoring block",
        _no_change,
        {"head_number": 1},
        {7},
        7,
        "the anchor has 0 of the 6 confirmations required",
    ),
]


@pytest.mark.parametrize(
    ("tamper", "changes", "failed", "step", "words"),
    [case[1:] for case in TAMPERED],
    ids=[case[0] for case in TAMPERED],
)
def test_tampering_fails_at_its_step(
    tamper: Tamper, changes: dict[str, Any], failed: set[int], step: int, words: str
) -> None:
    data = example_json()
    tamper(data)
    receipt = parse_receipt(data)
    result = evaluate_receipt(receipt, **chain_values(**changes))
    assert not result.valid
    assert failed_steps(result.checks) == failed
    assert words in detail_of(result.checks, step)
    first = result.first_failure
    assert first is not None and first.step == min(failed)


@pytest.mark.parametrize(
    ("changes", "document", "verdict"),
    [
        ({}, DOCUMENT, "valid"),
        ({"head_number": BLOCK_NUMBER + 1}, DOCUMENT, "not_yet_confirmed"),
        ({"block_hash": "0x" + "ee" * 32}, DOCUMENT, "not_valid"),
        # Nothing could be read on chain 1: not checked, which is not a failed check.
        ({"node_chain_id": 1, "record": None, "block_hash": None}, DOCUMENT, "cannot_check"),
        # On chain 1 too, but the document does not match: a check ran and failed.
        ({"node_chain_id": 1, "record": None, "block_hash": None}, b"other", "not_valid"),
        # An untrusted deployment is never "cannot check": it is not valid anywhere.
        ({"node_chain_id": 1, "trust": TrustPolicy(frozenset())}, DOCUMENT, "not_valid"),
    ],
    ids=["valid", "young", "reorganised", "other-chain", "other-chain-wrong-doc", "untrusted"],
)
def test_the_verdict_tells_cannot_check_from_not_valid(
    changes: dict[str, Any], document: bytes, verdict: str
) -> None:
    from docanchor.service import receipt_verdict

    receipt = parse_receipt(example_json())
    values = chain_values(**changes, document_sha256=hashlib.sha256(document).digest())
    result = evaluate_receipt(receipt, **values)
    assert (
        receipt_verdict(
            result, receipt, node_chain_id=values["node_chain_id"], trust=values["trust"]
        )
        == verdict
    )


def test_other_chain_skips_block_and_confirmation_steps() -> None:
    receipt = parse_receipt(example_json())
    result = evaluate_receipt(receipt, **chain_values(node_chain_id=1, block_hash=None))
    by_step = {check.step: check for check in result.checks}
    assert by_step[6].skipped and by_step[7].skipped
    assert "chain 1" in by_step[6].detail
    assert result.confirmations == 0
    assert not result.valid


@pytest.mark.parametrize("block_hash", ["0x" + "ee" * 32, None], ids=["reorganised", "reset"])
def test_an_anchor_whose_block_left_the_chain_has_no_confirmations(block_hash: str | None) -> None:
    # The head is far past the anchoring block: counted naively, step 7 would pass.
    receipt = parse_receipt(example_json())
    result = evaluate_receipt(
        receipt, **chain_values(block_hash=block_hash, head_number=BLOCK_NUMBER + 100)
    )
    by_step = {check.step: check for check in result.checks}
    assert not by_step[6].ok
    assert by_step[7].skipped and "not counted" in by_step[7].detail
    assert result.confirmations == 0
    assert not result.valid


def test_status_does_not_override_the_verifiers_threshold() -> None:
    # "confirmed" in the receipt, but this verifier wants 12 confirmations.
    receipt = parse_receipt(example_json())
    assert receipt.status is ReceiptStatus.CONFIRMED
    result = evaluate_receipt(receipt, **chain_values(required_confirmations=12))
    assert not result.valid
    assert failed_steps(result.checks) == {7}


def _unanchored(status: str) -> Receipt:
    data = example_json()
    data["status"] = status
    data["anchor"] = None
    if status == "pending":
        data["proof"] = None
        data["batch"] = None
    return parse_receipt(data)


def test_pending_receipt_cannot_be_verified_against_a_chain() -> None:
    receipt = _unanchored("pending")
    offline = verify_receipt_offline(receipt, hashing.sha256(DOCUMENT))
    assert failed_steps(offline) == {4}
    assert "this receipt is pending" in detail_of(offline, 4)
    result = evaluate_receipt(receipt, **chain_values())
    assert not result.valid
    assert failed_steps(result.checks) == {4, 5}
    assert "not anchored yet" in detail_of(result.checks, 5)
    with pytest.raises(VerificationError, match="pending"):
        verify_receipt_proof(receipt)


def test_sealed_receipt_passes_offline_but_is_not_valid_on_chain() -> None:
    receipt = _unanchored("sealed")
    offline = verify_receipt_offline(receipt, hashing.sha256(DOCUMENT))
    assert all(check.ok for check in offline)
    verify_receipt_proof(receipt)
    result = evaluate_receipt(receipt, **chain_values())
    assert not result.valid
    assert failed_steps(result.checks) == {5}
    assert "this receipt is sealed" in detail_of(result.checks, 5)
    assert result.confirmations == 0


def test_verify_receipt_proof_raises_for_a_wrong_path() -> None:
    data = example_json()
    _flip_path(data)
    with pytest.raises(RootMismatchError) as info:
        verify_receipt_proof(parse_receipt(data))
    assert info.value.expected.hex() == ROOT
    assert info.value.calculated.hex() != ROOT


def test_path_length_agrees_with_the_tree_module() -> None:
    leaves = [hashing.sha256(bytes([i])) for i in range(40)]
    for size in range(1, 41):
        tree = MerkleTree(leaves[:size])
        for index in range(size):
            expected = len(tree.inclusion_proof(index))
            assert (
                inclusion_path_length(index, size) == expected == inclusion_proof_size(index, size)
            )


# --- the step functions on their own ------------------------------------------


def test_step_functions_individually() -> None:
    receipt = parse_receipt(example_json())
    assert check_document(receipt, hashing.sha256(DOCUMENT)).ok
    assert not check_document(receipt, hashing.sha256(b"")).ok
    assert check_metadata(receipt).ok
    assert check_leaf_and_proof(receipt).ok
    assert check_chain_record(receipt, CHAIN_ID, good_record(), TRUSTED).ok
    assert not check_chain_record(receipt, CHAIN_ID, ZERO_RECORD, TRUSTED).ok
    assert check_block_hash(receipt, BLOCK_HASH).ok
    assert check_confirmations(receipt, BLOCK_NUMBER, 1).ok
    assert not check_confirmations(receipt, BLOCK_NUMBER, 2).ok
    # A record whose anchorer is written in another case is the same address.
    assert check_chain_record(receipt, CHAIN_ID, good_record(anchorer=ANCHORER.lower()), TRUSTED).ok


@pytest.mark.parametrize(
    ("head", "block", "expected"),
    [(2, 2, 1), (7, 2, 6), (1, 2, 0), (0, 0, 1), (2**64 - 1, 0, 2**64)],
)
def test_count_confirmations(head: int, block: int, expected: int) -> None:
    assert count_confirmations(head, block) == expected


def test_preconditions_are_checked() -> None:
    receipt = parse_receipt(example_json())
    with pytest.raises(InputError):
        check_document(receipt, b"\x00" * 31)
    with pytest.raises(InputError):
        check_confirmations(receipt, 10, 0)
    with pytest.raises(InputError):
        count_confirmations(-1, 0)
    with pytest.raises(InputError):
        OnChainRecord(seq=-1, tree_size=1, timestamp=0, block_number=0, anchorer=ANCHORER)
    with pytest.raises(InputError):
        OnChainRecord(seq=0, tree_size=1, timestamp=0, block_number=0, anchorer="0x12")


# --- receipts from real trees of every small size -----------------------------


def _leaf(i: int) -> tuple[bytes, bytes, bytes]:
    document_sha256 = hashing.sha256(f"registration {i}\n".encode())
    salt = hashing.sha256(f"salt {i}".encode())
    return document_sha256, salt, hashing.metadata_digest({"n": i})


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17])
def test_every_leaf_of_a_tree_verifies_and_any_path_bit_flip_fails(size: int) -> None:
    leaves = [_leaf(i) for i in range(size)]
    tree = MerkleTree([hashing.document_leaf_hash(s, d, m) for d, s, m in leaves])
    for index, (document_sha256, salt, metadata_sha256) in enumerate(leaves):
        data = {
            "version": "docanchor-receipt/1",
            "status": "sealed",
            "document": {
                "sha256": document_sha256.hex(),
                "salt": salt.hex(),
                "metadata_sha256": metadata_sha256.hex(),
                "metadata": {"n": index},
            },
            "proof": {
                "leaf_index": index,
                "tree_size": size,
                "path": [p.hex() for p in tree.inclusion_proof(index)],
            },
            "batch": {"id": 3, "root": tree.root.hex()},
            "anchor": None,
        }
        receipt = parse_receipt_json(json.dumps(data))
        assert all(check.ok for check in verify_receipt_offline(receipt, document_sha256))
        assert receipt.proof is not None
        for position in range(len(receipt.proof.path)):
            path = list(receipt.proof.path)
            path[position] = bytes([path[position][0] ^ 0x80]) + path[position][1:]
            bad = replace(receipt, proof=replace(receipt.proof, path=tuple(path)))
            assert not check_leaf_and_proof(bad).ok

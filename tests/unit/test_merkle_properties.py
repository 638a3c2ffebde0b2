"""Property tests of docanchor.merkle against pymerkle 7, an independent implementation.

pymerkle's ``InmemoryTree`` (algorithm sha256, security on) hashes leaf data
as SHA-256(0x00 ‖ data) and nodes as SHA-256(0x01 ‖ left ‖ right), so it
builds RFC 9162 trees from the same leaf data. Its inclusion path starts
with the leaf's own hash, then lists the RFC 9162 proof; its consistency
path uses its own layout, so consistency proofs are compared with the RFC
9162 recursion written out in this file and verified against pymerkle's
roots of the old and the new tree.
"""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from docanchor import merkle
from docanchor.errors import ProofError, RootMismatchError, VerificationError
from docanchor.hashing import leaf_hash
from tests.support import rfc9162

MAX_SIZE = 4097
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Leaf data of the shared big trees: 4 arbitrary-looking bytes per index.
LEAF_DATA = [hashlib.sha256(i.to_bytes(4, "big")).digest()[:4] for i in range(MAX_SIZE)]
LEAVES = [leaf_hash(data) for data in LEAF_DATA]


def _pymerkle_tree(data: list[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")
    tree.append_entries(data)
    return tree


@cache
def _big_pymerkle() -> InmemoryTree:
    # One tree of MAX_SIZE leaves; pymerkle proves against any earlier size.
    return _pymerkle_tree(LEAF_DATA)


@cache
def _tree(size: int) -> merkle.MerkleTree:
    return merkle.MerkleTree(LEAVES[:size])


def _pymerkle_proof(tree: InmemoryTree, index: int, size: int) -> list[bytes]:
    path = tree.prove_inclusion(index + 1, size).path  # pymerkle counts from 1
    assert path[0] == LEAVES[index]
    return list(path[1:])


def test_pymerkle_hashes_leaves_and_nodes_like_rfc9162() -> None:
    tree = _pymerkle_tree([b"a", b"b", b"c"])
    a, b, c = (hashlib.sha256(b"\x00" + x).digest() for x in (b"a", b"b", b"c"))
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    assert tree.get_root() == hashlib.sha256(b"\x01" + ab + c).digest()
    assert _pymerkle_tree([]).get_root() == merkle.EMPTY_ROOT == merkle.MerkleTree([]).root


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=150))
def test_arbitrary_leaves_agree_with_pymerkle(data: list[bytes]) -> None:
    reference = _pymerkle_tree(data)
    leaves = [leaf_hash(x) for x in data]
    tree = merkle.MerkleTree(leaves)
    assert tree.root == reference.get_root()
    assert merkle.root_of(leaves) == tree.root
    for index, leaf in enumerate(leaves):
        proof = tree.inclusion_proof(index)
        assert proof == list(reference.prove_inclusion(index + 1).path[1:])
        merkle.verify_inclusion(leaf, index, len(leaves), proof, tree.root)


@SETTINGS
@given(st.data())
def test_trees_up_to_4097_leaves_agree_with_pymerkle(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    indices = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=8), label="ix")
    reference = _big_pymerkle()
    tree = merkle.MerkleTree(LEAVES[:size])
    assert tree.root == reference.get_root(size)
    for index in [*indices, 0, size - 1]:
        proof = tree.inclusion_proof(index)
        assert proof == _pymerkle_proof(reference, index, size)
        merkle.verify_inclusion(LEAVES[index], index, size, proof, tree.root)


@pytest.mark.parametrize("size", [1000, 1023, 1024, 1025, 2048, 4097])
def test_big_trees_agree_with_pymerkle(size: int) -> None:
    reference = _big_pymerkle()
    tree = _tree(size)
    assert tree.root == reference.get_root(size)
    # Every 17th leaf and the whole right border, where odd nodes are promoted.
    for index in sorted({*range(0, size, 17), *range(max(0, size - 40), size)}):
        proof = tree.inclusion_proof(index)
        assert proof == _pymerkle_proof(reference, index, size)
        merkle.verify_inclusion(LEAVES[index], index, size, proof, tree.root)


# --- consistency ---------------------------------------------------------------


_mth = rfc9162.mth
_subproof = rfc9162.subproof


@SETTINGS
@given(st.data())
def test_consistency_proofs_follow_the_rfc_and_join_pymerkle_roots(data: st.DataObject) -> None:
    new_size = data.draw(st.integers(1, MAX_SIZE), label="new_size")
    old_size = data.draw(st.integers(1, new_size), label="old_size")
    reference = _big_pymerkle()
    tree = merkle.MerkleTree(LEAVES[:new_size])
    proof = tree.consistency_proof(old_size)
    old_root, new_root = reference.get_root(old_size), reference.get_root(new_size)
    assert tree.root == new_root
    merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)
    assert merkle.root_from_consistency_proof(old_size, new_size, proof, old_root) == new_root
    if new_size <= 300:  # the word-for-word recursion is slow for big trees
        assert proof == _subproof(old_size, LEAVES[:new_size], True)


@pytest.mark.parametrize("new_size", [1000, 1025, 4097])
def test_big_consistency_proofs(new_size: int) -> None:
    reference = _big_pymerkle()
    tree = _tree(new_size)
    for old_size in [1, 2, 3, 512, 999, 1000, 1024, new_size - 1, new_size]:
        if old_size > new_size:
            continue
        proof = tree.consistency_proof(old_size)
        merkle.verify_consistency(
            old_size, new_size, proof, reference.get_root(old_size), tree.root
        )


# --- tampering ---------------------------------------------------------------


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def _shape(index: int, size: int) -> tuple[bool, ...]:
    """For each proof item, whether it is a left sibling (what the verifier hashes)."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return tuple(bool((index >> i) & 1) for i in range(inner)) + (True,) * border


TAMPER_SIZE = 600


@SETTINGS
@given(st.data())
def test_every_tampered_inclusion_proof_is_rejected(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, TAMPER_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    bit = data.draw(st.integers(0, 255), label="bit")
    tree = _tree(size)
    leaf, root, proof = LEAVES[index], tree.root, tree.inclusion_proof(index)
    merkle.verify_inclusion(leaf, index, size, proof, root)

    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = _flip(bad[position], bit)
        with pytest.raises(RootMismatchError):
            merkle.verify_inclusion(leaf, index, size, bad, root)
    with pytest.raises(RootMismatchError):
        merkle.verify_inclusion(_flip(leaf, bit), index, size, proof, root)
    with pytest.raises(RootMismatchError):
        merkle.verify_inclusion(leaf, index, size, proof, _flip(root, bit))
    if proof:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, size, proof[:-1], root)
        if len(proof) > 1:
            swapped = [proof[1], proof[0], *proof[2:]]
            if swapped != proof:
                with pytest.raises(RootMismatchError):
                    merkle.verify_inclusion(leaf, index, size, swapped, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, index, size, [*proof, LEAVES[0]], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, index, size, [LEAVES[0], *proof], root)

    # Another index or size with a different proof shape must fail. With the
    # very same shape the verifier does the very same hashing, so the proof
    # (rightly) still leads to the root: RFC 9162 roots do not commit to n.
    other_index = data.draw(st.integers(0, 2 * size), label="other_index")
    other_size = data.draw(st.integers(1, 2 * size + 1), label="other_size")
    for wrong_index, wrong_size in ((other_index, size), (index, other_size)):
        if (wrong_index, wrong_size) == (index, size):
            continue
        if wrong_index < wrong_size and _shape(wrong_index, wrong_size) == _shape(index, size):
            merkle.verify_inclusion(leaf, wrong_index, wrong_size, proof, root)
        else:
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaf, wrong_index, wrong_size, proof, root)


def test_a_different_index_never_shares_a_proof_shape() -> None:
    # Within one tree, the shape identifies the index: a proof never verifies
    # for another leaf position of the same tree size.
    for size in range(1, 300):
        shapes = {_shape(index, size) for index in range(size)}
        assert len(shapes) == size


@SETTINGS
@given(st.data())
def test_every_tampered_consistency_proof_is_rejected(data: st.DataObject) -> None:
    new_size = data.draw(st.integers(2, TAMPER_SIZE), label="new_size")
    old_size = data.draw(st.integers(1, new_size - 1), label="old_size")
    bit = data.draw(st.integers(0, 255), label="bit")
    tree = _tree(new_size)
    old_root, new_root = _tree(old_size).root, tree.root
    proof = tree.consistency_proof(old_size)
    merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)
    assert proof, "trees of different sizes always need a non-empty proof"

    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = _flip(bad[position], bit)
        with pytest.raises(RootMismatchError):
            merkle.verify_consistency(old_size, new_size, bad, old_root, new_root)
    with pytest.raises(RootMismatchError):
        merkle.verify_consistency(old_size, new_size, proof, _flip(old_root, bit), new_root)
    with pytest.raises(RootMismatchError):
        merkle.verify_consistency(old_size, new_size, proof, old_root, _flip(new_root, bit))
    with pytest.raises(ProofError):
        merkle.verify_consistency(old_size, new_size, proof[:-1], old_root, new_root)
    with pytest.raises(ProofError):
        merkle.verify_consistency(old_size, new_size, [*proof, LEAVES[0]], old_root, new_root)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(new_size, old_size, proof, new_root, old_root)
    # A tree that differs from the old one in a single leaf is not a prefix.
    changed = list(LEAVES[:old_size])
    changed[data.draw(st.integers(0, old_size - 1), label="changed")] = LEAVES[-1]
    with pytest.raises(RootMismatchError):
        merkle.verify_consistency(old_size, new_size, proof, merkle.root_of(changed), new_root)

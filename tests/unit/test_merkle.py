"""Unit tests of docanchor.merkle: known answers, proof shapes and input checking."""

from __future__ import annotations

from typing import Any

import pytest

from docanchor import merkle
from docanchor.errors import InputError, ProofError, RootMismatchError, VerificationError
from docanchor.hashing import leaf_hash
from tests.support import rfc9162
from tests.support.ids import param_id

# Written out with hashlib (tests/support/rfc9162.py) rather than taken from docanchor.hashing,
# so that these expectations do not depend on the code under test.
_node = rfc9162.node
_leaf = rfc9162.leaf


LEAVES = [_leaf(i.to_bytes(2, "big")) for i in range(64)]

# RFC 6962 reference tree (certificate-transparency merkle_tree_test.cc, the
# same data as transparency-dev/merkle testonly/constants.go): the published
# roots of its first 1..8 leaves.
RFC6962_LEAF_DATA = rfc9162.REFERENCE_LEAF_DATA
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


# --- building ----------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    # printf '' | sha256sum
    expected = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert expected == merkle.EMPTY_ROOT
    tree = merkle.MerkleTree([])
    assert tree.root == expected
    assert tree.size == 0
    assert len(tree) == 0
    assert merkle.root_of([]) == expected
    with pytest.raises(InputError):
        tree.inclusion_proof(0)
    with pytest.raises(InputError):
        tree.consistency_proof(0)


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc6962_reference_roots(size: int) -> None:
    leaves = [leaf_hash(data) for data in RFC6962_LEAF_DATA[:size]]
    assert merkle.MerkleTree(leaves).root.hex() == RFC6962_ROOTS[size - 1]
    assert merkle.root_of(leaves).hex() == RFC6962_ROOTS[size - 1]


def test_small_trees_by_hand() -> None:
    a, b, c, d, e = LEAVES[:5]
    assert merkle.MerkleTree([a]).root == a
    assert merkle.MerkleTree([a, b]).root == _node(a, b)
    # Three leaves split 2 + 1: the odd last leaf is not duplicated.
    assert merkle.MerkleTree([a, b, c]).root == _node(_node(a, b), c)
    assert merkle.MerkleTree([a, b, c, d]).root == _node(_node(a, b), _node(c, d))
    # Five leaves split 4 + 1.
    assert merkle.MerkleTree([a, b, c, d, e]).root == _node(_node(_node(a, b), _node(c, d)), e)
    # Seven leaves split 4 + 3, then 2 + 1.
    f, g = LEAVES[5:7]
    left = _node(_node(a, b), _node(c, d))
    right = _node(_node(e, f), g)
    assert merkle.MerkleTree(LEAVES[:7]).root == _node(left, right)


_mth = rfc9162.mth


@pytest.mark.parametrize("size", [*range(1, 40), 63, 64])
def test_root_matches_the_rfc_recursion(size: int) -> None:
    tree = merkle.MerkleTree(LEAVES[:size])
    assert tree.root == _mth(LEAVES[:size])
    assert tree.size == size
    assert [tree.leaf_hash(i) for i in range(size)] == LEAVES[:size]


def test_the_tree_keeps_its_own_copy_of_the_leaves() -> None:
    leaves = list(LEAVES[:5])
    tree = merkle.MerkleTree(leaves)
    root, proof = tree.root, tree.inclusion_proof(4)
    leaves[4] = LEAVES[9]
    leaves.append(LEAVES[10])
    assert tree.root == root
    assert tree.inclusion_proof(4) == proof
    assert tree.size == 5


def test_accepts_tuples_and_bytes_subclasses() -> None:
    class Digest(bytes):
        pass

    tree = merkle.MerkleTree(tuple(Digest(x) for x in LEAVES[:3]))
    assert tree.root == _mth(LEAVES[:3])
    assert type(tree.root) is bytes
    assert type(merkle.root_of([Digest(LEAVES[0])])) is bytes


@pytest.mark.parametrize(
    "bad",
    [
        [LEAVES[0], LEAVES[1][:31]],
        [LEAVES[0] + b"\x00"],
        [b""],
        [LEAVES[0].hex()],
        [bytearray(LEAVES[0])],
        [memoryview(LEAVES[0])],
        [None],
        [42],
        LEAVES[0],
        LEAVES[0].hex(),
        None,
        7,
    ],
    ids=param_id,
)
def test_rejects_leaves_that_are_not_32_byte_hashes(bad: Any) -> None:
    with pytest.raises(InputError):
        merkle.MerkleTree(bad)
    with pytest.raises(InputError):
        merkle.root_of(bad)


# --- inclusion proofs --------------------------------------------------------


def test_inclusion_proofs_by_hand() -> None:
    a, b, c, d, e, f, g, h = LEAVES[:8]
    tree8 = merkle.MerkleTree(LEAVES[:8])
    assert tree8.inclusion_proof(0) == [b, _node(c, d), _node(_node(e, f), _node(g, h))]
    assert tree8.inclusion_proof(5) == [e, _node(g, h), _node(_node(a, b), _node(c, d))]
    tree7 = merkle.MerkleTree(LEAVES[:7])
    # Leaf 6 of 7 has no sibling at the bottom: its first proof item is one level up.
    assert tree7.inclusion_proof(6) == [_node(e, f), _node(_node(a, b), _node(c, d))]
    assert tree7.inclusion_proof(4) == [f, g, _node(_node(a, b), _node(c, d))]
    assert merkle.MerkleTree([a]).inclusion_proof(0) == []


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 32, 33, 64])
def test_every_inclusion_proof_verifies(size: int) -> None:
    tree = merkle.MerkleTree(LEAVES[:size])
    for index in range(size):
        proof = tree.inclusion_proof(index)
        assert len(proof) == merkle.inclusion_proof_size(index, size)
        assert merkle.root_from_inclusion_proof(LEAVES[index], index, size, proof) == tree.root
        merkle.verify_inclusion(LEAVES[index], index, size, proof, tree.root)
        assert all(type(item) is bytes and len(item) == 32 for item in proof)


@pytest.mark.parametrize("index", [-1, 5, 6, True, 1.0, "1", None])
def test_inclusion_proof_rejects_bad_indices(index: Any) -> None:
    tree = merkle.MerkleTree(LEAVES[:5])
    with pytest.raises(InputError):
        tree.inclusion_proof(index)


def test_root_mismatch_carries_both_roots() -> None:
    tree = merkle.MerkleTree(LEAVES[:6])
    other = merkle.root_of(LEAVES[1:7])
    with pytest.raises(RootMismatchError) as caught:
        merkle.verify_inclusion(LEAVES[2], 2, 6, tree.inclusion_proof(2), other)
    assert caught.value.expected == other
    assert caught.value.calculated == tree.root
    assert isinstance(caught.value, VerificationError)


def test_verifiers_accept_tuples_and_bytes_subclasses() -> None:
    class Digest(bytes):
        pass

    tree = merkle.MerkleTree(LEAVES[:9])
    proof = tuple(Digest(x) for x in tree.inclusion_proof(3))
    merkle.verify_inclusion(Digest(LEAVES[3]), 3, 9, proof, Digest(tree.root))
    old = merkle.root_of(LEAVES[:5])
    cproof = tuple(Digest(x) for x in tree.consistency_proof(5))
    merkle.verify_consistency(5, 9, cproof, Digest(old), Digest(tree.root))


_TREE = merkle.MerkleTree(LEAVES[:11])
_PROOF = _TREE.inclusion_proof(6)
_GOOD: dict[str, Any] = {
    "leaf_hash": LEAVES[6],
    "index": 6,
    "size": 11,
    "proof": _PROOF,
    "root": _TREE.root,
}

MALFORMED_INCLUSION: list[tuple[str, Any]] = [
    ("leaf_hash", LEAVES[6][:31]),
    ("leaf_hash", LEAVES[6] + b"\x00"),
    ("leaf_hash", b""),
    ("leaf_hash", LEAVES[6].hex()),
    ("leaf_hash", bytearray(LEAVES[6])),
    ("leaf_hash", None),
    ("index", -1),
    ("index", 11),
    ("index", 12),
    ("index", 2**64),
    ("index", True),
    ("index", 6.0),
    ("index", "6"),
    ("index", None),
    ("size", 0),
    ("size", -11),
    ("size", 6),
    ("size", 2**64),
    ("size", 11.0),
    ("size", None),
    ("proof", None),
    ("proof", b"".join(_PROOF)),
    ("proof", "".join(x.hex() for x in _PROOF)),
    ("proof", _PROOF[:-1]),
    ("proof", [*_PROOF, _PROOF[0]]),
    ("proof", [*_PROOF[:-1], _PROOF[-1][:31]]),
    ("proof", [*_PROOF[:-1], b""]),
    ("proof", [*_PROOF[:-1], None]),
    ("proof", [*_PROOF[:-1], _PROOF[-1].hex()]),
    ("proof", [*_PROOF[:-1], bytearray(_PROOF[-1])]),
    ("proof", {x: None for x in _PROOF}),
    ("proof", iter(_PROOF)),
    ("proof", [_PROOF[0]] * 1000),
    ("root", _TREE.root[:31]),
    ("root", b""),
    ("root", None),
    ("root", _TREE.root.hex()),
]


@pytest.fixture
def no_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes any hashing inside docanchor.merkle fail loudly."""

    def refuse(*_: object) -> None:
        raise AssertionError("hashed before every precondition was checked")

    monkeypatch.setattr(merkle, "_sha256", refuse)


@pytest.mark.parametrize(("field", "value"), MALFORMED_INCLUSION, ids=param_id)
@pytest.mark.usefixtures("no_hashing")
def test_malformed_inclusion_input_is_refused_before_hashing(field: str, value: Any) -> None:
    args = {**_GOOD, field: value}
    with pytest.raises(ProofError):
        merkle.verify_inclusion(**args)
    if field != "root":
        del args["root"]
        with pytest.raises(ProofError):
            merkle.root_from_inclusion_proof(**args)


def test_the_good_inclusion_arguments_verify() -> None:
    # The malformed cases above differ from these in one argument only.
    merkle.verify_inclusion(**_GOOD)


@pytest.mark.usefixtures("no_hashing")
def test_the_no_hashing_guard_bites() -> None:
    with pytest.raises(AssertionError, match="hashed before"):
        merkle.verify_inclusion(**_GOOD)
    with pytest.raises(AssertionError, match="hashed before"):
        merkle.verify_consistency(**_CGOOD)


def test_misbehaving_sequences_raise_proof_errors() -> None:
    class Broken(list[bytes]):
        def __iter__(self) -> Any:
            raise RuntimeError("boom")

    class NoLength(tuple[bytes, ...]):
        def __len__(self) -> int:
            raise ValueError("no length")

    for proof in (Broken(_PROOF), NoLength(_PROOF)):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(LEAVES[6], 6, 11, proof, _TREE.root)


# --- consistency proofs ------------------------------------------------------


_subproof = rfc9162.subproof


@pytest.mark.parametrize("new_size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 64])
def test_every_consistency_proof_matches_the_rfc_and_verifies(new_size: int) -> None:
    tree = merkle.MerkleTree(LEAVES[:new_size])
    for old_size in range(1, new_size + 1):
        proof = tree.consistency_proof(old_size)
        assert proof == _subproof(old_size, LEAVES[:new_size], True)
        assert len(proof) == merkle.consistency_proof_size(old_size, new_size)
        old_root = _mth(LEAVES[:old_size])
        merkle.verify_consistency(old_size, new_size, proof, old_root, tree.root)
        assert merkle.root_from_consistency_proof(old_size, new_size, proof, old_root) == tree.root


def test_consistency_proof_by_hand() -> None:
    a, b, c, d, e, f, g = LEAVES[:7]
    tree = merkle.MerkleTree(LEAVES[:7])
    # RFC 9162 section 2.1.5's example shapes: from 3 and from 4 leaves to 7.
    assert tree.consistency_proof(3) == [c, d, _node(a, b), _node(_node(e, f), g)]
    assert tree.consistency_proof(4) == [_node(_node(e, f), g)]
    assert tree.consistency_proof(6) == [_node(e, f), g, _node(_node(a, b), _node(c, d))]
    assert tree.consistency_proof(7) == []


@pytest.mark.parametrize("old_size", [0, -1, 8, True, 2.0, None])
def test_consistency_proof_rejects_bad_sizes(old_size: Any) -> None:
    tree = merkle.MerkleTree(LEAVES[:7])
    with pytest.raises(InputError):
        tree.consistency_proof(old_size)


_CTREE = merkle.MerkleTree(LEAVES[:13])
_OLD_ROOT = merkle.root_of(LEAVES[:6])
_CPROOF = _CTREE.consistency_proof(6)
_CGOOD: dict[str, Any] = {
    "old_size": 6,
    "new_size": 13,
    "proof": _CPROOF,
    "old_root": _OLD_ROOT,
    "new_root": _CTREE.root,
}

MALFORMED_CONSISTENCY: list[tuple[str, Any]] = [
    ("old_size", 0),
    ("old_size", -6),
    ("old_size", 14),
    ("old_size", True),
    ("old_size", 6.0),
    ("old_size", None),
    ("new_size", 5),
    ("new_size", 2**64),
    ("new_size", False),
    ("new_size", "13"),
    ("proof", None),
    ("proof", b"".join(_CPROOF)),
    ("proof", _CPROOF[:-1]),
    ("proof", [*_CPROOF, _CPROOF[0]]),
    ("proof", [*_CPROOF[:-1], _CPROOF[-1][:31]]),
    ("proof", [*_CPROOF[:-1], b""]),
    ("proof", [*_CPROOF[:-1], None]),
    ("proof", []),
    ("old_root", _OLD_ROOT[:31]),
    ("old_root", b""),
    ("old_root", None),
    ("new_root", _CTREE.root + b"\x00"),
    ("new_root", b""),
    ("new_root", None),
]


@pytest.mark.parametrize(("field", "value"), MALFORMED_CONSISTENCY, ids=param_id)
@pytest.mark.usefixtures("no_hashing")
def test_malformed_consistency_input_is_refused_before_hashing(field: str, value: Any) -> None:
    args = {**_CGOOD, field: value}
    with pytest.raises(ProofError):
        merkle.verify_consistency(**args)


def test_the_good_consistency_arguments_verify() -> None:
    merkle.verify_consistency(**_CGOOD)


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    root = merkle.root_of(LEAVES[:5])
    merkle.verify_consistency(5, 5, [], root, root)
    assert merkle.root_from_consistency_proof(5, 5, [], root) == root
    with pytest.raises(ProofError):
        merkle.verify_consistency(5, 5, [root], root, root)
    with pytest.raises(RootMismatchError):
        merkle.verify_consistency(5, 5, [], root, LEAVES[0])


def test_a_wrong_old_root_is_a_root_mismatch() -> None:
    wrong_old = merkle.root_of(LEAVES[1:7])
    with pytest.raises(RootMismatchError) as caught:
        merkle.verify_consistency(6, 13, _CPROOF, wrong_old, _CTREE.root)
    assert caught.value.expected == wrong_old


def test_consistency_from_the_empty_tree_is_refused() -> None:
    empty = merkle.EMPTY_ROOT
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 0, [], empty, empty)
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 1, [], empty, LEAVES[0])


# --- sizes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "size", "expected"),
    [(0, 1, 0), (0, 2, 1), (6, 7, 2), (4, 7, 3), (0, 8, 3), (2**63, 2**64 - 1, 64)],
)
def test_inclusion_proof_size(index: int, size: int, expected: int) -> None:
    assert merkle.inclusion_proof_size(index, size) == expected


def test_largest_trees_are_accepted_by_the_verifier() -> None:
    # A proof for the last leaf of a 2^64 - 1 leaf tree: 63 left siblings.
    size = merkle.MAX_TREE_SIZE
    proof = [LEAVES[i % 64] for i in range(merkle.inclusion_proof_size(size - 1, size))]
    root = merkle.root_from_inclusion_proof(LEAVES[0], size - 1, size, proof)
    merkle.verify_inclusion(LEAVES[0], size - 1, size, proof, root)

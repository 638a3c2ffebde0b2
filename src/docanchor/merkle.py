"""RFC 9162 Merkle trees: building, inclusion and consistency proofs, verification.

CONSENSUS-CRITICAL. Every root anchored on chain and every receipt ever
issued depends on this module computing exactly the RFC 9162 section 2.1
Merkle Tree Hash (SHA-256, leaf prefix 0x00, node prefix 0x01, split at the
largest power of two smaller than n, no duplication of an odd last node, no
sorting of pairs) and on the verifiers accepting exactly the proofs RFC 9162
section 2.1.3 and 2.1.4 define. A change here that alters any root, proof or
verdict invalidates existing receipts: it must come with new test vectors and
must pass the peer vectors of transparency-dev/merkle unchanged.

Pure core: imports only the standard library, :mod:`docanchor.errors` and
:mod:`docanchor.hashing`. It never performs I/O, reads the environment or
talks to a chain or a database.

The tree works on leaf *hashes* (``SHA-256(0x00 ‖ leaf_data)``, see
:func:`docanchor.hashing.leaf_hash`), never on leaf data.

Verifiers (``root_from_*`` and ``verify_*``) check every precondition before
hashing anything and raise :class:`~docanchor.errors.ProofError` (a
:class:`~docanchor.errors.VerificationError`) for every malformed input, and
:class:`~docanchor.errors.RootMismatchError` when a well-formed proof leads to
another root. They never raise anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from docanchor.errors import InputError, ProofError, RootMismatchError
from docanchor.hashing import DIGEST_SIZE, NODE_PREFIX
from docanchor.vocabulary import UINT64_MAX

__all__ = [
    "EMPTY_ROOT",
    "MAX_TREE_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "MerkleTree",
    "NodeSource",
    "compact_range",
    "consistency_proof_size",
    "extend_compact_range",
    "fold_compact_range",
    "inclusion_proof_size",
    "log_consistency_proof",
    "log_inclusion_proof",
    "node_from_levels",
    "node_from_tile",
    "perfect_root",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "root_from_range",
    "root_of",
    "subtree_hash",
    "tile_levels",
    "tile_updates",
    "verify_consistency",
    "verify_inclusion",
    "verify_range",
]

_sha256 = hashlib.sha256

EMPTY_ROOT: Final[bytes] = _sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""

MAX_TREE_SIZE: Final = UINT64_MAX
"""Largest tree size the verifiers accept (the anchor contract stores sizes as uint64)."""

# Longest well-formed proof for any size up to MAX_TREE_SIZE. Checked before the
# exact length so that a hostile proof of millions of items is refused cheaply.
_MAX_PROOF_ITEMS: Final = 2 * 64


# --- building -----------------------------------------------------------------


def _pack(hashes: Sequence[bytes]) -> bytes:
    # BytesIO.writelines concatenates several times faster than b"".join for
    # millions of 32-byte items (join first builds a Py_buffer per item).
    out = io.BytesIO()
    out.writelines(hashes)
    return out.getvalue()


def _next_level(level: list[bytes]) -> list[bytes]:
    """Parents of ``level``; an odd last node moves up unchanged.

    Promoting the odd node level by level yields exactly RFC 9162's
    split-at-the-largest-power-of-two tree: the node at level L and index k
    is the Merkle Tree Hash of leaves [k·2^L, min((k+1)·2^L, n)).
    """
    sha = _sha256
    prefix = NODE_PREFIX
    # zip over one iterator twice yields the pairs without copying the level.
    pairs = iter(level)
    parents = [
        sha(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
    ]
    if len(level) & 1:
        parents.append(level[-1])
    return parents


def _checked_leaves(leaf_hashes: Sequence[bytes]) -> list[bytes]:
    if isinstance(leaf_hashes, (bytes, bytearray, memoryview, str)):
        raise InputError("leaf hashes must be a sequence of 32-byte hashes, not a single value")
    try:
        leaves = list(leaf_hashes)
    except TypeError as exc:
        raise InputError(f"leaf hashes must be a sequence of 32-byte hashes: {exc}") from exc
    # One pass over types and one over lengths, both in C: a per-leaf Python
    # check would cost a noticeable share of the build time for large batches.
    for kind in set(map(type, leaves)):
        if not issubclass(kind, bytes):
            raise InputError(f"every leaf hash must be bytes, got {kind.__name__}")
    lengths = set(map(len, leaves))
    if lengths and lengths != {DIGEST_SIZE}:
        bad_len = next(n for n in lengths if n != DIGEST_SIZE)
        raise InputError(f"every leaf hash must be {DIGEST_SIZE} bytes, got one of {bad_len}")
    return leaves


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 9162 Merkle Tree Hash of ``leaf_hashes`` (32-byte leaf hashes, in order).

    Same value as ``MerkleTree(leaf_hashes).root`` without keeping the levels.
    Raises :class:`InputError` for anything that is not a sequence of 32-byte
    ``bytes``.
    """
    level = _checked_leaves(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return bytes(level[0])


class MerkleTree:
    """An immutable RFC 9162 Merkle tree over 32-byte leaf hashes.

    Every level is kept as one contiguous ``bytes`` object (32 bytes per
    node): about 64 bytes of memory per leaf in total, and any inclusion or
    consistency proof costs O(log n) slicing with no rehashing of stored
    subtrees.
    """

    __slots__ = ("_levels", "_root", "_size")

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        """Build the tree. Precondition: every item is a 32-byte ``bytes`` leaf hash.

        Raises :class:`InputError` otherwise. An empty sequence gives the
        empty tree, whose root is SHA-256 of the empty string.
        """
        level = _checked_leaves(leaf_hashes)
        self._size = len(level)
        levels: list[bytes] = []
        if level:
            levels.append(_pack(level))
            while len(level) > 1:
                level = _next_level(level)
                levels.append(_pack(level))
        self._levels: tuple[bytes, ...] = tuple(levels)
        self._root = levels[-1] if levels else EMPTY_ROOT

    @property
    def root(self) -> bytes:
        """The Merkle Tree Hash (32 bytes)."""
        return self._root

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"MerkleTree(size={self._size}, root={self._root.hex()})"

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index`` (0-based)."""
        self._check_index(index)
        start = index * DIGEST_SIZE
        return self._levels[0][start : start + DIGEST_SIZE]

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The RFC 9162 section 2.1.3.1 inclusion proof of leaf ``index``, lowest level first.

        Precondition: ``0 <= index < size`` (raises :class:`InputError`).
        """
        if type(index) is not int or not 0 <= index < self._size:
            self._check_index(index)
        proof: list[bytes] = []
        append = proof.append
        width = DIGEST_SIZE
        # Every level but the top one, which is the root alone and has no sibling.
        for level in self._levels[:-1]:
            start = (index ^ 1) * width
            # No sibling means the node is an odd last one, promoted unchanged.
            if start < len(level):
                append(level[start : start + width])
            index >>= 1
        return proof

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """The RFC 9162 section 2.1.4.1 proof that the first ``old_size`` leaves form a prefix.

        Precondition: ``1 <= old_size <= size`` (raises :class:`InputError`);
        a proof from the empty tree is meaningless. ``old_size == size``
        gives the empty proof.
        """
        if type(old_size) is not int:
            raise InputError("old tree size must be an integer")
        if not 1 <= old_size <= self._size:
            raise InputError(f"old tree size {old_size} is outside 1..{self._size}")
        # SUBPROOF(m, D[start:end], complete) of RFC 9162, unrolled; items are
        # collected from the top down and reversed at the end.
        m, start, end, complete = old_size, 0, self._size, True
        reversed_proof: list[bytes] = []
        while m != end - start:
            k = _largest_power_of_two_below(end - start)
            if m <= k:
                reversed_proof.append(self._subtree_hash(start + k, end))
                end = start + k
            else:
                reversed_proof.append(self._subtree_hash(start, start + k))
                start += k
                m -= k
                complete = False
        if not complete:
            reversed_proof.append(self._subtree_hash(start, end))
        reversed_proof.reverse()
        return reversed_proof

    def _check_index(self, index: int) -> None:
        if type(index) is not int:
            raise InputError("leaf index must be an integer")
        if not 0 <= index < self._size:
            raise InputError(f"leaf index {index} is outside 0..{self._size - 1}")

    def _subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a subtree that RFC 9162's recursion visits.

        Such a range starts at a multiple of the smallest power of two not
        below its width, so it is either a stored node (a full subtree, or
        the right edge of the tree) or splits into a stored left half and a
        smaller range of the same kind: at most O(log n) hashes.
        """
        width = end - start
        height = (width - 1).bit_length()
        if start % (1 << height) == 0 and (width == 1 << height or end == self._size):
            offset = (start >> height) * DIGEST_SIZE
            return self._levels[height][offset : offset + DIGEST_SIZE]
        k = _largest_power_of_two_below(width)
        return _sha256(
            NODE_PREFIX + self._subtree_hash(start, start + k) + self._subtree_hash(start + k, end)
        ).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- verification ----------------------------------------------------------------


def _check_size(value: object, what: str) -> int:
    # bool is an int subclass; True must not pass for a leaf index of 1.
    if type(value) is not int:
        raise ProofError(f"{what} must be an integer, got {type(value).__name__}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise ProofError(f"{what} {value} is outside 0..2^64-1")
    return value


def _check_digest(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise ProofError(f"{what} must be {DIGEST_SIZE} bytes, got {type(value).__name__}")
    if len(value) != DIGEST_SIZE:
        raise ProofError(f"{what} must be {DIGEST_SIZE} bytes, got {len(value)}")
    return bytes(value)


def _check_proof(proof: object) -> tuple[bytes, ...]:
    if type(proof) is not list and type(proof) is not tuple:
        if isinstance(proof, (str, bytes, bytearray, memoryview)) or not isinstance(
            proof, Sequence
        ):
            raise ProofError(f"a proof must be a sequence of hashes, got {type(proof).__name__}")
        try:
            n = len(proof)
        except Exception as exc:  # a Sequence whose __len__ misbehaves is still bad input
            raise ProofError(f"a proof must be a sequence of hashes: {exc}") from exc
        if n > _MAX_PROOF_ITEMS:
            raise ProofError(f"a proof has at most {_MAX_PROOF_ITEMS} hashes, got {n}")
        try:
            # Copied once so that what is checked is what gets hashed.
            items = tuple(proof)
        except Exception as exc:
            raise ProofError(f"a proof must be a sequence of hashes: {exc}") from exc
    else:
        items = tuple(proof)
    if len(items) > _MAX_PROOF_ITEMS:
        raise ProofError(f"a proof has at most {_MAX_PROOF_ITEMS} hashes, got {len(items)}")
    for item in items:
        if type(item) is not bytes or len(item) != DIGEST_SIZE:
            # Slow path: reports the culprit, or normalises bytes subclasses.
            return tuple(_check_digest(h, f"proof hash {i}") for i, h in enumerate(items))
    return items


def inclusion_proof_size(index: int, size: int) -> int:
    """The exact number of hashes in an inclusion proof of leaf ``index`` in a tree of ``size``.

    Precondition: ``0 <= index < size`` (not checked here).
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_size(old_size: int, new_size: int) -> int:
    """The exact number of hashes in a consistency proof from ``old_size`` to ``new_size``.

    Precondition: ``0 < old_size <= new_size`` (not checked here).
    """
    if old_size == new_size:
        return 0
    shift = (old_size & -old_size).bit_length() - 1
    inner = (((old_size - 1) ^ (new_size - 1)).bit_length()) - shift
    border = ((old_size - 1) >> (inner + shift)).bit_count()
    seeded_by_old_root = old_size == 1 << shift
    return (0 if seeded_by_old_root else 1) + inner + border


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` leads to from leaf ``index`` of a tree of ``size`` leaves.

    RFC 9162 section 2.1.3.2. Preconditions, all checked before any hashing
    (:class:`ProofError` otherwise): ``leaf_hash`` and every proof item are
    32-byte ``bytes``; ``index`` and ``size`` are ``int`` (not ``bool``) with
    ``0 <= index < size <= 2^64 - 1``; ``proof`` is a sequence of exactly
    :func:`inclusion_proof_size` hashes.
    """
    index = _check_size(index, "leaf index")
    size = _check_size(size, "tree size")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    node = _check_digest(leaf_hash, "leaf hash")
    path = _check_proof(proof)
    inner = (index ^ (size - 1)).bit_length()
    expected = inner + (index >> inner).bit_count()
    if len(path) != expected:
        raise ProofError(
            f"an inclusion proof for leaf {index} of {size} has {expected} hashes, not {len(path)}"
        )
    sha = _sha256
    prefix = NODE_PREFIX
    # Below the point where the paths to ``index`` and to the last leaf part,
    # the index bits say on which side each sibling sits; above it, every
    # sibling is a left one (the leaf is on the tree's right border there).
    for level in range(inner):
        sibling = path[level]
        if (index >> level) & 1:
            node = sha(prefix + sibling + node).digest()
        else:
            node = sha(prefix + node + sibling).digest()
    for sibling in path[inner:]:
        node = sha(prefix + sibling + node).digest()
    return node


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Returns None when ``proof`` shows ``leaf_hash`` at ``index`` in the tree ``(size, root)``.

    Raises :class:`ProofError` for malformed input (see
    :func:`root_from_inclusion_proof`; ``root`` must be 32 bytes too) and
    :class:`RootMismatchError` (expected and calculated root) when the proof
    leads elsewhere.
    """
    expected = _check_digest(root, "root")
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if not hmac.compare_digest(calculated, expected):
        raise RootMismatchError(expected, calculated)


def root_from_consistency_proof(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes
) -> bytes:
    """The root of the ``new_size`` tree that ``proof`` extends ``old_root`` to.

    RFC 9162 section 2.1.4.2, arranged as in transparency-dev/merkle. Checks
    ``old_root`` on the way and raises :class:`RootMismatchError` if the
    proof does not lead back to it. Preconditions, all checked before any
    hashing (:class:`ProofError` otherwise): sizes are ``int`` (not
    ``bool``) with ``0 < old_size <= new_size <= 2^64 - 1`` (a proof from
    the empty tree proves nothing); ``old_root`` and every proof item are
    32-byte ``bytes``; ``proof`` has exactly :func:`consistency_proof_size`
    hashes (none when the sizes are equal).
    """
    old_size = _check_size(old_size, "old tree size")
    new_size = _check_size(new_size, "new tree size")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} exceeds new tree size {new_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    old_root = _check_digest(old_root, "old root")
    path = _check_proof(proof)
    expected = consistency_proof_size(old_size, new_size)
    if len(path) != expected:
        raise ProofError(
            f"a consistency proof from size {old_size} to {new_size} has {expected} hashes, "
            f"not {len(path)}"
        )
    if old_size == new_size:
        return old_root

    # The last old leaf's path from level ``shift`` upwards: the old tree's
    # rightmost full subtree of 2^shift leaves is the starting node, taken
    # from the proof unless it is the whole old tree (then it is old_root).
    shift = (old_size & -old_size).bit_length() - 1
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length() - shift
    if old_size == 1 << shift:
        seed, rest = old_root, path
    else:
        seed, rest = path[0], path[1:]
    mask = (old_size - 1) >> shift
    sha = _sha256
    prefix = NODE_PREFIX

    old_node = new_node = seed
    for level in range(inner):
        sibling = rest[level]
        if (mask >> level) & 1:
            old_node = sha(prefix + sibling + old_node).digest()
            new_node = sha(prefix + sibling + new_node).digest()
        else:
            # A right sibling exists only in the new tree.
            new_node = sha(prefix + new_node + sibling).digest()
    for sibling in rest[inner:]:
        old_node = sha(prefix + sibling + old_node).digest()
        new_node = sha(prefix + sibling + new_node).digest()

    if not hmac.compare_digest(old_node, old_root):
        raise RootMismatchError(old_root, old_node)
    return new_node


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Returns None when ``proof`` shows the ``old_size`` tree is a prefix of the ``new_size`` one.

    Raises :class:`ProofError` for malformed input (see
    :func:`root_from_consistency_proof`; ``new_root`` must be 32 bytes too)
    and :class:`RootMismatchError` when the proof does not connect
    ``old_root`` and ``new_root``.
    """
    expected = _check_digest(new_root, "new root")
    calculated = root_from_consistency_proof(old_size, new_size, proof, old_root)
    if not hmac.compare_digest(calculated, expected):
        raise RootMismatchError(expected, calculated)


# --- the log: proofs from stored subtree hashes, compact ranges, tiles --------------
#
# A log too large to hold in memory is read through a *node source*: a function
# ``node(height, index)`` that returns the hash of the perfect subtree of 2^height
# leaves starting at leaf ``index * 2^height`` (MTH of those leaves). Every proof
# below needs O(log n) such nodes, and every range that RFC 9162's recursion
# visits splits into perfect subtrees (largest first) whose fold is its hash.

NodeSource = Callable[[int, int], bytes]
"""``node(height, index)``: the root of the perfect subtree of 2^height leaves at ``index``."""

TILE_HEIGHT: Final = 8
"""A tile holds the nodes of one level whose height is a multiple of 8 (tlog-tiles)."""

TILE_WIDTH: Final = 1 << TILE_HEIGHT
"""At most 256 hashes in a tile."""


def _node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def _check_log_size(value: object, what: str) -> int:
    if type(value) is not int:
        raise InputError(f"{what} must be an integer")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise InputError(f"{what} {value} is outside 0..2^64-1")
    return value


def _perfect_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """(height, index) of the perfect subtrees that split [start, end), largest first.

    Precondition: ``start`` is a multiple of the largest power of two not above
    ``end - start`` (true of every range RFC 9162's recursion visits, and of
    [0, size)).
    """
    pieces: list[tuple[int, int]] = []
    pos, width = start, end - start
    while width:
        height = width.bit_length() - 1
        pieces.append((height, pos >> height))
        pos += 1 << height
        width -= 1 << height
    return pieces


def fold_compact_range(hashes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree hashes (largest first) right to left with ``node_hash``.

    The result is the Merkle Tree Hash of the range they split; the empty tree
    hash for no hashes.
    """
    if not hashes:
        return EMPTY_ROOT
    node = hashes[-1]
    for left in reversed(hashes[:-1]):
        node = _node_hash(left, node)
    return node


def subtree_hash(start: int, end: int, node: NodeSource) -> bytes:
    """MTH(D[start:end]) from a node source, for a range RFC 9162's recursion visits.

    Precondition: ``start < end`` and ``start`` is a multiple of the largest
    power of two not above ``end - start``.
    """
    return fold_compact_range([node(h, i) for h, i in _perfect_pieces(start, end)])


def compact_range(size: int, node: NodeSource) -> list[bytes]:
    """The compact range of a log of ``size`` leaves (log-v1 section 3).

    The roots of the perfect subtrees that split [0, size) by the binary form
    of ``size``, largest first; empty for size 0.
    """
    size = _check_log_size(size, "tree size")
    return [node(h, i) for h, i in _perfect_pieces(0, size)]


def log_inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    """The RFC 9162 section 2.1.3.1 inclusion proof of leaf ``index`` in the ``size`` tree.

    Same list as ``MerkleTree(leaves[:size]).inclusion_proof(index)``, read from
    O(log size) nodes. Precondition: ``0 <= index < size`` (:class:`InputError`).
    """
    size = _check_log_size(size, "tree size")
    if type(index) is not int or not 0 <= index < size:
        raise InputError(f"leaf index {index} is outside 0..{size - 1}")
    reversed_proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            reversed_proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            reversed_proof.append(node((k.bit_length() - 1), start // k))
            start += k
    reversed_proof.reverse()
    return reversed_proof


def log_consistency_proof(old_size: int, new_size: int, node: NodeSource) -> list[bytes]:
    """The RFC 9162 section 2.1.4.1 consistency proof from ``old_size`` to ``new_size``.

    Same list as ``MerkleTree(leaves[:new_size]).consistency_proof(old_size)``.
    Precondition: ``1 <= old_size <= new_size`` (:class:`InputError`).
    """
    old_size = _check_log_size(old_size, "old tree size")
    new_size = _check_log_size(new_size, "new tree size")
    if not 1 <= old_size <= new_size:
        raise InputError(f"old tree size {old_size} is outside 1..{new_size}")
    m, start, end, complete = old_size, 0, new_size, True
    reversed_proof: list[bytes] = []
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            reversed_proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            reversed_proof.append(node(k.bit_length() - 1, start // k))
            start += k
            m -= k
            complete = False
    if not complete:
        reversed_proof.append(subtree_hash(start, end, node))
    reversed_proof.reverse()
    return reversed_proof


_RANGE_BLOCK: Final = 1 << 16


def root_from_range(
    start_range: Sequence[bytes], start: int, leaf_hashes: Sequence[bytes]
) -> bytes:
    """The root of the log after appending ``leaf_hashes`` to the one of size ``start``.

    log-v1 section 3, range check: ``start_range`` is the compact range at size
    ``start``; the leaves are appended (equal-sized neighbours merged with
    ``node_hash``) and the result folded. Preconditions, checked before any
    hashing (:class:`ProofError` otherwise): ``start`` is an ``int`` in
    0..2^64-1, ``start_range`` has exactly popcount(start) 32-byte hashes and
    every leaf hash is 32 bytes.
    """
    return fold_compact_range(extend_compact_range(start_range, start, leaf_hashes))


def extend_compact_range(
    start_range: Sequence[bytes], start: int, leaf_hashes: Sequence[bytes]
) -> list[bytes]:
    """The compact range at size ``start + len(leaf_hashes)``, from the one at ``start``
    and the leaves appended to it (log-v1 section 3).

    Folding the result gives :func:`root_from_range`; passing it on lets a
    caller check consecutive ranges [a, b), [b, c), ... without asking anyone
    for the compact range at b. Same preconditions as :func:`root_from_range`.
    """
    start = _check_size(start, "range start")
    hashes = _check_proof(start_range)
    if len(hashes) != start.bit_count():
        raise ProofError(
            f"a compact range at size {start} has {start.bit_count()} hashes, not {len(hashes)}"
        )
    if isinstance(leaf_hashes, (bytes, bytearray, memoryview, str)):
        raise ProofError("leaf hashes must be a sequence of 32-byte hashes, not a single value")
    leaves = list(leaf_hashes)
    # Types and lengths checked in C passes first; the slow path only names the culprit.
    if set(map(type, leaves)) - {bytes} or set(map(len, leaves)) - {DIGEST_SIZE}:
        for n, leaf in enumerate(leaves):
            if type(leaf) is not bytes or len(leaf) != DIGEST_SIZE:
                _check_digest(leaf, f"leaf hash {n}")
    if start + len(leaves) > MAX_TREE_SIZE:
        raise ProofError("the range ends beyond 2^64-1")
    # The stack holds (height, hash) of the current compact range, largest first.
    stack: list[tuple[int, bytes]] = [
        (h, hashes[n]) for n, (h, _) in enumerate(_perfect_pieces(0, start))
    ]
    size, pos, count = start, 0, len(leaves)
    while pos < count:
        # The largest perfect subtree that starts at ``size`` and fits in what is left
        # (capped, so that a level never holds more than 64 Ki hashes at once).
        width = min(size & -size if size else _RANGE_BLOCK, 1 << ((count - pos).bit_length() - 1))
        width = min(width, _RANGE_BLOCK)
        level = leaves[pos : pos + width]
        while len(level) > 1:
            level = _next_level(level)
        node, height = level[0], width.bit_length() - 1
        # Appending a perfect subtree of height h at a multiple of 2^h closes one
        # subtree per equal-height neighbour on the stack.
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            node = _node_hash(left, node)
            height += 1
        stack.append((height, node))
        size += width
        pos += width
    return [h for _, h in stack]


def verify_range(
    start_range: Sequence[bytes], start: int, leaf_hashes: Sequence[bytes], end_root: bytes
) -> None:
    """Returns None when ``leaf_hashes`` are exactly the leaves that take the log from
    size ``start`` (compact range ``start_range``) to the tree whose root is ``end_root``.

    Raises :class:`ProofError` for malformed input (see :func:`root_from_range`)
    and :class:`RootMismatchError` otherwise.
    """
    expected = _check_digest(end_root, "end root")
    calculated = root_from_range(start_range, start, leaf_hashes)
    if not hmac.compare_digest(calculated, expected):
        raise RootMismatchError(expected, calculated)


def perfect_root(packed: bytes) -> bytes:
    """The root of a perfect subtree whose 2^k nodes of one level are packed in ``packed``.

    Precondition: ``len(packed)`` is 32 times a power of two (:class:`InputError`).
    """
    count = len(packed) // DIGEST_SIZE
    if count == 0 or count & (count - 1) or len(packed) % DIGEST_SIZE:
        raise InputError("a perfect subtree has a power-of-two number of 32-byte nodes")
    level = [packed[i : i + DIGEST_SIZE] for i in range(0, len(packed), DIGEST_SIZE)]
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def tile_levels(tile: bytes) -> tuple[bytes, ...]:
    """Every complete node a tile's nodes give, level by level, each level packed.

    ``tile_levels(tile)[k]`` holds the nodes of height ``8·level + k`` whose
    2^k descendants are all in ``tile`` (``len(tile) // 32 >> k`` of them), in
    order; ``[0]`` is the tile itself. A full tile gives 9 levels (255 hashes),
    after which any node it holds is a slice (:func:`node_from_levels`).

    Precondition: ``len(tile)`` is a multiple of 32, at most 256 nodes (:class:`InputError`).
    """
    count = len(tile) // DIGEST_SIZE
    if len(tile) % DIGEST_SIZE or count > TILE_WIDTH:
        raise InputError("a tile holds at most 256 nodes of 32 bytes")
    levels = [bytes(tile)]
    level = [tile[i : i + DIGEST_SIZE] for i in range(0, len(tile), DIGEST_SIZE)]
    while len(level) > 1:
        if len(level) & 1:
            level = level[:-1]  # its parent is not complete in this tile
        level = _next_level(level)
        levels.append(_pack(level))
    return tuple(levels)


def node_from_levels(height: int, index: int, levels: Sequence[bytes]) -> bytes:
    """Node (``height``, ``index``) from the :func:`tile_levels` of the tile that holds
    its descendants (the same value :func:`node_from_tile` computes from the tile)."""
    shift = height % TILE_HEIGHT
    position = index & ((TILE_WIDTH >> shift) - 1)
    packed = levels[shift] if shift < len(levels) else b""
    node = packed[position * DIGEST_SIZE : (position + 1) * DIGEST_SIZE]
    if len(node) != DIGEST_SIZE:
        raise InputError(f"the tile does not hold node ({height}, {index}) yet")
    return node


def node_from_tile(height: int, index: int, tile: bytes) -> bytes:
    """Node (``height``, ``index``) computed from the tile that holds its descendants.

    The tile is the one at level ``height // 8`` and index
    ``(index << (height % 8)) >> 8``; it must hold every descendant of the node
    at that level (it does once the node is complete).
    """
    shift = height % TILE_HEIGHT
    first = (index << shift) & (TILE_WIDTH - 1)
    count = 1 << shift
    piece = tile[first * DIGEST_SIZE : (first + count) * DIGEST_SIZE]
    if len(piece) != count * DIGEST_SIZE:
        raise InputError(f"the tile does not hold node ({height}, {index}) yet")
    if count == 1:
        return piece
    return perfect_root(piece)


def tile_updates(
    size: int, edge_tiles: Mapping[int, bytes], leaf_hashes: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """The tiles that change when ``leaf_hashes`` are appended to a log of ``size`` leaves.

    ``edge_tiles[level]`` is the current content of the rightmost tile of each
    level (the one at index ``(size >> 8·level) // 256``; absent or empty when
    that tile does not exist yet). Returns (level, index, content) for every
    tile to write, each content the tile's complete new value: the packed
    hashes of the nodes at height 8·level, from the tile's first one.
    """
    size = _check_log_size(size, "tree size")
    leaves = _checked_leaves(leaf_hashes)
    updates: list[tuple[int, int, bytes]] = []
    level = 0
    new_nodes = leaves
    tile_bytes = TILE_WIDTH * DIGEST_SIZE
    while new_nodes:
        old_count = size >> (TILE_HEIGHT * level)
        first_tile = old_count // TILE_WIDTH
        existing = edge_tiles.get(level, b"")
        if len(existing) != (old_count % TILE_WIDTH) * DIGEST_SIZE:
            raise InputError(
                f"the edge tile of level {level} holds {len(existing) // DIGEST_SIZE} hashes, "
                f"not {old_count % TILE_WIDTH}"
            )
        combined = existing + _pack(new_nodes)
        parents: list[bytes] = []
        for n, offset in enumerate(range(0, len(combined), tile_bytes)):
            content = combined[offset : offset + tile_bytes]
            updates.append((level, first_tile + n, content))
            if len(content) == tile_bytes:
                parents.append(perfect_root(content))
        new_nodes = parents
        level += 1
    return updates

"""The log's proofs (read through a node source), compact ranges, range checks and tiles.

Expectations come from elsewhere: the transparency-dev/merkle happy-path
vectors, pymerkle 7 (an independent implementation, see
test_merkle_properties.py) and the RFC written out word for word in
``tests/support/rfc9162.py``. The node source of every test is backed by the tiles that
:func:`merkle.tile_updates` wrote, so the tile layout is checked by every proof.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from docanchor import merkle
from docanchor.errors import InputError, ProofError, RootMismatchError
from docanchor.hashing import leaf_hash
from tests.support import rfc9162

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors" / "transparency-dev"
MAX_SIZE = 70_000  # spans three tile levels (256, 65,536)
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

LEAF_DATA = [hashlib.sha256(i.to_bytes(4, "big")).digest()[:6] for i in range(MAX_SIZE)]
LEAVES = [leaf_hash(data) for data in LEAF_DATA]


class TileLog:
    """A log kept only as tiles, appended in uneven steps as a store would."""

    def __init__(self) -> None:
        self.size = 0
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.reads = 0

    def append(self, leaves: list[bytes]) -> None:
        edge = {}
        level = 0
        while (self.size >> (8 * level)) > 0 or level == 0:
            index = (self.size >> (8 * level)) // merkle.TILE_WIDTH
            edge[level] = self.tiles.get((level, index), b"")
            level += 1
            if self.size >> (8 * level) == 0:
                break
        for level, index, content in merkle.tile_updates(self.size, edge, leaves):
            old = self.tiles.get((level, index), b"")
            assert content.startswith(old), "a tile only ever grows"
            self.tiles[(level, index)] = content
        self.size += len(leaves)

    def node(self, height: int, index: int) -> bytes:
        self.reads += 1
        level = height // merkle.TILE_HEIGHT
        tile_index = (index << (height % merkle.TILE_HEIGHT)) >> merkle.TILE_HEIGHT
        return merkle.node_from_tile(height, index, self.tiles[(level, tile_index)])


@cache
def _big_log() -> TileLog:
    log = TileLog()
    # Uneven appends: across tile edges, partial tiles completed later.
    steps = [1, 2, 253, 1, 300, 65_000, 3, 4_440]
    for step in steps:
        log.append(LEAVES[log.size : log.size + step])
    assert log.size == MAX_SIZE
    return log


@cache
def _pymerkle() -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")
    tree.append_entries(LEAF_DATA[:5_000])
    return tree


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _happy(kind: str) -> list[dict[str, object]]:
    cases = [json.loads(p.read_text()) for p in sorted((VECTORS / kind).rglob("*.json"))]
    happy = [c for c in cases if c["desc"] == "happy path"]
    assert happy, f"no {kind} vectors"
    return happy


def test_reference_vectors_from_tiles() -> None:
    log = TileLog()
    log.append([leaf_hash(d) for d in rfc9162.REFERENCE_LEAF_DATA])
    for case in _happy("inclusion"):
        index, size = int(case["leafIdx"]), int(case["treeSize"])  # type: ignore[call-overload]
        proof = [_b64(p) for p in case["proof"] or []]  # type: ignore[attr-defined]
        assert merkle.log_inclusion_proof(index, size, log.node) == proof
        assert merkle.fold_compact_range(merkle.compact_range(size, log.node)) == _b64(
            case["root"]  # type: ignore[arg-type]
        )
    for case in _happy("consistency"):
        first, second = int(case["size1"]), int(case["size2"])  # type: ignore[call-overload]
        proof = [_b64(p) for p in case["proof"] or []]  # type: ignore[attr-defined]
        assert merkle.log_consistency_proof(first, second, log.node) == proof


def test_known_answer_compact_range_of_seven() -> None:
    # Computed by hand from the RFC's definitions: 7 = 4 + 2 + 1.
    leaves = [leaf_hash(d) for d in rfc9162.REFERENCE_LEAF_DATA]
    log = TileLog()
    log.append(leaves)
    expected = [rfc9162.mth(leaves[:4]), rfc9162.mth(leaves[4:6]), leaves[6]]
    assert merkle.compact_range(7, log.node) == expected
    assert merkle.fold_compact_range(expected) == rfc9162.mth(leaves[:7])
    assert merkle.compact_range(0, log.node) == []
    assert merkle.fold_compact_range([]) == merkle.EMPTY_ROOT


@SETTINGS
@given(st.data())
def test_proofs_from_tiles_agree_with_pymerkle_and_the_rfc(data: st.DataObject) -> None:
    log = _big_log()
    reference = _pymerkle()
    size = data.draw(st.integers(1, 5_000), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.log_inclusion_proof(index, size, log.node)
    assert proof == list(reference.prove_inclusion(index + 1, size).path[1:])
    root = reference.get_root(size)
    merkle.verify_inclusion(LEAVES[index], index, size, proof, root)
    assert merkle.fold_compact_range(merkle.compact_range(size, log.node)) == root
    old = data.draw(st.integers(1, size), label="old")
    consistency = merkle.log_consistency_proof(old, size, log.node)
    assert consistency == rfc9162.subproof(old, LEAVES[:size], True)
    merkle.verify_consistency(old, size, consistency, reference.get_root(old), root)


@pytest.mark.parametrize(
    ("old", "new"),
    [(1, MAX_SIZE), (256, 65_536), (65_535, 65_537), (300, 69_999), (MAX_SIZE, MAX_SIZE)],
)
def test_big_proofs_read_few_nodes(old: int, new: int) -> None:
    log = _big_log()
    tree = merkle.MerkleTree(LEAVES[:new])
    log.reads = 0
    assert merkle.log_consistency_proof(old, new, log.node) == tree.consistency_proof(old)
    assert merkle.log_inclusion_proof(old - 1, new, log.node) == tree.inclusion_proof(old - 1)
    assert merkle.fold_compact_range(merkle.compact_range(new, log.node)) == tree.root
    # O(log n) nodes, each from one tile: never a pass over the leaves.
    assert log.reads <= 4 * new.bit_length()


@SETTINGS
@given(st.data())
def test_range_check_joins_two_checkpoints(data: st.DataObject) -> None:
    log = _big_log()
    start = data.draw(st.integers(0, 3_000), label="start")
    end = data.draw(st.integers(start, start + 1_500), label="end")
    start_range = merkle.compact_range(start, log.node)
    root = merkle.root_from_range(start_range, start, LEAVES[start:end])
    assert root == rfc9162.mth(LEAVES[:end]) if end < 600 else merkle.root_of(LEAVES[:end])
    merkle.verify_range(start_range, start, LEAVES[start:end], root)
    if end > start:
        # A missing, an extra, a reordered or an altered leaf cannot pass.
        leaves = LEAVES[start:end]
        for bad in (
            leaves[1:],
            [*leaves, LEAVES[end]],
            [leaves[-1], *leaves[:-1]] if len(leaves) > 1 else [LEAVES[end]],
            [hashlib.sha256(leaves[0]).digest(), *leaves[1:]],
        ):
            with pytest.raises(RootMismatchError):
                merkle.verify_range(start_range, start, bad, root)


def test_range_check_refuses_malformed_input() -> None:
    with pytest.raises(ProofError, match="has 2 hashes, not 1"):
        merkle.root_from_range([LEAVES[0]], 3, [])
    with pytest.raises(ProofError):
        merkle.root_from_range([b"short"], 1, [])
    with pytest.raises(ProofError):
        merkle.root_from_range([], 0, [b"\x00" * 31])
    with pytest.raises(ProofError):
        merkle.root_from_range([], True, [])  # type: ignore[arg-type]
    with pytest.raises(ProofError):
        merkle.verify_range([], 0, [], b"\x00" * 31)


def test_tiles_hold_exactly_the_complete_nodes() -> None:
    log = _big_log()
    # Level 0: the leaves; level 1: roots of 256-leaf subtrees; level 2: of 65,536.
    assert log.tiles[(0, 0)] == b"".join(LEAVES[:256])
    assert len(log.tiles[(0, MAX_SIZE // 256)]) == (MAX_SIZE % 256) * 32
    assert log.tiles[(1, 0)][:32] == merkle.root_of(LEAVES[:256])
    assert len(log.tiles[(1, 0)]) == 256 * 32
    assert log.tiles[(2, 0)] == merkle.root_of(LEAVES[:65_536])
    assert (3, 0) not in log.tiles


def test_tile_updates_refuse_a_wrong_edge_tile() -> None:
    with pytest.raises(InputError, match="edge tile of level 0"):
        merkle.tile_updates(3, {0: LEAVES[0]}, [LEAVES[3]])
    with pytest.raises(InputError):
        merkle.tile_updates(0, {}, [b"\x00" * 31])
    assert merkle.tile_updates(5, {}, []) == []


def test_proof_preconditions() -> None:
    log = _big_log()
    with pytest.raises(InputError):
        merkle.log_inclusion_proof(5, 5, log.node)
    with pytest.raises(InputError):
        merkle.log_consistency_proof(0, 5, log.node)
    with pytest.raises(InputError):
        merkle.log_consistency_proof(6, 5, log.node)
    with pytest.raises(InputError):
        merkle.compact_range(-1, log.node)
    with pytest.raises(InputError):
        merkle.perfect_root(b"\x00" * 96)
    with pytest.raises(InputError, match="does not hold"):
        merkle.node_from_tile(1, 0, LEAVES[0])


@SETTINGS
@given(st.data())
def test_extending_a_compact_range_gives_the_stored_compact_range(data: st.DataObject) -> None:
    # The expected range is read from the tiles (compact_range), which the
    # tests above check against pymerkle and the RFC; the extension is
    # computed from the leaves alone, in several steps.
    log = _big_log()
    start = data.draw(st.integers(0, 3_000), label="start")
    middle = data.draw(st.integers(start, start + 700), label="middle")
    end = data.draw(st.integers(middle, middle + 700), label="end")
    first = merkle.extend_compact_range(
        merkle.compact_range(start, log.node), start, LEAVES[start:middle]
    )
    assert first == merkle.compact_range(middle, log.node)
    second = merkle.extend_compact_range(first, middle, LEAVES[middle:end])
    assert second == merkle.compact_range(end, log.node)
    assert merkle.fold_compact_range(second) == merkle.root_of(LEAVES[:end])


def test_extending_a_compact_range_checks_its_input() -> None:
    with pytest.raises(ProofError, match="has 0 hashes, not 1"):
        merkle.extend_compact_range([LEAVES[0]], 0, [])
    assert merkle.extend_compact_range([], 0, []) == []
    # Known answer: three leaves give the pair's node and the third leaf (RFC 9162 2.1.1).
    assert merkle.extend_compact_range([], 0, LEAVES[:3]) == [
        rfc9162.mth(LEAVES[:2]),
        LEAVES[2],
    ]


@pytest.mark.parametrize("start", [0, 5, 65_536, 65_537])
def test_extending_across_whole_blocks_of_leaves(start: int) -> None:
    # Long ranges are appended in perfect blocks of up to 65,536 leaves; the
    # expectation is the compact range read from the tiles.
    log = _big_log()
    extended = merkle.extend_compact_range(
        merkle.compact_range(start, log.node), start, LEAVES[start:MAX_SIZE]
    )
    assert extended == merkle.compact_range(MAX_SIZE, log.node)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 128, 129, 255, 256])
def test_tile_levels_give_the_nodes_node_from_tile_computes(count: int) -> None:
    # Every node a tile can give, read from its precomputed levels, against the
    # node computed from the tile itself; the full tile's top is the RFC root.
    tile = b"".join(LEAVES[:count])
    levels = merkle.tile_levels(tile)
    assert levels[0] == tile
    for height in range(merkle.TILE_HEIGHT):  # height 8 is the next level's tiles
        for index in range(merkle.TILE_WIDTH >> height):
            if (index + 1) << height <= count:
                expected = merkle.node_from_tile(height, index, tile)
                assert merkle.node_from_levels(height, index, levels) == expected
            else:
                with pytest.raises(InputError, match="does not hold"):
                    merkle.node_from_levels(height, index, levels)
    if count == merkle.TILE_WIDTH:
        assert levels[8] == rfc9162.mth(LEAVES[:count])
    with pytest.raises(InputError):
        merkle.tile_levels(tile + b"\x00")


def test_log_proofs_read_through_tile_levels_are_the_same() -> None:
    # The node source of a store (tiles read, then their levels) gives the same
    # proofs as the tiles read directly.
    log = _big_log()

    def through_levels(height: int, index: int) -> bytes:
        level = height // merkle.TILE_HEIGHT
        tile_index = (index << (height % merkle.TILE_HEIGHT)) >> merkle.TILE_HEIGHT
        levels = merkle.tile_levels(log.tiles[(level, tile_index)])
        return merkle.node_from_levels(height, index, levels)

    for size in (1, 2, 255, 256, 257, 65_536, 65_537, MAX_SIZE):
        for index in {0, size // 3, size - 1}:
            assert merkle.log_inclusion_proof(index, size, through_levels) == (
                merkle.log_inclusion_proof(index, size, log.node)
            )

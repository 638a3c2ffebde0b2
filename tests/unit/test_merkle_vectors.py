"""The transparency-dev/merkle inclusion and consistency test cases.

The cases are copied, unchanged, into ``tests/data/vectors/transparency-dev``
from transparency-dev/merkle at commit 417fb0c314750d94e53942e9f92e79b6d35915db
(Apache-2.0, its LICENSE beside them; see ``tests/data/vectors/README.md``).
Each JSON file is one case; a conforming verifier succeeds exactly for the
cases with ``"wantErr": false``. A missing or empty folder is
a failure, never a skip.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from docanchor import merkle
from docanchor.errors import ProofError, VerificationError
from docanchor.hashing import leaf_hash
from tests.support import rfc9162

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors" / "transparency-dev"
INCLUSION = VECTORS / "inclusion"
CONSISTENCY = VECTORS / "consistency"

# The one case where this verifier is deliberately stricter than the vectors:
# two trees of size 1 with the same 12-byte "roots" (the text "don't care 2").
# transparency-dev compares equal-size roots byte for byte without checking
# their length; docanchor refuses any root that is not a 32-byte SHA-256
# digest, on every path. The same case with real 32-byte roots succeeds (see
# test_equal_sizes_with_real_roots_are_consistent).
STRICTER_THAN_VECTORS = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": "non-32-byte roots",
}

# The tree of the happy-path cases (the RFC 6962 reference leaves).
REFERENCE_LEAF_DATA = rfc9162.REFERENCE_LEAF_DATA
REFERENCE_LEAVES = [leaf_hash(data) for data in REFERENCE_LEAF_DATA]


def _cases(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


def _params(folder: Path) -> list[Any]:
    files = _cases(folder)
    if not files:
        # Keeps collection alive so that the test below fails with a clear message.
        return [pytest.param(None, id="vectors-missing")]
    return [pytest.param(f, id=f.relative_to(VECTORS).as_posix()) for f in files]


def _load(path: Path | None) -> dict[str, Any]:
    if path is None:
        pytest.fail(f"no test vectors under {VECTORS.resolve()}; they must be present")
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return case


def _b64(value: str | None) -> bytes | None:
    # null stays None (a wrong type, which the verifier must refuse); "" decodes
    # to b"", a malformed value that must be refused as well.
    return None if value is None else base64.b64decode(value, validate=True)


def _proof(value: list[str] | None) -> list[bytes | None]:
    return [] if value is None else [_b64(item) for item in value]


def _key(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def test_vector_folders_are_present_and_populated() -> None:
    assert INCLUSION.is_dir(), f"missing {INCLUSION.resolve()}"
    assert CONSISTENCY.is_dir(), f"missing {CONSISTENCY.resolve()}"
    inclusion, consistency = _cases(INCLUSION), _cases(CONSISTENCY)
    # 98 cases each at transparency-dev/merkle 417fb0c: a shrunken copy is noticed.
    assert len(inclusion) >= 90, len(inclusion)
    assert len(consistency) >= 90, len(consistency)
    assert any(not _load(p)["wantErr"] for p in inclusion)
    assert any(not _load(p)["wantErr"] for p in consistency)


@pytest.mark.parametrize("path", _params(INCLUSION))
def test_inclusion_vector(path: Path | None) -> None:
    case = _load(path)
    args = (
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        _proof(case["proof"]),
        _b64(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(*args)  # type: ignore[arg-type]
    else:
        merkle.verify_inclusion(*args)  # type: ignore[arg-type]
        root = merkle.root_from_inclusion_proof(*args[:4])  # type: ignore[arg-type]
        assert root == args[4]


@pytest.mark.parametrize("path", _params(CONSISTENCY))
def test_consistency_vector(path: Path | None) -> None:
    case = _load(path)
    assert path is not None
    args = (
        case["size1"],
        case["size2"],
        _proof(case["proof"]),
        _b64(case["root1"]),
        _b64(case["root2"]),
    )
    stricter = STRICTER_THAN_VECTORS.get(_key(path))
    if stricter is not None:
        assert case["wantErr"] is False, "the vectors changed; revisit STRICTER_THAN_VECTORS"
        with pytest.raises(ProofError, match="32 bytes"):
            merkle.verify_consistency(*args)  # type: ignore[arg-type]
    elif case["wantErr"]:
        with pytest.raises(VerificationError):
            merkle.verify_consistency(*args)  # type: ignore[arg-type]
    else:
        merkle.verify_consistency(*args)  # type: ignore[arg-type]
        new_root = merkle.root_from_consistency_proof(*args[:4])  # type: ignore[arg-type]
        assert new_root == args[4]


def test_stricter_cases_exist() -> None:
    for key in STRICTER_THAN_VECTORS:
        assert (VECTORS / key).is_file(), key


def test_equal_sizes_with_real_roots_are_consistent() -> None:
    root = merkle.root_of(REFERENCE_LEAVES[:1])
    merkle.verify_consistency(1, 1, [], root, root)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(1, 1, [], root, merkle.root_of(REFERENCE_LEAVES[1:2]))


def _happy_paths(folder: Path) -> list[Any]:
    happy = [p for p in _cases(folder) if p.name == "happy-path.json"]
    if not happy:
        return [pytest.param(None, id="vectors-missing")]
    return [pytest.param(p, id=_key(p)) for p in happy]


@pytest.mark.parametrize("path", _happy_paths(INCLUSION))
def test_tree_builds_the_vector_inclusion_proof(path: Path | None) -> None:
    """The tree itself produces the same root and proof bytes as the vectors."""
    case = _load(path)
    tree = merkle.MerkleTree(REFERENCE_LEAVES[: case["treeSize"]])
    assert tree.root == _b64(case["root"])
    assert tree.leaf_hash(case["leafIdx"]) == _b64(case["leafHash"])
    assert tree.inclusion_proof(case["leafIdx"]) == _proof(case["proof"])


@pytest.mark.parametrize("path", _happy_paths(CONSISTENCY))
def test_tree_builds_the_vector_consistency_proof(path: Path | None) -> None:
    case = _load(path)
    tree = merkle.MerkleTree(REFERENCE_LEAVES[: case["size2"]])
    assert tree.root == _b64(case["root2"])
    assert merkle.root_of(REFERENCE_LEAVES[: case["size1"]]) == _b64(case["root1"])
    assert tree.consistency_proof(case["size1"]) == _proof(case["proof"])


def test_every_happy_path_was_checked() -> None:
    # Five numbered folders per kind at transparency-dev/merkle 417fb0c.
    assert len(_happy_paths(INCLUSION)) >= 5
    assert len(_happy_paths(CONSISTENCY)) >= 5

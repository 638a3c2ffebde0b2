"""An opening of a log leaf (receipt-v1 section 3), checked by the period audit: the fast
check and the one that names the problem agree on every opening."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from docanchor import hashing
from docanchor.audit import opening_problem, opens

SALT = bytes(range(32))
DOC = bytes(range(32, 64))


def entry_for(metadata: Any) -> tuple[dict[str, Any], bytes]:
    digest = hashing.metadata_digest(metadata)
    leaf = hashing.document_leaf_hash(SALT, DOC, digest)
    entry = {
        "index": 0,
        "leaf_hash": leaf.hex(),
        "salt": SALT.hex(),
        "sha256": DOC.hex(),
        "metadata_sha256": digest.hex(),
        "metadata": metadata,
    }
    return entry, leaf


FLAT = {"entity_ruc": "20131370998", "type": "orden", "reference": "OC-1", "n": 3, "ok": True}
NESTED = {"type": "contrato", "partes": [{"ruc": "20100000001"}, None], "monto": {"pen": 10}}


@pytest.mark.parametrize("metadata", [{}, FLAT, NESTED, {"ñ": "año", "\u00e9": "\u2028"}])
def test_a_true_opening_opens_its_leaf(metadata: dict[str, Any]) -> None:
    entry, leaf = entry_for(metadata)
    assert opens(entry, leaf) is True
    assert opening_problem(entry, leaf) is None


Change = Callable[[dict[str, Any]], dict[str, Any]]
CHANGES: list[tuple[str, Change, str]] = [
    ("uppercase salt", lambda e: {**e, "salt": e["salt"].upper()}, "salt must be 64 lowercase"),
    ("short salt", lambda e: {**e, "salt": e["salt"][:-2]}, "salt must be 64 lowercase"),
    ("no sha256", lambda e: {k: v for k, v in e.items() if k != "sha256"}, "sha256 must be"),
    ("salt as a number", lambda e: {**e, "salt": 7}, "salt must be a string"),
    ("swapped digests", lambda e: {**e, "salt": e["sha256"], "sha256": e["salt"]}, "hashes to"),
    ("retyped", lambda e: {**e, "metadata": {**e["metadata"], "type": "x"}}, "metadata that hash"),
    ("metadata as a list", lambda e: {**e, "metadata": [e["metadata"]]}, "no metadata object"),
    ("no metadata", lambda e: {k: v for k, v in e.items() if k != "metadata"}, "no metadata"),
    ("a float", lambda e: {**e, "metadata": {**e["metadata"], "n": 1.5}}, "malformed"),
    (
        "digest of other metadata",
        lambda e: {
            **e,
            "metadata": {"type": "x"},
            "metadata_sha256": hashing.metadata_digest({"type": "x"}).hex(),
        },
        "hashes to leaf",
    ),
]


@pytest.mark.parametrize(("name", "change", "words"), CHANGES, ids=[c[0] for c in CHANGES])
@pytest.mark.parametrize("metadata", [FLAT, NESTED], ids=["flat", "nested"])
def test_an_altered_opening_does_not_open_and_says_why(
    metadata: dict[str, Any], name: str, change: Change, words: str
) -> None:
    entry, leaf = entry_for(metadata)
    altered = change(entry)
    assert opens(altered, leaf) is False
    problem = opening_problem(altered, leaf)
    assert problem is not None and words in problem, problem


def test_another_leaf_is_not_opened() -> None:
    entry, _ = entry_for(FLAT)
    other = hashing.leaf_hash(b"other")
    assert opens(entry, other) is False
    assert "not the log's" in (opening_problem(entry, other) or "")

"""Leaf hashes and roots of stored registrations, as the service reads them back.

Pure functions over the values the store returns (hex text or 32-byte
binary): no database, no chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from docanchor import hashing
from docanchor.merkle import MerkleTree


def leaf_hash_of_row(salt_hex: str, sha256_hex: str, metadata_sha256_hex: str) -> bytes:
    return hashing.leaf_hash(bytes.fromhex(salt_hex + sha256_hex + metadata_sha256_hex))


def leaf_hashes_of_rows(rows: Iterable[tuple[str, str, str]]) -> list[bytes]:
    """Leaf hashes of (salt, sha256, metadata_sha256) hex rows."""
    sha = hashlib.sha256
    fromhex = bytes.fromhex
    return [sha(b"\x00" + fromhex(a + b + c)).digest() for a, b, c in rows]


def leaf_hashes_of_stored(rows: Iterable[tuple[bytes, bytes, bytes]]) -> list[bytes]:
    """Leaf hashes of (salt, sha256, metadata_sha256) rows as stored (32 bytes each)."""
    sha = hashlib.sha256
    return [sha(b"\x00" + a + b + c).digest() for a, b, c in rows]


def root_of_rows(rows: Iterable[tuple[str, str, str]]) -> bytes:
    return MerkleTree([leaf_hash_of_row(*r) for r in rows]).root

"""Hashes of the docanchor receipt format (spec sections 1 to 3).

SHA-256 everywhere; RFC 9162 domain separation (0x00 for leaves, 0x01 for
interior nodes); RFC 8785 canonical JSON for metadata.

Pure core: standard library and ``rfc8785`` only. The one function that reads
a file takes an already open binary stream; it never opens paths itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring as _encode_string
from typing import Any, BinaryIO, Final

import rfc8785

from docanchor.errors import InputError, MetadataError

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
DIGEST_SIZE: Final = 32
SALT_SIZE: Final = 32
LEAF_DATA_SIZE: Final = SALT_SIZE + 2 * DIGEST_SIZE
CHUNK_SIZE: Final = 1 << 20
MAX_METADATA_BYTES: Final = 16 * 1024
MAX_SAFE_INTEGER: Final = 2**53 - 1
MAX_METADATA_DEPTH: Final = 62
"""Deepest nesting of arrays and objects accepted in metadata.

A receipt nests at most 64 levels (receipt-v1 section 5) and carries the
metadata two levels down (the receipt object, then ``document``), hence 62.
Checked without recursion, before anything recursive runs, so that a hostile
input is refused with a clear message, never by exhausting the stack."""

# A hex64 value: a 32-byte digest as 64 lowercase hex characters, no prefix.
HEX64: Final = re.compile(r"[0-9a-f]{64}")

_sha256 = hashlib.sha256


def sha256(data: bytes) -> bytes:
    return _sha256(data).digest()


def leaf_hash(leaf_data: bytes) -> bytes:
    """SHA-256(0x00 ‖ leaf_data), RFC 9162 section 2.1.1."""
    return _sha256(LEAF_PREFIX + leaf_data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right), RFC 9162 section 2.1.1."""
    return _sha256(NODE_PREFIX + left + right).digest()


def leaf_data(salt: bytes, document_sha256: bytes, metadata_sha256: bytes) -> bytes:
    """salt ‖ document_sha256 ‖ metadata_sha256: the 96 raw bytes of a leaf.

    Precondition: each argument is exactly 32 bytes (checked).
    """
    for name, value in (
        ("salt", salt),
        ("document sha256", document_sha256),
        ("metadata sha256", metadata_sha256),
    ):
        if len(value) != DIGEST_SIZE:
            raise InputError(f"{name} must be 32 bytes, got {len(value)}")
    return salt + document_sha256 + metadata_sha256


def document_leaf_hash(salt: bytes, document_sha256: bytes, metadata_sha256: bytes) -> bytes:
    """The leaf hash of one registration."""
    return leaf_hash(leaf_data(salt, document_sha256, metadata_sha256))


def digest_stream(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> tuple[bytes, int]:
    """SHA-256 of everything left in ``stream``, read in fixed-size chunks.

    Returns the digest and the number of bytes read. Never holds more than one
    chunk in memory. Precondition: ``chunk_size >= 1`` (checked).
    """
    # read(0) returns b"" (the digest of nothing would come back for any file)
    # and read(-1) reads everything at once: both would break the contract.
    if type(chunk_size) is not int or chunk_size < 1:
        raise InputError(f"chunk size must be a positive integer, got {chunk_size!r}")
    h = _sha256()
    total = 0
    read = stream.read
    while chunk := read(chunk_size):
        h.update(chunk)
        total += len(chunk)
    return h.digest(), total


def digest_chunks(chunks: Iterable[bytes]) -> bytes:
    h = _sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.digest()


# --- metadata (spec section 2) -----------------------------------------------


def json_depth(value: Any) -> int:
    """Nesting depth of decoded JSON (a scalar is 0, ``[]`` and ``{}`` are 1). Iterative."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            deepest = max(deepest, depth)
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > 10 * MAX_METADATA_DEPTH:
            return depth  # deep enough to refuse; no need to walk the rest
        stack.extend((child, depth) for child in children)
    return deepest


def _check_metadata_value(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise MetadataError(
                f"metadata value at {path} is an integer outside ±(2^53 − 1): {value}"
            )
        return
    if isinstance(value, float):
        raise MetadataError(
            f"metadata value at {path} is a floating-point number ({value!r}); "
            "write it as a string or an integer"
        )
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_metadata_value(item, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MetadataError(f"metadata key at {path} is not a string: {key!r}")
            _check_metadata_value(item, f"{path}.{key}")
        return
    raise MetadataError(f"metadata value at {path} has an unsupported type {type(value).__name__}")


def canonical_metadata(metadata: Mapping[str, Any] | None) -> bytes:
    """RFC 8785 bytes of ``metadata`` after checking the spec's allowed values.

    ``None`` stands for no metadata, i.e. ``{}``. Raises :class:`MetadataError`
    for anything the receipt format refuses.
    """
    if metadata is None:
        return b"{}"
    if not isinstance(metadata, Mapping):
        raise MetadataError("metadata must be a JSON object")
    flat = _flat_canonical(metadata)
    if flat is not None:
        return flat
    if json_depth(metadata) > MAX_METADATA_DEPTH:
        raise MetadataError(f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep")
    _check_metadata_value(metadata, "$")
    try:
        canonical: bytes = rfc8785.dumps(metadata)
    except Exception as exc:  # rfc8785 raises its own types for odd input
        raise MetadataError(f"metadata cannot be canonicalised: {exc}") from exc
    if len(canonical) > MAX_METADATA_BYTES:
        raise MetadataError(
            f"metadata is {len(canonical)} bytes in canonical form; at most {MAX_METADATA_BYTES}"
        )
    return canonical


def canonical_json_fast(value: Any) -> bytes | None:
    """RFC 8785 bytes of a JSON value made of objects, arrays, strings, booleans,
    nulls and safe integers, written by ``json.dumps``; None for anything else
    (a float, a larger integer, a key beyond U+FFFF, a lone surrogate, nesting
    deeper than 64), which the caller gives to ``rfc8785``.

    For such values ``json.dumps(sort_keys=True, ensure_ascii=False)`` with no
    spaces is RFC 8785 (see :func:`_flat_canonical`); receipts are such values,
    and their signing payload is made here several times faster than by ``rfc8785``.
    """
    if not _plain_json(value, 0):
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _plain_json(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if depth >= 64:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _plain_json(item, depth + 1):
                return False
        keys = "".join(value)
        return keys.isascii() or max(map(ord, keys)) <= 0xFFFF
    if kind is list:
        return all(_plain_json(item, depth + 1) for item in value)
    return False


def _flat_canonical(metadata: Mapping[str, Any]) -> bytes | None:
    """RFC 8785 bytes of a flat object of strings, booleans, nulls and safe integers,
    written as ``json.dumps`` writes them; None when ``metadata`` is anything else.

    For such objects ``json.dumps(sort_keys=True, ensure_ascii=False)`` with no
    spaces is exactly RFC 8785: strings escape the same characters the same
    way (the short forms, else lowercase ``\\u00XX`` for other controls),
    safe integers print alike, and keys sort alike as long as none holds a
    character beyond U+FFFF (RFC 8785 sorts by UTF-16 code units, Python by
    code points; they differ only there). Anything else goes to ``rfc8785``.
    The members are written here with the string encoder ``json.dumps`` uses
    (``json.encoder.encode_basestring``), which saves building an encoder for
    each object: the same bytes, in about half the time.
    """
    if type(metadata) is not dict:
        return None
    try:
        items = sorted(metadata.items())
    except TypeError:  # keys that are not all strings
        return None
    members: list[str] = []
    for key, value in items:
        kind = type(value)
        if type(key) is not str:
            return None
        if kind is str:
            text = _encode_string(value)
        elif value is None:
            text = "null"
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            text = int.__repr__(value)
        else:
            return None
        members.append(_encode_string(key) + ":" + text)
    keys = "".join(metadata)
    if not keys.isascii() and max(map(ord, keys)) > 0xFFFF:
        return None
    try:
        canonical = ("{" + ",".join(members) + "}").encode("utf-8")
    except UnicodeEncodeError:
        return None  # a lone surrogate: rfc8785 names the problem
    if len(canonical) > MAX_METADATA_BYTES:
        return None  # the slow path says how large it is
    return canonical


def metadata_digest(metadata: Mapping[str, Any] | None) -> bytes:
    """SHA-256(JCS(metadata)); ``None`` counts as ``{}``."""
    return _sha256(canonical_metadata(metadata)).digest()


# --- hex at the edges ---------------------------------------------------------


def is_hex64(value: object) -> bool:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def parse_hex64(value: object, what: str = "value") -> bytes:
    """Bytes of a hex64 string (64 lowercase hex characters, no prefix)."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string of 64 lowercase hex characters")
    if HEX64.fullmatch(value) is None:
        raise InputError(
            f"{what} must be 64 lowercase hex characters (a SHA-256 digest), got {value[:80]!r}"
        )
    return bytes.fromhex(value)


def hex64_concat(*values: object) -> bytes | None:
    """The bytes of several hex64 strings side by side (a leaf's data from its salt,
    document and metadata digests as hex), or None when any is not a hex64 string.

    One conversion for all of them, checked by converting back (so uppercase,
    blanks and signs are refused as :func:`parse_hex64` refuses them, and that
    function says what is wrong).
    """
    for value in values:
        if type(value) is not str or len(value) != 2 * DIGEST_SIZE:
            return None
    text = "".join(values)  # type: ignore[arg-type]
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return None
    return data if data.hex() == text else None


def parse_sha256_lenient(value: str, what: str = "digest") -> bytes:
    """Accepts a user-typed digest: optional 0x, either case, surrounding blanks."""
    text = value.strip()
    if text.startswith(("0x", "0X")):
        text = text[2:]
    return parse_hex64(text.lower(), what)

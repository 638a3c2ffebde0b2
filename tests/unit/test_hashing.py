"""Known-answer tests of docanchor.hashing (receipt format sections 1 to 3).

Each expected value says how it was computed outside the code under test:
with ``printf ... | sha256sum`` in a shell, or with ``hashlib`` by hand.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from docanchor import hashing
from docanchor.errors import InputError, MetadataError
from tests.support.ids import param_id

SALT = bytes(32)
DOC = b"\x01" * 32
META = b"\x02" * 32


# --- leaves and nodes ---------------------------------------------------------


def test_leaf_hash_of_empty_data() -> None:
    # printf '\x00' | sha256sum  (also the first RFC 6962 reference leaf)
    expected = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert hashing.leaf_hash(b"").hex() == expected


def test_leaf_hash_prefixes_0x00() -> None:
    # printf '\x00abc' | sha256sum
    expected = "609f6e36d2405585188d5cfd761f407c7cc46a7d3f314c88270469dde315fcd1"
    assert hashing.leaf_hash(b"abc").hex() == expected
    # printf 'abc' | sha256sum: the unprefixed hash must differ
    assert hashing.leaf_hash(b"abc").hex() != (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert hashing.sha256(b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_node_hash_prefixes_0x01_and_keeps_order() -> None:
    # python3 -c "import sys; sys.stdout.buffer.write(b'\x01'+bytes(32)+b'\xff'*32)" | sha256sum
    expected = "bc6b943b820c449acf880d293c216a24a8066b153f87f2361fae2beda3a72641"
    left, right = bytes(32), b"\xff" * 32
    assert hashing.node_hash(left, right).hex() == expected
    # No sorting of pairs: swapping the children changes the hash.
    assert hashing.node_hash(right, left) != hashing.node_hash(left, right)
    assert hashing.node_hash(right, left) == hashlib.sha256(b"\x01" + right + left).digest()


def test_leaf_data_and_document_leaf_hash() -> None:
    data = hashing.leaf_data(SALT, DOC, META)
    assert data == SALT + DOC + META
    assert len(data) == hashing.LEAF_DATA_SIZE == 96
    # python3 -c "import sys; sys.stdout.buffer.write(b'\x00'+bytes(32)+b'\x01'*32+b'\x02'*32)"
    #   | sha256sum
    expected = "98ec8dd365a58bb4df605637c63367f4b3b1dc025af12e649d0a94e8284adb13"
    assert hashing.document_leaf_hash(SALT, DOC, META).hex() == expected


@pytest.mark.parametrize(
    ("salt", "doc", "meta"),
    [
        (SALT[:31], DOC, META),
        (SALT, DOC + b"\x00", META),
        (SALT, DOC, b""),
    ],
)
def test_leaf_data_rejects_wrong_lengths(salt: bytes, doc: bytes, meta: bytes) -> None:
    with pytest.raises(InputError):
        hashing.leaf_data(salt, doc, meta)
    with pytest.raises(InputError):
        hashing.document_leaf_hash(salt, doc, meta)


# --- metadata: RFC 8785 -----------------------------------------------------------


def test_no_metadata_is_the_empty_object() -> None:
    # printf '{}' | sha256sum
    expected = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert hashing.canonical_metadata(None) == b"{}"
    assert hashing.canonical_metadata({}) == b"{}"
    assert hashing.metadata_digest(None).hex() == expected
    assert hashing.metadata_digest({}).hex() == expected


def test_spec_example_metadata() -> None:
    metadata = {
        "type": "purchase_order",
        "supplier_ruc": "20601234567",
        "reference": "OC-2025-000123",
        "entity_ruc": "20131370998",
    }
    canonical = (
        b'{"entity_ruc":"20131370998","reference":"OC-2025-000123",'
        b'"supplier_ruc":"20601234567","type":"purchase_order"}'
    )
    assert hashing.canonical_metadata(metadata) == canonical
    # printf '{"entity_ruc":"20131370998","reference":"OC-2025-000123",
    #   "supplier_ruc":"20601234567","type":"purchase_order"}' | sha256sum  (one line)
    expected = "7f57a724c9ab5e47e284e869055ce69a35e34bce3069120097912ddff714d4a1"
    assert hashing.metadata_digest(metadata).hex() == expected


def test_literals_nesting_and_no_whitespace() -> None:
    metadata = {"b": [True, None, "x"], "a": 1}
    assert hashing.canonical_metadata(metadata) == b'{"a":1,"b":[true,null,"x"]}'
    # printf '{"a":1,"b":[true,null,"x"]}' | sha256sum
    expected = "eca8cfb31ab74533e1eb2f4c74d2d55dfe3c79ac704787e54be8647ea7777eb1"
    assert hashing.metadata_digest(metadata).hex() == expected


def test_keys_sort_by_utf16_code_units() -> None:
    # The sorting example of RFC 8785 section 3.2.3: U+1F600 (UTF-16 D83D DE00)
    # sorts before U+FB33, although its code point is larger.
    metadata = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected_text = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    canonical = hashing.canonical_metadata(metadata)
    assert canonical == expected_text.encode("utf-8")
    # hashlib by hand over the UTF-8 bytes of the RFC's expected output
    assert hashing.metadata_digest(metadata) == hashlib.sha256(expected_text.encode()).digest()


def test_strings_are_utf8_with_minimal_escapes() -> None:
    metadata = {"name": "Compañía Ñandú", "€": '\u0000"\\/\u2028'}
    canonical = hashing.canonical_metadata(metadata)
    # Non-ASCII stays raw UTF-8; only ", \ and control characters are escaped,
    # controls as \u00xx unless they have a short form; "/" is not escaped.
    assert canonical == '{"name":"Compañía Ñandú","€":"\\u0000\\"\\\\/\u2028"}'.encode()
    # printf '{"name":"Compañía Ñandú",...}' encodes ñ as c3 b1: checked via od -c
    assert b"\xc3\xb1" in canonical


def test_integer_bounds() -> None:
    limit = 2**53 - 1
    assert hashing.canonical_metadata({"n": limit}) == b'{"n":9007199254740991}'
    assert hashing.canonical_metadata({"n": -limit}) == b'{"n":-9007199254740991}'
    for bad in (limit + 1, -limit - 1, 2**64, -(2**70)):
        with pytest.raises(MetadataError):
            hashing.canonical_metadata({"n": bad})
        with pytest.raises(MetadataError):
            hashing.canonical_metadata({"deep": [{"n": bad}]})


@pytest.mark.parametrize("value", [1.0, 0.5, -0.0, float("inf"), float("nan"), 1e300])
def test_floats_are_refused(value: float) -> None:
    with pytest.raises(MetadataError, match="floating-point"):
        hashing.canonical_metadata({"x": value})
    with pytest.raises(MetadataError):
        hashing.metadata_digest({"list": [1, {"y": value}]})


@pytest.mark.parametrize(
    "metadata",
    [
        {1: "x"},
        {"x": {2: "y"}},
        {"x": b"bytes"},
        {"x": {1, 2}},
        {"x": object()},
        {"x": "\ud800"},
    ],
    ids=param_id,
)
def test_other_values_are_refused(metadata: Any) -> None:
    with pytest.raises(MetadataError):
        hashing.canonical_metadata(metadata)


@pytest.mark.parametrize("metadata", [[], "{}", 3, b"{}"], ids=repr)
def test_metadata_must_be_an_object(metadata: Any) -> None:
    with pytest.raises(MetadataError):
        hashing.canonical_metadata(metadata)


def test_booleans_are_not_integers() -> None:
    assert hashing.canonical_metadata({"t": True, "f": False}) == b'{"f":false,"t":true}'


def test_size_limit_is_16_kib_of_canonical_bytes() -> None:
    # '{"a":"' + k characters + '"}' is 8 + k bytes.
    at_limit = {"a": "x" * (16 * 1024 - 8)}
    assert len(hashing.canonical_metadata(at_limit)) == 16 * 1024
    with pytest.raises(MetadataError, match="16384"):
        hashing.canonical_metadata({"a": "x" * (16 * 1024 - 7)})
    # The limit counts UTF-8 bytes, not characters: 8 + 2 * 8189 = 16386.
    with pytest.raises(MetadataError):
        hashing.canonical_metadata({"a": "ñ" * 8189})


# --- streams ---------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 3, 64, 1000, 1 << 20])
def test_digest_stream_is_independent_of_chunking(chunk_size: int) -> None:
    data = bytes(range(256)) * 11 + b"tail"
    stream = io.BytesIO(data)
    digest, size = hashing.digest_stream(stream, chunk_size)
    # hashlib by hand over the whole buffer at once
    assert digest == hashlib.sha256(data).digest()
    assert size == len(data) == 2820
    assert stream.read() == b""


def test_digest_stream_reads_from_the_current_position() -> None:
    stream = io.BytesIO(b"skip:abc")
    stream.seek(5)
    digest, size = hashing.digest_stream(stream)
    # printf 'abc' | sha256sum
    assert digest.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert size == 3


def test_digest_stream_larger_than_one_chunk() -> None:
    # head -c 3000000 /dev/zero | sha256sum
    expected = "35bce4eae54ec8e6cc2868baa8d157914d6ae2858811b4cc0c078c94460fa26f"
    digest, size = hashing.digest_stream(io.BytesIO(bytes(3_000_000)))
    assert digest.hex() == expected
    assert size == 3_000_000


def test_digest_stream_reads_chunk_by_chunk() -> None:
    class Recorder(io.BytesIO):
        sizes: list[int]

        def read(self, size: int | None = -1, /) -> bytes:
            self.sizes.append(-1 if size is None else size)
            return super().read(size)

    stream = Recorder(bytes(10))
    stream.sizes = []
    digest, size = hashing.digest_stream(stream, 4)
    assert (digest, size) == (hashlib.sha256(bytes(10)).digest(), 10)
    assert stream.sizes == [4, 4, 4, 4]  # 4 + 4 + 2, then the empty read at the end


def test_empty_stream() -> None:
    digest, size = hashing.digest_stream(io.BytesIO(b""))
    # printf '' | sha256sum
    assert digest.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert size == 0


@pytest.mark.parametrize("chunk_size", [0, -1, True, 1.5])
def test_digest_stream_refuses_chunk_sizes_that_break_its_contract(chunk_size: Any) -> None:
    # read(0) would return b"" at once and give the digest of nothing;
    # read(-1) would read the whole file into memory.
    with pytest.raises(InputError):
        hashing.digest_stream(io.BytesIO(b"abc"), chunk_size)


def test_digest_chunks() -> None:
    assert hashing.digest_chunks([b"a", b"", b"bc"]) == hashlib.sha256(b"abc").digest()
    assert hashing.digest_chunks([]) == hashlib.sha256(b"").digest()


# --- hex at the edges ------------------------------------------------------------

HEX = "ab" * 32


def test_hex64() -> None:
    assert hashing.is_hex64(HEX)
    assert hashing.parse_hex64(HEX) == bytes([0xAB]) * 32
    for bad in (HEX.upper(), "0x" + HEX, HEX[:-1], HEX + "0", " " + HEX, HEX + "\n", "g" * 64):
        assert not hashing.is_hex64(bad)
        with pytest.raises(InputError):
            hashing.parse_hex64(bad)
    for not_text in (None, 1, bytes(32), bytes.fromhex(HEX)):
        assert not hashing.is_hex64(not_text)
        with pytest.raises(InputError):
            hashing.parse_hex64(not_text)


def test_parse_sha256_lenient() -> None:
    for typed in (HEX, HEX.upper(), "0x" + HEX, "0X" + HEX.upper(), f"  {HEX}\n"):
        assert hashing.parse_sha256_lenient(typed) == bytes([0xAB]) * 32
    for bad in ("0x", HEX[:-2], "0x0x" + HEX):
        with pytest.raises(InputError):
            hashing.parse_sha256_lenient(bad)


def test_metadata_nested_deeper_than_the_limit_is_refused_with_a_clear_error() -> None:
    from docanchor.hashing import MAX_METADATA_DEPTH, json_depth

    ok: dict[str, object] = {"a": []}
    for _ in range(MAX_METADATA_DEPTH - 2):
        ok = {"a": ok}
    assert json_depth(ok) == MAX_METADATA_DEPTH
    hashing.canonical_metadata(ok)  # at the limit: accepted
    with pytest.raises(MetadataError, match="nested more than"):
        hashing.canonical_metadata({"deeper": ok})
    # Far deeper than any stack: refused by the iterative check, not a crash.
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(MetadataError):
        hashing.canonical_metadata({"x": deep})


_FLAT_VALUES = st.one_of(
    st.text(),
    st.booleans(),
    st.none(),
    st.integers(-(2**53) + 1, 2**53 - 1),
)


@given(st.dictionaries(st.text(), _FLAT_VALUES, max_size=8))
def test_flat_metadata_fast_path_is_rfc8785(metadata: dict[str, object]) -> None:
    # Flat objects take a json.dumps path; the answer must be rfc8785's own,
    # for any text (controls, escapes, non-BMP characters, lone surrogates).
    try:
        expected = rfc8785.dumps(metadata)
    except Exception:
        with pytest.raises(MetadataError):
            hashing.canonical_metadata(metadata)
        return
    if len(expected) > hashing.MAX_METADATA_BYTES:
        return
    assert hashing.canonical_metadata(metadata) == expected


@given(st.dictionaries(st.text(), _FLAT_VALUES, max_size=8))
def test_flat_metadata_is_written_as_json_dumps_writes_it(metadata: dict[str, object]) -> None:
    # The fast path writes members itself; it must give json.dumps's bytes, and take
    # every flat object whose keys are in the BMP and whose text is Unicode.
    found = hashing._flat_canonical(metadata)
    text = json.dumps(metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    try:
        expected = text.encode("utf-8")
    except UnicodeEncodeError:
        assert found is None
        return
    if len(expected) > hashing.MAX_METADATA_BYTES or any(
        ord(c) > 0xFFFF for key in metadata for c in key
    ):
        assert found is None
    else:
        assert found == expected


def test_flat_metadata_fast_path_leaves_the_rest_to_rfc8785() -> None:
    for other in ({1: "a"}, {"a": 1.5}, {"a": 2**53}, {"a": [1]}, {"a": {}}, {1: "a", "b": 2}):
        assert hashing._flat_canonical(other) is None  # type: ignore[arg-type]
    assert hashing._flat_canonical({"a": -(2**53) + 1}) == b'{"a":-9007199254740991}'
    assert hashing._flat_canonical({"z": False, "a": None}) == b'{"a":null,"z":false}'


def test_flat_metadata_known_answers() -> None:
    # Worked out by hand from RFC 8785 section 3.2.3: keys sort by UTF-16 code
    # units, so U+1F600 (D83D DE00) sorts before U+FB01, though its code point is larger.
    assert hashing.canonical_metadata({"\ufb01": 1, "\U0001f600": 2}) == (
        '{"\U0001f600":2,"\ufb01":1}'.encode()
    )
    assert hashing.canonical_metadata({"b": "\x1f\n", "a": True}) == b'{"a":true,"b":"\\u001f\\n"}'


_JSON_VALUES = st.recursive(
    st.one_of(
        st.text(),
        st.booleans(),
        st.none(),
        st.integers(-(2**53) - 2, 2**53 + 2),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON_VALUES)
def test_canonical_json_fast_is_rfc8785_or_declines(value: object) -> None:
    # json.dumps writes RFC 8785 for the values it accepts (any text, nesting, safe
    # integers); floats, larger integers and keys beyond U+FFFF are declined (None).
    fast = hashing.canonical_json_fast(value)
    if fast is None:
        return
    assert fast == rfc8785.dumps(value)


def test_canonical_json_fast_takes_a_receipt_and_declines_the_rest() -> None:
    receipt = {
        "version": "docanchor-receipt/1",
        "status": "sealed",
        "document": {"sha256": "ab" * 32, "metadata": {"reference": "Ñandú €", "n": 7}},
        "proof": {"leaf_index": 3, "tree_size": 5, "path": ["cd" * 32, "ef" * 32]},
        "batch": {"id": 1, "root": "01" * 32},
        "anchor": None,
    }
    assert hashing.canonical_json_fast(receipt) == rfc8785.dumps(receipt)
    assert hashing.canonical_json_fast({"x": 1.5}) is None
    assert hashing.canonical_json_fast({"x": 2**53}) is None
    assert hashing.canonical_json_fast({"\U0001f600": 1}) is None
    assert hashing.canonical_json_fast({"x": "\ud800"}) is None
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    assert hashing.canonical_json_fast(deep) is None


HEX64_CASES = [
    "ab" * 32,
    "0" * 64,
    "AB" * 32,  # uppercase: refused
    "ab" * 31 + "aB",
    "ab" * 31,  # short
    "ab" * 33,  # long
    " " + "ab" * 31 + "a",  # a blank that fromhex would skip
    "ab" * 31 + " a",
    "+" + "a" * 63,
    "0x" + "ab" * 31,
    "gg" * 32,
    "é" * 64,
    "ab" * 16 + "\u0660" * 32,  # a non-ASCII digit
]


@pytest.mark.parametrize("value", [*HEX64_CASES, None, 7, b"ab" * 32])
def test_hex64_concat_accepts_what_parse_hex64_accepts(value: Any) -> None:
    good = "cd" * 32
    try:
        expected: bytes | None = hashing.parse_hex64(value)
    except InputError:
        expected = None
    for values, where in (((value,), 0), ((good, value), 1), ((value, good, good), 0)):
        found = hashing.hex64_concat(*values)
        if expected is None:
            assert found is None
        else:
            assert found is not None and len(found) == 32 * len(values)
            assert found[32 * where : 32 * where + 32] == expected


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=4))
def test_hex64_concat_is_the_bytes_side_by_side(digests: list[bytes]) -> None:
    assert hashing.hex64_concat(*(d.hex() for d in digests)) == b"".join(digests)

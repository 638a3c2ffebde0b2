"""Strict decoding of untrusted JSON text (docanchor.jsontext)."""

from __future__ import annotations

import json

import pytest

from docanchor.errors import InputError
from docanchor.jsontext import MAX_DEPTH, JSONTextError, check_depth, json_text_depth, loads_strict


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[["', 0),  # brackets inside a string do not count
        ("[]", 1),
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["\\"[", [[]]]', 3),  # an escaped quote does not end the string
        ('["\\\\", [[]]]', 3),  # an escaped backslash before the closing quote
        ("[[[]], [[[]]]]", 4),
    ],
)
def test_depth_is_measured_on_the_text(text: str, depth: int) -> None:
    assert json_text_depth(text) == depth
    assert json_text_depth(text.encode()) == depth
    # The parser agrees wherever the text is valid JSON.
    value = json.loads(text)

    def walk(v: object) -> int:
        if isinstance(v, dict):
            return 1 + max((walk(x) for x in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((walk(x) for x in v), default=0)
        return 0

    assert walk(value) == depth


@pytest.mark.parametrize("count", [MAX_DEPTH + 1, 100_000, 2_000_000])
def test_a_flood_of_brackets_is_refused_before_parsing(count: int) -> None:
    with pytest.raises(JSONTextError, match="nested"):
        loads_strict(b"[" * count)
    with pytest.raises(JSONTextError, match="nested"):
        loads_strict("[" * count + "]" * count)


def test_the_limit_itself_is_accepted() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    check_depth(text)
    value = loads_strict(text)
    assert isinstance(value, list)
    with pytest.raises(JSONTextError):
        check_depth("[" * 5 + "]" * 5, 4)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"a": 1, "a": 2}', "appears twice"),
        ('[{"x": {"k": 1, "k": 1}}]', "appears twice"),
        ("[NaN]", "NaN is not JSON"),
        ('{"n": Infinity}', "Infinity is not JSON"),
        ("-Infinity", "-Infinity is not JSON"),
        ("1.5", "fraction or exponent"),
        ('{"n": 1e3}', "fraction or exponent"),
        ("{", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1,]", "not valid JSON"),
    ],
)
def test_refusals_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(JSONTextError, match=words) as caught:
        loads_strict(text, what="the body")
    assert str(caught.value).startswith("the body")
    assert isinstance(caught.value, InputError)  # exit 2, HTTP 422


def test_floats_when_asked_for() -> None:
    assert loads_strict("[1.5, 2e3]", floats=True) == [1.5, 2000.0]
    with pytest.raises(JSONTextError, match="NaN"):
        loads_strict("[NaN]", floats=True)


def test_text_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(JSONTextError, match="not UTF-8"):
        loads_strict(b'{"a": "\xff"}')
    with pytest.raises(JSONTextError, match="not valid Unicode"):
        loads_strict('"\ud800"')


def test_valid_text_decodes_as_json_does() -> None:
    text = '{"a": [1, -2, "tres", true, false, null, {"b": "\\u00e9"}], "c": {}}'
    assert loads_strict(text) == json.loads(text)


@pytest.mark.parametrize(
    ("inner", "accepted"),
    [(MAX_DEPTH - 1, True), (MAX_DEPTH, True), (MAX_DEPTH + 1, False)],
)
def test_enclosing_levels_are_not_counted(inner: int, accepted: bool) -> None:
    # '{"receipt": <inner levels>}' holds a value nested `inner` levels deep.
    text = '{"receipt": ' + "[" * inner + "]" * inner + "}"
    if accepted:
        assert loads_strict(text, enclosing=1, what="the receipt")["receipt"] is not None
        return
    with pytest.raises(JSONTextError) as caught:
        loads_strict(text, enclosing=1, what="the receipt")
    assert str(caught.value) == (
        f"the receipt is nested {inner} levels deep; at most {MAX_DEPTH} are allowed"
    )
    with pytest.raises(JSONTextError) as alone:
        loads_strict("[" * inner + "]" * inner, what="the receipt")
    assert str(alone.value) == str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        '"\\ud800"',  # a high surrogate alone
        '["ok", "\\udfff"]',  # a low surrogate alone
        '{"\\udc00": 1}',  # in a member name
        '{"a": {"b": ["x\\ud83dy"]}}',  # a high surrogate followed by no low one
        '"\\ude00\\ud83d"',  # a pair in the wrong order
    ],
)
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(JSONTextError, match="lone UTF-16 surrogate"):
        loads_strict(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"\\ud83d\\ude00"', "\N{GRINNING FACE}"),  # a proper pair is one character
        ('"\\uD83D\\uDE00"', "\N{GRINNING FACE}"),
        ('"\\\\ud800"', "\\ud800"),  # an escaped backslash, then plain letters
        ('"\\ud7ff\\ue000"', "\ud7ff\ue000"),  # the neighbours of the surrogate range
    ],
)
def test_surrogate_lookalikes_are_accepted(text: str, value: str) -> None:
    assert loads_strict(text) == value


def test_depth_of_a_long_flat_text_is_measured_quickly() -> None:
    # 4 million brackets at depth 1 (8 MB): measured in C, not in a Python loop.
    assert json_text_depth(b"[" + b"[]," * 2_000_000 + b"[]]") == 2


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": {"a": 1}}',  # the same name in two objects
        '{"a:": 1, "a": ":"}',  # colons inside names and values
        '{"\\"a\\":": 1, "a": "\\":"}',  # escaped quotes beside colons
        '[{"a": "[", "b": ""}, {"a": "", "b": "]:"}, "", "", {"": ""}]',
        '{"k": {"": {"": {}}}, "": [{"x": ":{"}]}',
        '{"\\\\": 1, "\\\\\\\\": 2}',  # escaped backslashes as names
        '{"é": 1, "e\\u0301": 2, "\\u00e9:": 3}',
    ],
)
def test_objects_without_repeated_members_are_accepted(text: str) -> None:
    assert loads_strict(text) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 1}',  # the same value twice is still refused
        '{"a:": 1, "b": ":", "a:": 2}',
        '{"\\"a\\":": 1, "\\"a\\":": ":"}',
        '[{"a": "[", "b": ""}, {"a": "", "a": "]:"}]',
        '[[[{"ok": 1}], [{"x": {"y": 1, "y": 2}}]]]',
        '{"\\u0061": 1, "a": 2}',  # one name written two ways
        '{"a": 1, "b": {"c": 2}, "b": {"c": 2}}',
    ],
)
def test_a_repeated_member_anywhere_is_refused(text: str) -> None:
    with pytest.raises(JSONTextError, match="appears twice"):
        loads_strict(text)


def test_a_large_page_is_checked_member_by_member() -> None:
    # 50,000 objects, one of which repeats a member near the end.
    items = [f'{{"index": {i}, "leaf": "{i:064x}", "m": {{"t": "x:{i}"}}}}' for i in range(50_000)]
    assert len(loads_strict("[" + ",".join(items) + "]")) == 50_000
    items[49_990] = '{"index": 1, "index": 2}'
    with pytest.raises(JSONTextError, match="'index' appears twice"):
        loads_strict("[" + ",".join(items) + "]")

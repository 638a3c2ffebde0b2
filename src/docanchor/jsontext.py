"""Strict decoding of JSON text from untrusted sources (request bodies, receipts, CLI values).

Every JSON text that docanchor reads from outside goes through :func:`loads_strict`:

- its nesting depth is measured on the raw text, before anything is parsed,
  so a body of 100,000 ``[`` is refused in linear time instead of exhausting
  the C stack of the JSON decoder (which a raised recursion limit would let
  it do);
- an object member that appears twice is refused (never "last one wins");
- ``NaN``, ``Infinity`` and ``-Infinity`` are refused (they are not JSON);
- a string holding a lone surrogate (``"\\ud800"``) is refused: it has no
  UTF-8 form, so it could be neither stored nor canonicalised (RFC 8785);
- numbers with a fraction or an exponent are refused unless asked for.

Pure core: standard library and :mod:`docanchor.errors` only; no I/O.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Iterator
from itertools import accumulate
from typing import Any, Final, NoReturn

from docanchor.errors import InputError

MAX_DEPTH: Final = 64

# The structure of a text: its quotes, brackets and colons, everything else
# deleted by one pass of bytes.translate. Escapes are removed first (a
# backslash and the character after it), then what is left of each string,
# quote to quote (possessive quantifier: no backtracking). What remains are
# the brackets and colons outside strings: the nesting and, in valid JSON, one
# colon for each object member. The escapes go first because one may stand for
# a quote.
_ESCAPE: Final = re.compile(rb"\\.", re.DOTALL)
_STRING: Final = re.compile(rb'"[^"]*+"')
_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'"[]{}:')
# One more pass of bytes.translate keeps the brackets only, opening ones as 1
# and closing ones as 255 (-1 as a signed byte); the running sum is the depth.
_STEPS: Final = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
# An escape of a UTF-16 surrogate (high or low); only then can a string hold one.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


class JSONTextError(InputError):
    """JSON text that docanchor does not accept."""

    title = "Invalid JSON"


def _as_bytes(text: str | bytes, what: str) -> bytes:
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise JSONTextError(f"{what} holds text that is not valid Unicode: {exc}") from None
    raise JSONTextError(f"{what} must be JSON text")


def _structure(raw: bytes) -> bytes:
    """The brackets and colons of JSON text outside its strings, in order."""
    if b"\\" in raw:
        raw = _ESCAPE.sub(b"", raw)
    # Most strings hold no structure and leave two quotes side by side: those go
    # first, in one pass. Removing a pair that closes one string and opens the next
    # is as good (only non-structural text lay between them).
    return _STRING.sub(b"", raw.translate(None, _NOT_STRUCTURE).replace(b'""', b""))


def _depth(structure: bytes) -> int:
    steps = structure.translate(_STEPS, _NOT_BRACKETS)
    if not steps:
        return 0
    return max(0, max(accumulate(array("b", steps))))


def json_text_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, measured without parsing.

    Brackets inside strings do not count. For malformed text the number is
    only an estimate; the parser refuses such text anyway.
    """
    return _depth(_structure(_as_bytes(text, "the JSON text")))


def check_depth(
    text: str | bytes, limit: int = MAX_DEPTH, *, what: str = "the JSON text", enclosing: int = 0
) -> None:
    """Raise :class:`JSONTextError` when ``text`` nests deeper than ``limit``.

    ``enclosing`` is the number of containers around the value named by
    ``what`` (an envelope such as ``{"receipt": ...}``); neither the limit nor
    the message counts them.
    """
    _check_depth(_structure(_as_bytes(text, what)), limit, what, enclosing)


def _check_depth(structure: bytes, limit: int, what: str, enclosing: int) -> None:
    depth = _depth(structure) - enclosing
    if depth > limit:
        raise JSONTextError(f"{what} is nested {depth} levels deep; at most {limit} are allowed")


class _Refusal(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refusal(f"the member {key!r} appears twice in one object")
            seen.add(key)
    return out


def _strings(value: Any) -> Iterator[str]:
    """Every string in decoded JSON (member names included). Iterative."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_surrogates(value: Any) -> None:
    for text in _strings(value):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refusal(
                f"the string {text[:40]!r} holds a lone UTF-16 surrogate, which is not Unicode text"
            ) from None


def _no_float(text: str) -> NoReturn:
    raise _Refusal(f"the number {text[:40]} has a fraction or exponent; only integers are allowed")


def _no_constant(text: str) -> NoReturn:
    raise _Refusal(f"{text} is not JSON")


def loads_strict(
    text: str | bytes,
    *,
    max_depth: int = MAX_DEPTH,
    floats: bool = False,
    what: str = "the JSON text",
    enclosing: int = 0,
) -> Any:
    """Decode untrusted JSON text, refusing what this module's docstring lists.

    ``text`` as bytes must be UTF-8. Raises :class:`JSONTextError` whose
    message starts with ``what`` and says what is wrong. ``enclosing``: see
    :func:`check_depth`.
    """
    raw = _as_bytes(text, what)
    structure = _structure(raw)
    _check_depth(structure, max_depth, what, enclosing)
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONTextError(f"{what} is not UTF-8 text: {exc}") from None
    options: dict[str, Any] = {
        "parse_constant": _no_constant,
        "parse_float": float if floats else _no_float,
    }
    members = 0

    def counted(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal members
        members += len(obj)
        return obj

    try:
        # The decoder counts the members of each object as it makes it (cheaper
        # than walking the decoded value again). Valid JSON has a colon outside
        # strings for each object member and nowhere else: fewer members decoded
        # than colons means a member appeared twice and was dropped. Decoding
        # again with the hook that checks each object names it (the first pass
        # stays fast for the common case of no duplicates).
        value = json.loads(decoded, object_hook=counted, **options)
        if type(value) in (dict, list) and members != structure.count(b":"):
            json.loads(decoded, object_pairs_hook=_no_duplicates, **options)
            raise _Refusal("a member appears twice in one object")
        if _SURROGATE_ESCAPE.search(raw) is not None:
            _check_surrogates(value)
        return value
    except _Refusal as exc:
        raise JSONTextError(f"{what} is not acceptable JSON: {exc}") from None
    except RecursionError:
        raise JSONTextError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise JSONTextError(f"{what} is not valid JSON: {exc}") from None

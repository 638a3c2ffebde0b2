"""Strict decoding of JSON text from untrusted sources (request bodies, receipts, CLI values).

Every JSON text that docanchor reads from outside goes through :func:`loads_strict`:

- its nesting depth is measured on the raw text, before anything is parsed,
  so a body of 100,000 ``[`` is refused in linear time instead of exhausting
  the C stack of the JSON decoder (which a raised recursion limit would let
  it do);
- an object member that appears twice is refused (never "last one wins");
- ``NaN``, ``Infinity`` and ``-Infinity`` are refused (they are not JSON);
- numbers with a fraction or an exponent are refused unless asked for.

Pure core: standard library and :mod:`docanchor.errors` only; no I/O.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Final, NoReturn

from docanchor.errors import InputError

MAX_DEPTH: Final = 64

# A JSON string: a quote, then runs of plain characters or escapes, then a
# quote. Possessive quantifiers: no backtracking, linear in the text.
_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(rb"[^\[\]{}]++")
_STEP: Final = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


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


def json_text_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, measured without parsing.

    Brackets inside strings do not count. For malformed text the number is
    only an estimate; the parser refuses such text anyway.
    """
    raw = _as_bytes(text, "the JSON text")
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    if not brackets:
        return 0
    return max(0, max(accumulate(_STEP[b] for b in brackets)))


def check_depth(
    text: str | bytes, limit: int = MAX_DEPTH, *, what: str = "the JSON text", enclosing: int = 0
) -> None:
    """Raise :class:`JSONTextError` when ``text`` nests deeper than ``limit``.

    ``enclosing`` is the number of containers around the value named by
    ``what`` (an envelope such as ``{"receipt": ...}``); neither the limit nor
    the message counts them.
    """
    depth = json_text_depth(text) - enclosing
    if depth > limit:
        raise JSONTextError(f"{what} is nested {depth} levels deep; at most {limit} are allowed")


class _Refusal(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refusal(f"the member {key!r} appears twice in one object")
        out[key] = value
    return out


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
    check_depth(raw, max_depth, what=what, enclosing=enclosing)
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONTextError(f"{what} is not UTF-8 text: {exc}") from None
    try:
        return json.loads(
            decoded,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=float if floats else _no_float,
        )
    except _Refusal as exc:
        raise JSONTextError(f"{what} is not acceptable JSON: {exc}") from None
    except RecursionError:
        raise JSONTextError(f"{what} is nested too deeply") from None
    except ValueError as exc:
        raise JSONTextError(f"{what} is not valid JSON: {exc}") from None

"""Test ids made from ``repr`` that are the same in every process.

pytest-xdist checks that each worker collected the same tests, so an id must
not carry an object's address (``<memory at 0x7f...>``), and a repr of a
kilobyte-long value is cut to a readable prefix and its length.
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_LONGEST = 80


def param_id(value: object) -> str:
    """``repr(value)`` without object addresses, cut to about 80 characters."""
    text = _ADDRESS.sub("", repr(value))
    if len(text) <= _LONGEST:
        return text
    return f"{text[:60]}...({len(text)} chars)"

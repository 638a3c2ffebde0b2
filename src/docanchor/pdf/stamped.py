"""Find the stamp in a stamped PDF and cut the original back out ("docanchor stamp, version 1").

A stamped PDF is the original file's bytes followed by one incremental update.
The update starts with the marker line ``\\n%docanchor-stamp/1\\n`` and its file
specification carries, in this exact form (on one line)::

    /DocAnchorOriginalLength N /DocAnchorOriginalSHA256 (H)
    /DocAnchorReceiptOffset O /DocAnchorReceiptLength L

so that a verifier needs no PDF parser: it finds the last such record, checks
that the marker sits at byte ``N``, and takes the original ``bytes[0:N]`` and
the receipt ``bytes[O:O+L]`` (stored without any filter). ``H`` is informative:
the verifier hashes the original itself, and the receipt's step 1 decides.

Pure: standard library and :mod:`docanchor.errors` only; no I/O.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO, Final

from docanchor.errors import VerificationError

STAMP_MARKER: Final = b"\n%docanchor-stamp/1\n"
RECORD_KEY: Final = b"/DocAnchorOriginalLength "
TAIL_WINDOW: Final = 8 << 20
"""How far from the end of a file a reader looks for the stamp (the update is a few KB)."""
CHUNK: Final = 1 << 20
# Digits are limited to 15 (a petabyte) so that a hostile record cannot make
# an enormous integer; no leading zeros, as the writer emits them.
_RECORD = re.compile(
    rb"/DocAnchorOriginalLength (0|[1-9][0-9]{0,14})"
    rb" /DocAnchorOriginalSHA256 \(([0-9a-f]{64})\)"
    rb" /DocAnchorReceiptOffset ([1-9][0-9]{0,14})"
    rb" /DocAnchorReceiptLength ([1-9][0-9]{0,14})"
)


@dataclass(frozen=True)
class StampLocation:
    """Where a stamp says the original ends and the receipt lies (absolute offsets)."""

    original_length: int
    recorded_sha256: bytes
    receipt_offset: int
    receipt_length: int


@dataclass(frozen=True)
class StampedPdf:
    """What a stamped file holds: the original's length and digest, and the receipt's bytes."""

    original_length: int
    original_sha256: bytes
    recorded_sha256: bytes
    receipt: bytes


def find_stamp(
    window: bytes, *, window_start: int = 0, total_length: int | None = None
) -> StampLocation | None:
    """The last well-formed stamp record in ``window``, the bytes of a file from ``window_start``.

    ``total_length`` is the whole file's length (``window_start + len(window)``
    when not given). Returns None when the window holds no stamp whose marker
    it can see at the recorded original length and whose receipt lies after
    the original, inside the file. A record that names impossible offsets is
    not a stamp.
    """
    total = window_start + len(window) if total_length is None else total_length
    end = len(window)
    while True:
        at = window.rfind(RECORD_KEY, 0, end)
        if at < 0:
            return None
        end = at
        match = _RECORD.match(window, at)
        if match is None:
            continue
        n, digest_hex, offset, length = match.groups()
        location = StampLocation(
            original_length=int(n),
            recorded_sha256=bytes.fromhex(digest_hex.decode("ascii")),
            receipt_offset=int(offset),
            receipt_length=int(length),
        )
        marker_at = location.original_length - window_start
        if (
            marker_at >= 0
            and window[marker_at : marker_at + len(STAMP_MARKER)] == STAMP_MARKER
            and location.receipt_offset >= location.original_length + len(STAMP_MARKER)
            and location.receipt_offset + location.receipt_length <= total
            and window_start + at >= location.receipt_offset + location.receipt_length
        ):
            return location


def _refuse_broken(window: bytes) -> None:
    if _RECORD.search(window):
        raise VerificationError(
            "the file carries a docanchor stamp, but the original part does not end where the "
            "stamp says: the file was changed after it was stamped"
        )


def read_stamp(data: bytes) -> StampedPdf | None:
    """The stamp of a whole file, or None when ``data`` is not a stamped PDF.

    Raises :class:`VerificationError` for a file that carries a stamp record
    whose original part no longer ends where the record says.
    """
    location = find_stamp(data)
    if location is None:
        _refuse_broken(data[-TAIL_WINDOW:])
        return None
    start = location.receipt_offset
    return StampedPdf(
        original_length=location.original_length,
        original_sha256=hashlib.sha256(memoryview(data)[: location.original_length]).digest(),
        recorded_sha256=location.recorded_sha256,
        receipt=data[start : start + location.receipt_length],
    )


def read_stamp_stream(handle: BinaryIO) -> StampedPdf | None:
    """As :func:`read_stamp`, for an open, seekable binary file: reads its tail, then
    hashes the original part in chunks (a stamped file of any size, in flat memory)."""
    if b"%PDF-" not in handle.read(1024):
        return None
    total = handle.seek(0, 2)
    window_start = max(0, total - TAIL_WINDOW)
    handle.seek(window_start)
    window = handle.read()
    location = find_stamp(window, window_start=window_start, total_length=total)
    if location is None:
        _refuse_broken(window)
        return None
    receipt_at = location.receipt_offset - window_start
    receipt = window[receipt_at : receipt_at + location.receipt_length]
    handle.seek(0)
    hasher = hashlib.sha256()
    left = location.original_length
    while left > 0:
        chunk = handle.read(min(CHUNK, left))
        if not chunk:
            raise VerificationError("the file became shorter while it was read")
        hasher.update(chunk)
        left -= len(chunk)
    return StampedPdf(
        original_length=location.original_length,
        original_sha256=hasher.digest(),
        recorded_sha256=location.recorded_sha256,
        receipt=receipt,
    )


__all__ = [
    "RECORD_KEY",
    "STAMP_MARKER",
    "TAIL_WINDOW",
    "StampLocation",
    "StampedPdf",
    "find_stamp",
    "read_stamp",
    "read_stamp_stream",
]

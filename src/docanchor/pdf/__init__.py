"""Receipts that travel with the document: stamped PDFs ("docanchor stamp, version 1").

:mod:`docanchor.pdf.stamped` finds a stamp in a file's bytes (standard library
only, so every verifier can follow it); :mod:`docanchor.pdf.stamp` writes one
(an append-only incremental update that leaves every original byte as it was).
Neither performs I/O, reads the environment or talks to a node or a database:
bytes in, bytes out.
"""

from __future__ import annotations

from docanchor.pdf.stamped import STAMP_MARKER, StampedPdf, find_stamp, read_stamp

__all__ = ["STAMP_MARKER", "StampedPdf", "find_stamp", "read_stamp"]

"""Keeps secrets out of what the API shows (see :mod:`docanchor.redaction`,
shared with the command line): a node URL is reduced to its origin."""

from __future__ import annotations

from docanchor import redaction
from docanchor.config import Settings
from docanchor.redaction import origin


def redact(text: str, settings: Settings) -> str:
    return redaction.redact(text, settings.rpc_url)


__all__ = ["origin", "redact"]

"""Keeps secrets out of what the API shows: a node URL is reduced to its origin.

Provider URLs often carry an access key in their path or query
(``https://host/v3/<key>``); error messages that quote the URL are
rewritten before they reach a response or a log line.
"""

from __future__ import annotations

from docanchor.config import Settings, node_origin

origin = node_origin


def redact(text: str, settings: Settings) -> str:
    url = settings.rpc_url
    if url and url in text:
        text = text.replace(url, origin(url))
    return text


__all__ = ["origin", "redact"]

"""Keeps secrets out of what docanchor shows: a node URL is reduced to its origin.

Provider URLs often carry credentials (``https://user:pass@host``) or an
access key in their path or query (``https://mainnet.infura.io/v3/<key>``).
Both edges (the HTTP API and the command line) rewrite every message that
may quote such a URL with :func:`redact` before it reaches a response, a log
line or stderr.

Pure: standard library only, no I/O, never reads the environment.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

# Any http(s) URL up to white space or a quote/bracket that usually ends it.
_URL: Final = re.compile(r"""https?://[^\s'"<>()\[\]{},]+""", re.IGNORECASE)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no user, password, path, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an unparsable port or host: show nothing of it
        return f"{url.split(':', 1)[0]}://…"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}"


def redact(text: str, url: str | None = None) -> str:
    """``text`` with ``url`` (the configured node URL) and any other http(s) URL
    reduced to its origin; the secret part of ``url`` (its user information, path
    and query) is removed even where it appears on its own."""
    if url:
        text = text.replace(url, origin(url))
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is not None:
            secrets = [parts.password, parts.username]
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            if tail.strip("/"):
                secrets.append(tail)
            for secret in secrets:
                if secret and len(secret) >= 4:
                    text = text.replace(secret, "…")
    return _URL.sub(_origin_of_match, text)


def _origin_of_match(match: re.Match[str]) -> str:
    found = match.group(0)
    url = found.rstrip(".,:;!?")  # punctuation that ends a sentence, not the URL
    return origin(url) + found[len(url) :]


__all__ = ["origin", "redact"]

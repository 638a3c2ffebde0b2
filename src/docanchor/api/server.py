"""The HTTP server's protocol for ``docanchor serve``: uvicorn's httptools protocol
with a cap on the size of a request's head (request line and headers).

httptools buffers a header until it is complete and sets no limit of its own,
so one request with a header of a gigabyte would be held in memory. Here the
bytes of a request's head are counted as they arrive; past
:data:`MAX_HEAD_BYTES` the server answers ``431 Request Header Fields Too
Large`` (an RFC 9457 problem) and closes that connection. The process and every
other connection carry on. (uvicorn's h11 protocol has this limit built in:
``h11_max_incomplete_event_size``, which ``serve`` sets to the same number.)

Never reads or logs the headers it refuses.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from docanchor.api.guards import SECURITY_HEADERS
from docanchor.api.problems import PROBLEM_JSON

# Request line plus headers. An API key and the usual browser headers take a
# few hundred bytes; proxies commonly allow 8 to 32 KiB.
MAX_HEAD_BYTES: Final = 32 * 1024

log = logging.getLogger("docanchor.http")


def _answer_431() -> bytes:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Request Header Fields Too Large",
            "status": 431,
            "detail": f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes, "
            "the most this server accepts",
        }
    ).encode("utf-8")
    head = [
        b"HTTP/1.1 431 Request Header Fields Too Large",
        b"content-type: " + PROBLEM_JSON.encode("ascii"),
        b"content-length: " + str(len(body)).encode("ascii"),
        b"connection: close",
        *(name + b": " + value for name, value in SECURITY_HEADERS),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


_ANSWER_431: Final = _answer_431()


class CappedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over ``MAX_HEAD_BYTES``.

    The bytes of every chunk read while a request's head is incomplete count
    towards the cap, so the parser never buffers more than the cap and one chunk.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        super().data_received(data)
        if not self._in_head:
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._in_head = False
            log.warning("refused a request head over %d bytes (431)", MAX_HEAD_BYTES)
            self.transport.write(_ANSWER_431)
            self.transport.close()


__all__ = ["MAX_HEAD_BYTES", "CappedHttpToolsProtocol"]

"""Request bodies read as streams: multipart uploads hashed chunk by chunk, bounded JSON.

A file part is never held in memory: each chunk the server receives is fed
to python-multipart's streaming parser, whose callbacks feed the file bytes
to SHA-256 and drop them. Uploads over the limit are refused (413) as soon
as the limit is passed, before the rest of the body is read. Small form
fields (the ``metadata`` JSON) are kept, up to a fixed size.

Never writes an upload to disk. It keeps a file's bytes only when the
endpoint needs them whole (:func:`read_form_file`: the PDF to stamp), and otherwise at
most the last ``tail_window`` bytes (``POST /v1/verify``, to find the stamp of
a stamped PDF and hash its original part without a second pass).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from docanchor.errors import DocAnchorError, InputError, PayloadTooLargeError
from docanchor.jsontext import MAX_DEPTH, loads_strict

M = TypeVar("M", bound=BaseModel)

MAX_FIELD_BYTES: Final = 64 * 1024
# A body wraps its receipt (at most MAX_DEPTH levels) or metadata in one object.
MAX_BODY_DEPTH: Final = MAX_DEPTH + 1
# Part headers, boundaries and small fields around the file itself.
FORM_OVERHEAD: Final = 256 * 1024


class UnsupportedMediaTypeError(InputError):
    http_status = 415
    title = "Unsupported media type"


def media_type(request: Request) -> str:
    raw = request.headers.get("content-type", "")
    return raw.split(";", 1)[0].strip().lower()


def is_json_type(kind: str) -> bool:
    """Whether a media type (lower case, no parameters) is JSON."""
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def is_json(request: Request) -> bool:
    return is_json_type(media_type(request))


def is_multipart(request: Request) -> bool:
    return media_type(request) == "multipart/form-data"


def declared_length(request: Request) -> int | None:
    """The Content-Length header's value; None without one or when it is not a number
    (:func:`read_body` then refuses it, after the checks that come first)."""
    try:
        return _declared_length(request)
    except InputError:
        return None


def check_length(length: int, limit: int, what: str = "the request body") -> None:
    """413 when a body of ``length`` bytes passes ``limit`` (as :func:`read_body` words it)."""
    if length > limit:
        raise PayloadTooLargeError(f"{what} is {length} bytes; at most {limit} are accepted")


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InputError("the Content-Length header is not a number") from None


async def read_body(request: Request, limit: int, what: str = "the request body") -> bytes:
    """The whole body, refused with 413 once it passes ``limit`` bytes."""
    declared = _declared_length(request)
    if declared is not None:
        check_length(declared, limit, what)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"{what} is larger than {limit} bytes, the most accepted")
        chunks.append(chunk)
    return b"".join(chunks)


def validation_error(exc: ValidationError, prefix: tuple[str | int, ...] = ("body",)) -> Exception:
    """A pydantic error as FastAPI's, so that one handler words every 422."""
    errors = [
        {
            **{k: v for k, v in e.items() if k not in ("input", "ctx", "url")},
            "loc": (*prefix, *e["loc"]),
        }
        for e in exc.errors(include_url=False)
    ]
    return RequestValidationError(errors)


def decode_json(raw: bytes, what: str = "the request body", *, floats: bool = True) -> Any:
    """Untrusted JSON text decoded strictly (:func:`docanchor.jsontext.loads_strict`).

    The one way the API decodes JSON it receives: the nesting is measured on the
    raw text before anything is parsed (no body can exhaust the decoder's stack);
    a member named twice, ``NaN``, a lone surrogate and, unless ``floats``, a
    number with a fraction or exponent are refused (422). Metadata refuses
    floating-point numbers itself, naming the member; a receipt is decoded
    without them, as :func:`docanchor.receipt.parse_receipt_json` does.
    """
    return loads_strict(raw, max_depth=MAX_BODY_DEPTH, floats=floats, what=what)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number" if not isinstance(value, bool) else "a boolean"


def parse_json(
    raw: bytes,
    model: type[M],
    prefix: tuple[str | int, ...] = ("body",),
    *,
    floats: bool = True,
) -> M:
    """``raw`` decoded by :func:`decode_json`, then validated as ``model``."""
    what = "the request body" if len(prefix) < 2 else f"the {prefix[-1]} field"
    return validate_object(decode_json(raw, what, floats=floats), model, prefix)


def validate_object(value: Any, model: type[M], prefix: tuple[str | int, ...] = ("body",)) -> M:
    """Decoded JSON validated as ``model`` (422 naming the member at fault)."""
    if not isinstance(value, dict):
        what = "the request body" if len(prefix) < 2 else f"the {prefix[-1]} field"
        raise InputError(f"{what} must be a JSON object, not {_json_kind(value)}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise validation_error(exc, prefix) from None


async def read_json(request: Request, model: type[M], limit: int, *, floats: bool = True) -> M:
    """The body parsed and validated as ``model`` (422 with the member at fault)."""
    if not is_json(request):
        raise UnsupportedMediaTypeError(
            f"send the body as application/json, not {media_type(request) or 'no content type'}"
        )
    return parse_json(await read_body(request, limit), model, floats=floats)


def parse_json_field(raw: bytes, name: str, model: type[M]) -> M:
    return parse_json(raw, model, ("body", name))


@dataclass
class _FormDraft:
    """What the parser callbacks have found so far (one request)."""

    sha256: bytes | None = None
    size: int = 0
    filename: str | None = None
    fields: dict[str, bytes] = field(default_factory=dict)
    content: bytes = b""
    tail: bytes = b""
    tail_start: int = 0
    head_hasher: Any = None


@dataclass(frozen=True)
class FormUpload:
    """What a streamed multipart body held: the file's digest and size, small fields."""

    sha256: bytes
    size: int
    filename: str | None
    fields: dict[str, bytes]
    tail: bytes = b""
    """The file's last bytes (from ``tail_start``), when read with ``tail_window``."""
    tail_start: int = 0
    head_hasher: Any = None
    """SHA-256 of the bytes before ``tail_start`` (read with ``tail_window``)."""

    def prefix_sha256(self, length: int) -> bytes:
        """SHA-256 of the file's first ``length`` bytes; ``length`` must reach into the tail."""
        if self.head_hasher is None or not self.tail_start <= length <= self.size:
            raise ValueError("the prefix does not end in the kept tail")
        hasher = self.head_hasher.copy()
        hasher.update(memoryview(self.tail)[: length - self.tail_start])
        digest: bytes = hasher.digest()
        return digest


class _FormReader:
    """State behind the parser callbacks (one request)."""

    def __init__(
        self,
        *,
        file_field: str,
        text_fields: frozenset[str],
        max_file_bytes: int,
        keep_file: bool = False,
        tail_window: int = 0,
    ) -> None:
        self.keep_file = keep_file
        self.tail_window = tail_window
        self._chunks: list[bytes] = []
        self._tail = bytearray()
        self.file_field = file_field
        self.text_fields = text_fields
        self.max_file_bytes = max_file_bytes
        self.result = _FormDraft()
        self.ended = False
        self._headers: dict[str, str] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._part: str | None = None
        self._is_file = False
        self._hasher: Any = None
        self._buffer = bytearray()

    # --- parser callbacks ---------------------------------------------------

    def on_part_begin(self) -> None:
        self._headers = {}
        self._part = None
        self._buffer = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_name = bytearray()
        self._header_value = bytearray()

    def on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition", ""))
        if disposition != b"form-data" or b"name" not in params:
            raise InputError("every multipart part needs a Content-Disposition: form-data; name=…")
        name = params[b"name"].decode("utf-8", "replace")
        if name == self.file_field:
            if self.result.sha256 is not None or self._hasher is not None:
                raise InputError(f"send one {self.file_field!r} part, not several")
            self._is_file = True
            self._hasher = hashlib.sha256()
            if b"filename" in params:
                self.result.filename = params[b"filename"].decode("utf-8", "replace")[:300]
        elif name in self.text_fields:
            if name in self.result.fields:
                raise InputError(f"the form field {name!r} appears twice")
            self._is_file = False
        else:
            allowed = ", ".join(sorted({self.file_field, *self.text_fields}))
            raise InputError(f"unexpected form field {name!r}; this endpoint takes: {allowed}")
        self._part = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.result.size += end - start
            if self.result.size > self.max_file_bytes:
                raise PayloadTooLargeError(
                    f"the file is larger than {self.max_file_bytes} bytes, the most accepted "
                    "(DOCANCHOR_MAX_UPLOAD_BYTES)"
                )
            piece = memoryview(data)[start:end]
            if self.keep_file:
                self._chunks.append(bytes(piece))
            if self.tail_window:
                # The digest is taken later from the head's hasher and the tail, so that
                # each byte is hashed once; the tail slides by whole windows.
                self._tail += piece
                if len(self._tail) > 2 * self.tail_window:
                    cut = len(self._tail) - self.tail_window
                    self._hasher.update(bytes(self._tail[:cut]))
                    del self._tail[:cut]
                    self.result.tail_start += cut
            else:
                self._hasher.update(piece)
        else:
            self._buffer += data[start:end]
            if len(self._buffer) > MAX_FIELD_BYTES:
                raise PayloadTooLargeError(
                    f"the form field {self._part!r} is larger than {MAX_FIELD_BYTES} bytes"
                )

    def on_part_end(self) -> None:
        if self._part is None:
            return
        if self._is_file:
            if self.tail_window:
                self.result.tail = bytes(self._tail)
                self.result.head_hasher = self._hasher.copy()
                self._hasher.update(self.result.tail)
            if self.keep_file:
                self.result.content = b"".join(self._chunks)
                self._chunks = []
            self.result.sha256 = self._hasher.digest()
            self._hasher = None
        else:
            self.result.fields[self._part] = bytes(self._buffer)
        self._part = None
        self._is_file = False

    def on_end(self) -> None:
        self.ended = True


def _form_parser(
    content_type: str,
    *,
    max_file_bytes: int,
    file_field: str,
    text_fields: frozenset[str],
    keep_file: bool = False,
    tail_window: int = 0,
) -> tuple[MultipartParser, _FormReader]:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise InputError("a multipart/form-data body needs a boundary in its Content-Type")
    reader = _FormReader(
        file_field=file_field,
        text_fields=text_fields,
        max_file_bytes=max_file_bytes,
        keep_file=keep_file,
        tail_window=tail_window,
    )
    callbacks: Any = {
        "on_part_begin": reader.on_part_begin,
        "on_part_data": reader.on_part_data,
        "on_part_end": reader.on_part_end,
        "on_header_field": reader.on_header_field,
        "on_header_value": reader.on_header_value,
        "on_header_end": reader.on_header_end,
        "on_headers_finished": reader.on_headers_finished,
        "on_end": reader.on_end,
    }
    try:
        return MultipartParser(boundary, callbacks), reader
    except (FormParserError, ValueError) as exc:
        raise InputError(f"the multipart body is malformed: {exc}") from None


def _form_result(reader: _FormReader, file_field: str) -> FormUpload:
    draft = reader.result
    if not reader.ended:
        raise InputError("the multipart body ends before its closing boundary")
    if draft.sha256 is None:
        raise InputError(f"the multipart body has no {file_field!r} part (the document file)")
    return FormUpload(
        sha256=draft.sha256,
        size=draft.size,
        filename=draft.filename,
        fields=draft.fields,
        tail=draft.tail,
        tail_start=draft.tail_start,
        head_hasher=draft.head_hasher,
    )


def _upload_limit(declared: int | None, max_file_bytes: int) -> int:
    limit = max_file_bytes + FORM_OVERHEAD
    if declared is not None and declared > limit:
        raise PayloadTooLargeError(
            f"the upload is {declared} bytes; files of at most {max_file_bytes} bytes are "
            "accepted (DOCANCHOR_MAX_UPLOAD_BYTES)"
        )
    return limit


def parse_form(
    content_type: str,
    body: bytes,
    *,
    max_file_bytes: int,
    file_field: str = "file",
    text_fields: frozenset[str] = frozenset(),
) -> FormUpload:
    """As :func:`read_form`, for a small body already read whole (``POST /v1/documents``)."""
    _upload_limit(len(body), max_file_bytes)
    parser, reader = _form_parser(
        content_type, max_file_bytes=max_file_bytes, file_field=file_field, text_fields=text_fields
    )
    try:
        parser.write(body)
        parser.finalize()
    except DocAnchorError:
        raise
    except (FormParserError, ValueError) as exc:
        raise InputError(f"the multipart body is malformed: {exc}") from None
    return _form_result(reader, file_field)


async def read_form(
    request: Request,
    *,
    max_file_bytes: int,
    file_field: str = "file",
    text_fields: frozenset[str] = frozenset(),
    tail_window: int = 0,
) -> FormUpload:
    """Stream a multipart/form-data body: hash the ``file_field`` part, keep small fields.

    ``tail_window`` keeps the file's last bytes and the hasher of the bytes
    before them, so that the digest of any prefix that ends in the tail can be
    had (``FormUpload.prefix_sha256``).

    Each chunk the server hands over goes to the parser whole (the parser's callbacks
    get slices of it, and the file's slices go to SHA-256 as memory views): no
    per-byte Python work.
    """
    parser, reader = _form_parser(
        request.headers.get("content-type", ""),
        max_file_bytes=max_file_bytes,
        file_field=file_field,
        text_fields=text_fields,
        tail_window=tail_window,
    )
    await _feed(request, parser, max_file_bytes)
    return _form_result(reader, file_field)


async def _feed(request: Request, parser: MultipartParser, max_file_bytes: int) -> None:
    """The request's body to ``parser``, chunk by chunk, refused once over the limit."""
    limit = _upload_limit(_declared_length(request), max_file_bytes)
    try:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise PayloadTooLargeError(
                    f"the upload is larger than {limit} bytes; files of at most {max_file_bytes} "
                    "bytes are accepted (DOCANCHOR_MAX_UPLOAD_BYTES)"
                )
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except DocAnchorError:
        raise
    except (FormParserError, ValueError) as exc:
        raise InputError(f"the multipart body is malformed: {exc}") from None


async def read_form_file(
    request: Request, *, max_file_bytes: int, file_field: str = "file"
) -> tuple[FormUpload, bytes]:
    """As :func:`read_form`, keeping the whole file too: (the form, the file's bytes)."""
    parser, reader = _form_parser(
        request.headers.get("content-type", ""),
        max_file_bytes=max_file_bytes,
        file_field=file_field,
        text_fields=frozenset(),
        keep_file=True,
    )
    await _feed(request, parser, max_file_bytes)
    return _form_result(reader, file_field), reader.result.content


__all__ = [
    "MAX_BODY_DEPTH",
    "FormUpload",
    "UnsupportedMediaTypeError",
    "check_length",
    "declared_length",
    "decode_json",
    "is_json",
    "is_json_type",
    "is_multipart",
    "parse_form",
    "parse_json",
    "parse_json_field",
    "read_body",
    "read_form",
    "read_form_file",
    "read_json",
    "validate_object",
]

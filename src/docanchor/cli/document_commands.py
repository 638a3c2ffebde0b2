"""The entity's and auditor's commands: submit, anchor, status, receipt, verify, audit."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from docanchor import hashing
from docanchor.cli import (
    JsonOpt,
    RpcUrlOpt,
    app,
    emit_json,
    encode_line,
    plural,
    ready_data_dir,
    settings,
)
from docanchor.errors import (
    EXIT_CHECK_FAILED,
    EXIT_ENVIRONMENT,
    DocAnchorError,
    InputError,
    NotFoundError,
)
from docanchor.jsontext import loads_strict
from docanchor.pdf.stamped import StampedPdf
from docanchor.presenters import (
    anchored_batch_json,
    batch_json,
    document_line,
    receipt_check_json,
)
from docanchor.service import (
    DocAnchorService,
    DocumentView,
    WaitProgress,
    not_found,
    receipt_verdict,
)
from docanchor.vocabulary import BatchAction, DocumentStatus

SUBMIT_CHUNK = 50_000
# How long `anchor` holds the anchoring lease at most (one pass sends and waits
# for transactions); released as soon as the command ends.
ANCHOR_LEASE_SECONDS = 600.0


def _progress(total: int, label: str) -> Any:
    """A rich progress bar on stderr, only when stderr is a terminal."""
    if total < 50 or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(stderr=True), transient=True)
    progress.start()
    task = progress.add_task(label, total=total)
    return progress, task


def _advance(bar: Any, n: int = 1) -> None:
    if bar is not None:
        bar[0].advance(bar[1], n)


def _stop(bar: Any) -> None:
    if bar is not None:
        bar[0].stop()


def shown(text: object) -> str:
    """``text`` safe to print: bytes that are not UTF-8 (in a file name) as escapes."""
    try:
        raw = os.fsencode(str(text))
    except UnicodeError:
        raw = str(text).encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _no_nul(value: Any, what: str) -> None:
    """Refuse NUL characters anywhere in a value given on the command line."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InputError(f"{what} holds a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, what)
            _no_nul(item, what)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item, what)


def _parse_meta(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` (a string) or ``KEY:=JSON`` (a typed value) pairs."""
    meta: dict[str, Any] = {}
    for pair in pairs:
        if ":=" in pair and pair.index(":=") < pair.find("=") + 1:
            key, raw = pair.split(":=", 1)
            # The one strict decoder: depth measured before parsing, no duplicates, no NaN.
            # Floats are decoded so that the metadata check names them and says what to do.
            meta[key] = loads_strict(
                raw, floats=True, what=f"--meta {_short(key)}: the value after :="
            )
        elif "=" in pair:
            key, value = pair.split("=", 1)
            meta[key] = value
        else:
            raise InputError(f"--meta {_short(pair)} is not KEY=VALUE (or KEY:=JSON)")
        if not key:
            raise InputError(f"--meta {_short(pair)} has an empty key")
        _no_nul(key, f"--meta {_short(key)}")
        _no_nul(meta[key], f"--meta {_short(key)}")
    return meta


def _walk(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        try:
            if path.is_dir():
                for child in sorted(path.rglob("*")):
                    if child.is_file():
                        yield child
            elif path.is_file():
                yield path
            else:
                raise InputError(f"{shown(path)}: no such file or folder")
        except OSError as exc:
            raise InputError(f"{shown(path)}: cannot read ({exc.strerror})") from None


def _digest_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return hashing.digest_stream(handle)[0]
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read ({exc.strerror})") from None


def _read_hashes(path: Path) -> list[bytes]:
    """Hex SHA-256 digests, one per line; blank lines and # comments skipped."""
    digests: list[bytes] = []
    try:
        handle = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read ({exc.strerror})") from None
    with handle:
        for number, raw in enumerate(_lines(handle, path), 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{shown(path)}, line {number}: not UTF-8 text") from None
            text = line.strip()
            if len(text) == 64:  # the common case, without the lenient parser's cost
                try:
                    value = bytes.fromhex(text)
                except ValueError:
                    value = b""
                if len(value) == 32:
                    digests.append(value)
                    continue
            if not text or text.startswith("#"):
                continue
            try:
                digests.append(hashing.parse_sha256_lenient(text.split()[0]))
            except InputError:
                raise InputError(
                    f"{shown(path)}, line {number}: not a SHA-256 digest "
                    f"(64 hex characters): {_short(text)}"
                ) from None
    return digests


def _lines(handle: Any, path: Path) -> Iterator[bytes]:
    """The lines of a binary file; a read error (a folder, an I/O error) is bad input."""
    try:
        yield from handle
    except OSError as exc:
        raise InputError(f"{shown(path)}: cannot read ({exc.strerror})") from None


def _service(*, chain: bool = False, **overrides: Any) -> DocAnchorService:
    from docanchor.wiring import build_service

    cfg = settings(**overrides)
    ready_data_dir(cfg)
    return build_service(cfg, chain=chain)


@app.command()
def submit(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files, or folders (recursively).", metavar="PATH", show_default=False),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference", metavar="REF", help="Order or contract number, e.g. OC-2025-000123."
        ),
    ] = None,
    doc_type: Annotated[
        str | None,
        typer.Option("--type", metavar="TYPE", help="Document type, e.g. purchase_order."),
    ] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", metavar="RUC", help="The registering entity's RUC.")
    ] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option(
            "--meta",
            metavar="KEY=VALUE",
            help="More metadata: KEY=VALUE (string) or KEY:=JSON. Repeatable.",
        ),
    ] = None,
    hashes: Annotated[
        Path | None,
        typer.Option(
            "--hashes",
            metavar="FILE",
            help="A file of hex SHA-256 digests, one per line (- for stdin).",
        ),
    ] = None,
    as_versions: Annotated[
        bool,
        typer.Option(
            "--as-versions",
            help="With --reference and several documents: register them all as versions "
            "of that one reference (else refused).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register documents (their SHA-256 and metadata) for the next batch.

    --reference names one document (an order, a contract): with several files,
    a folder or --hashes, every document would become a version of that one
    reference, so that is refused unless --as-versions says so.
    """
    if not paths and hashes is None:
        raise InputError("give files or folders to submit, or --hashes FILE")
    metadata = _parse_meta(meta or [])
    for flag, value in (("--reference", reference), ("--type", doc_type), ("--entity", entity)):
        if value is not None:
            _no_nul(value, flag)
    if reference is not None:
        metadata["reference"] = reference
    if doc_type is not None:
        metadata["type"] = doc_type
    if entity is not None and not entity.strip():
        raise InputError("--entity must not be empty")
    hashing.canonical_metadata(metadata)  # refuse bad metadata before reading anything
    if "reference" in metadata and not as_versions:
        several = hashes is not None or len(paths or []) > 1 or any(p.is_dir() for p in paths or [])
        if several:
            raise InputError(
                "--reference with several documents (a folder, several files or --hashes) "
                "would make each one a version of the same reference: submit them one by one, "
                "or add --as-versions if they are versions of one document"
            )

    labelled: list[tuple[str, bytes]] = []
    if hashes is not None:
        labelled += [(d.hex(), d) for d in _read_hashes(hashes)]
    files = list(_walk(paths or []))
    bar = _progress(len(files), "hashing")
    for file in files:
        labelled.append((str(file), _digest_file(file)))
        _advance(bar)
    _stop(bar)
    if not labelled:
        raise InputError("nothing to submit: the folders hold no files and the list no digests")

    service = _service()
    # Registered in chunks, each committed on its own: memory stays flat for a
    # million digests, and a repeat after an interruption is idempotent.
    created = 0
    show_each = as_json or len(labelled) <= 20
    bar = _progress(len(labelled), "registering")
    for start in range(0, len(labelled), SUBMIT_CHUNK):
        chunk = labelled[start : start + SUBMIT_CHUNK]
        items = service.prepare_registrations([d for _, d in chunk], metadata, entity_ruc=entity)
        if not show_each:
            created += service.register_count(items)
            _advance(bar, len(chunk))
            continue
        results = service.register_many(items)
        # Only a registration under a reference has a version.
        versions = service.versions_of(
            [r.view.document.id for r in results if r.view.document.reference is not None]
        )
        if as_json:
            # The chunk's lines made and written at once: the new registrations'
            # pending receipts in bulk (one canonical metadata text per chunk), one
            # write for the chunk. A document registered before may be sealed or
            # anchored by now: its line and receipt say so.
            fresh = iter(
                service.pending_receipts_json([r.view.document for r in results if r.created])
            )
            lines = []
            for (label, _), result in zip(chunk, results, strict=True):
                created += result.created
                if result.created:
                    view, receipt = result.view, next(fresh)
                else:
                    view = service.registered_view(result)
                    receipt = service.receipt_json(view)
                line = document_line(view, receipt, path=shown(label), created=result.created)
                line["version"] = versions.get(view.document.id)
                lines.append(encode_line(line))
            sys.stdout.write("".join(lines))
            sys.stdout.flush()
            _advance(bar, len(chunk))
            continue
        for (label, _), result in zip(chunk, results, strict=True):
            created += result.created
            mark = "registered" if result.created else "already registered"
            typer.echo(f"{result.view.document.sha256}  {shown(label)}  ({mark})")
        _advance(bar, len(chunk))
    _stop(bar)
    if not as_json:
        pending = service.document_counts().get(DocumentStatus.PENDING, 0)
        hint = (
            f"; {pending} pending: run `docanchor anchor` to anchor "
            + ("it" if pending == 1 else "them")
            if pending
            else ""
        )
        typer.echo(
            f"{plural(created, 'document')} registered, "
            f"{len(labelled) - created} already registered{hint}"
        )


@app.command()
def anchor(
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until every batch is confirmed.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0, metavar="SECONDS", help="Seconds to wait with --wait."),
    ] = 600,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Seal pending documents into a batch and anchor every sealed batch on chain.

    Also the recovery path after a crash: sealed batches are reconciled with
    the chain and never anchored twice. Takes the same anchoring lease as
    `docanchor serve`: while another process holds it, exits 3 at once
    without sending anything.
    """
    service = _service(chain=True, rpc_url=rpc_url)
    lease = ANCHOR_LEASE_SECONDS + (timeout if wait else 0)
    try:
        reports = service.run_locked(ttl_seconds=lease)
        if reports is None:
            raise DocAnchorError(
                "the anchoring lease is held by another process (a `docanchor serve` or another "
                "`docanchor anchor` on this database); nothing was sent, try again later"
            )
        if wait:
            show = _wait_progress if sys.stderr.isatty() and not as_json else None
            try:
                reports += service.wait_until_confirmed(timeout=timeout, on_progress=show)
            finally:
                if show is not None:
                    sys.stderr.write("\r\033[K")
    finally:
        service.release()  # only ever releases this process's own lease
    touched = {r.batch.id for r in reports}
    reanchored = {r.batch.id for r in reports if r.action == BatchAction.REANCHORED}
    batches = [b for b in service.batches() if b.id in touched]
    if as_json:
        emit_json(
            {"batches": [anchored_batch_json(b, reanchored=b.id in reanchored) for b in batches]}
        )
        return
    if not batches:
        typer.echo("nothing to anchor: no pending documents and no sealed batches")
    for b in batches:
        typer.echo(
            f"batch {b.id}: {plural(b.size, 'document')}, root {b.root.hex()}, {b.status}"
            + (
                f", seq {b.anchor.seq}, block {b.anchor.block_number}, tx {b.anchor.tx_hash}"
                if b.anchor is not None
                else ""
            )
            + (" (re-anchored after a reorganisation)" if b.id in reanchored else "")
            + (f"; {b.last_error}" if b.status == "sealed" and b.last_error else "")
        )


def _wait_progress(progress: WaitProgress) -> None:
    """One line on the terminal, rewritten in place: what ``anchor --wait`` waits for."""
    if progress.confirmations is None:
        so_far = "not mined yet"
    else:
        so_far = f"{progress.confirmations}/{progress.required} confirmations"
    sys.stderr.write(
        f"\r\033[Kwaiting for {plural(progress.waiting, 'batch', 'batches')}: {so_far}, "
        f"head {progress.head}, {progress.waited:.0f} s"
    )
    sys.stderr.flush()


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Documents by status and the batches with their anchors."""
    service = _service()
    counts = service.document_counts()
    batches = [batch_json(b) for b in service.batches()]
    if as_json:
        emit_json({"documents": counts, "batches": batches})
        return
    typer.echo("documents: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for b in batches:
        typer.echo(
            f"batch {b['id']}: {plural(b['size'], 'document')} {b['status']}, root {b['root']}"
            + (f", seq {b['seq']}, block {b['block_number']}" if b["seq"] is not None else "")
            + (" (re-anchored after a reorganisation)" if b["reanchored"] else "")
            + (f"; {b['last_error']}" if b["last_error"] else "")
        )


def _views_for(service: DocAnchorService, target: str) -> tuple[bytes, list[DocumentView]]:
    path = Path(target)
    if path.is_file():
        digest = _digest_file(path)
    else:
        try:
            digest = hashing.parse_sha256_lenient(target)
        except InputError:
            raise InputError(
                f"{shown(_short(target))}: neither a file nor a SHA-256 digest"
            ) from None
    return digest, service.lookup(digest)


def _write_error(path: Path, exc: OSError) -> DocAnchorError:
    """A failed write as one line: a wrong path is bad input (2), the rest environment (3)."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENAMETOOLONG):
        return InputError(f"-o {shown(path)}: cannot write there ({reason})")
    return DocAnchorError(f"-o {shown(path)}: cannot write there ({reason})")


def _prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"-o {shown(out_dir)} is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(out_dir, exc) from None


def _write_receipt(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` whole or not at all (a temporary file, then a rename)."""
    if path.is_dir():
        raise InputError(f"-o: {shown(path)} is a folder; remove it or choose another -o")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, exc) from None


@app.command()
def receipt(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Files or hex SHA-256 digests.", metavar="FILE|SHA256", show_default=False
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("-o", "--out", metavar="DIR", help="Write DIR/<sha256>.receipt.json files."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every registered version.")] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="With -o: one JSON line per document naming the files written."
        ),
    ] = False,
) -> None:
    """Print (one document) or write (-o DIR) the receipts of registered documents.

    A receipt is JSON already: without -o it is printed as it is.
    """
    if out_dir is None and len(targets) != 1:
        raise InputError("give exactly one document without -o, or -o DIR for several")
    for target in targets:
        _no_nul(target, "the document name")
    if out_dir is not None:
        _prepare_out_dir(out_dir)
    service = _service()
    missing = 0
    for target in targets:
        digest, views = _views_for(service, target)
        if not views:
            if out_dir is None:
                raise not_found(digest)
            if as_json:
                emit_json({"target": shown(target), "sha256": digest.hex(), "files": []})
            else:
                typer.echo(f"docanchor: {shown(target)}: not registered", err=True)
            missing += 1
            continue
        chosen = views if every else [views[-1]]
        receipts = [service.receipt_json(v) for v in chosen]
        if out_dir is None:
            payload: Any = receipts if every else receipts[0]
            sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
            continue
        written: list[Path] = []
        for view, data in zip(chosen, receipts, strict=True):
            suffix = f".v{view.document.id}" if every and len(chosen) > 1 else ""
            path = out_dir / f"{digest.hex()}{suffix}.receipt.json"
            _write_receipt(path, data)
            written.append(path)
        if as_json:
            emit_json(
                {
                    "target": shown(target),
                    "sha256": digest.hex(),
                    "files": [shown(p) for p in written],
                }
            )
        else:
            typer.echo(
                f"{shown(target)}: {plural(len(chosen), 'receipt')} written to {shown(out_dir)}"
            )
    if missing:
        raise typer.Exit(EXIT_CHECK_FAILED)


_VERDICTS = {
    "valid": "VALID",
    "not_yet_confirmed": "NOT YET CONFIRMED",
    "not_valid": "NOT VALID",
    "cannot_check": "CANNOT CHECK HERE",
}


def _print_checks(result: Any) -> None:
    for check in result.checks:
        mark = "skip" if check.skipped else ("ok  " if check.ok else "FAIL")
        typer.echo(f"  [{mark}] {check.step}. {check.name}: {check.detail}")


@app.command()
def stamp(
    document: Annotated[Path, typer.Argument(help="The registered, anchored PDF.")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="The stamped PDF to write (default FILE.stamped.pdf)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a stamped copy of a registered, anchored PDF: the original, unchanged, then
    its receipt (embedded as docanchor-receipt.json) and a page with a QR code."""
    try:
        data = document.read_bytes()
    except OSError as exc:
        raise InputError(f"{document}: cannot read ({exc.strerror})") from exc
    target = out if out is not None else document.with_name(f"{document.stem}.stamped.pdf")
    if target.resolve() == document.resolve():
        raise InputError(f"{target}: the stamped copy must not replace the original")
    cfg = settings()
    stamped = _service().stamp(data, public_url=cfg.public_url)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_bytes(stamped)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"{target}: cannot write ({exc.strerror})") from exc
    digest = hashing.sha256(data).hex()
    if as_json:
        emit_json(
            {
                "file": str(target),
                "original": str(document),
                "sha256": digest,
                "original_length": len(data),
                "appended_length": len(stamped) - len(data),
            }
        )
        return
    typer.echo(
        f"{target}: {document} ({digest}) stamped; "
        f"{len(stamped) - len(data)} bytes appended, the original's {len(data)} bytes unchanged"
    )


def _read_stamped(path: Path) -> StampedPdf | None:
    from docanchor.pdf.stamped import read_stamp_stream

    try:
        with path.open("rb") as handle:
            return read_stamp_stream(handle)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc


@app.command()
def verify(
    document: Annotated[
        Path | None, typer.Argument(help="The document file.", metavar="FILE", show_default=False)
    ] = None,
    receipt_file: Annotated[
        Path | None,
        typer.Option(
            "--receipt",
            metavar="FILE",
            help="Check this receipt against the chain only (no database).",
        ),
    ] = None,
    rpc_url: RpcUrlOpt = None,
    confirmations: Annotated[
        int | None,
        typer.Option("--confirmations", min=1, metavar="N", help="Confirmations you require."),
    ] = None,
    signing_keys: Annotated[
        list[str] | None,
        typer.Option(
            "--signing-key",
            help="A published receipt signing key (hex or base64) to check signatures "
            "with; repeatable. The data dir's own key is always used.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a document (and/or a receipt) against the chain. Exit 0 only when valid.

    Only receipts anchored in a trusted deployment can be valid: the data dir's
    deployment and those of $DOCANCHOR_TRUSTED_CONTRACTS (CHAIN_ID:0xADDRESS,...).
    The verdict is VALID, NOT YET CONFIRMED (every check passed but the anchor
    is missing or has fewer confirmations than required: ask again later) or
    NOT VALID; both of the latter exit 1. CANNOT CHECK HERE (exit 3): the node
    is on another chain than the receipt's anchor, so nothing could be checked
    on chain. A stamped PDF is checked with the
    receipt it carries (no database): its original part is cut back out and is
    the document checked.
    """
    from docanchor.receipt import ParsedReceipt, parse_receipt_text

    if document is None and receipt_file is None:
        raise InputError("give the document, or --receipt FILE (or both)")
    stamped = _read_stamped(document) if document is not None else None
    if stamped is not None:
        digest: bytes | None = stamped.original_sha256
        if not as_json:
            typer.echo(
                f"{document}: stamped PDF; the original is its first {stamped.original_length} "
                f"bytes (SHA-256 {stamped.original_sha256.hex()})"
            )
    else:
        digest = _digest_file(document) if document is not None else None
    cfg = settings(rpc_url=rpc_url)
    from docanchor.config import parse_public_keys
    from docanchor.service import verify_receipt_on_chain
    from docanchor.wiring import open_reader, verifier_trust

    try:
        flag_keys = [key for text in signing_keys or [] for key in parse_public_keys(text)]
    except InputError as exc:
        raise InputError(f"--signing-key: {exc}") from None
    if receipt_file is not None:
        try:
            text = receipt_file.read_bytes()
        except OSError as exc:
            raise InputError(f"{receipt_file}: cannot read ({exc.strerror})") from exc
        parsed = [parse_receipt_text(text)]
    elif stamped is not None:
        parsed = [parse_receipt_text(stamped.receipt)]
    elif digest is not None:
        service = _service()
        views = service.lookup(digest)
        if not views:
            if as_json:
                emit_json({"valid": False, "status": "not_found", "sha256": digest.hex()})
            else:
                typer.echo(f"{document}: not registered (SHA-256 {digest.hex()})")
            raise typer.Exit(EXIT_CHECK_FAILED)
        # The database's own receipts, unsigned: the signature check has nothing to do.
        parsed = [
            ParsedReceipt(r, r.to_json()) for r in (service.receipt(v) for v in reversed(views))
        ]
    else:
        raise InputError("give the document, or --receipt FILE (or both)")
    receipts = [p.receipt for p in parsed]
    reader = open_reader(cfg)
    required = confirmations or cfg.required_confirmations(reader.chain_id)
    trust = verifier_trust(cfg, reader.chain_id, extra_keys=tuple(flag_keys))
    results = [
        verify_receipt_on_chain(
            p.receipt,
            reader,
            document_sha256=digest,
            required_confirmations=required,
            trust=trust,
            receipt_json=p.source,
        )
        for p in parsed
    ]
    verdicts = [
        receipt_verdict(r, c, node_chain_id=reader.chain_id, trust=trust)
        for r, c in zip(results, receipts, strict=True)
    ]
    index = next(
        (
            verdicts.index(v)
            for v in ("valid", "not_yet_confirmed", "cannot_check")
            if v in verdicts
        ),
        0,
    )
    best, chosen, verdict = results[index], receipts[index], verdicts[index]
    if as_json:
        emit_json(
            {
                **(
                    {
                        "stamped": {
                            "original_length": stamped.original_length,
                            "original_sha256": stamped.original_sha256.hex(),
                        }
                    }
                    if stamped is not None
                    else {}
                ),
                **receipt_check_json(
                    best, chosen, verdict=verdict, required_confirmations=required
                ),
            }
        )
    else:
        typer.echo(
            f"{_VERDICTS[verdict]}: {plural(best.confirmations, 'confirmation')}, "
            f"{required} required"
            + (
                f" (anchored at block {chosen.anchor.block_number}, tx {chosen.anchor.tx_hash})"
                if chosen.anchor
                else ""
            )
        )
        _print_checks(best)
        anchor = chosen.anchor
        if verdict == "cannot_check" and anchor is not None:
            typer.echo(
                f"cannot check here: the node at {reader.node} is on chain {reader.chain_id}, "
                f"the receipt is anchored on chain {anchor.chain_id}; verify with a node "
                f"of chain {anchor.chain_id} (--rpc-url)",
                err=True,
            )
    if verdict == "cannot_check":
        raise typer.Exit(EXIT_ENVIRONMENT)
    if not best.valid:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def audit(
    from_block: Annotated[
        int, typer.Option("--from-block", min=0, metavar="N", help="First block to scan.")
    ] = 0,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
    period_from: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="DATE", help="Period audit: first UTC date or ISO time (inclusive)."
        ),
    ] = None,
    period_to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="DATE", help="Period audit: end UTC date or time (exclusive)."
        ),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option("--entity", metavar="RUC", help="Period audit: list this entity's only."),
    ] = None,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Period audit: write the registrations as CSV."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", metavar="URL", help="Period audit of a remote service (not trusted)."
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="KEY", help="The remote service's auditor or entity key."),
    ] = None,
) -> None:
    """Without --from/--to: match the contract's Anchored events with the database, check
    that every checkpoint extends the one before, and recompute every root from the stored
    documents.

    With --from and --to: prove a period's record complete and unaltered from the chain
    (checkpoints anchored in the period, range checks of every leaf against the anchored
    roots, openings recomputed to their leaves), against this database or, with --url and
    --key, against a remote service. Exits 1 unless every leaf is range-checked and opened.
    """
    cfg = settings(rpc_url=rpc_url)
    period = (period_from, period_to)
    if period_from is not None or period_to is not None:
        if None in period:
            raise InputError("a period audit needs both --from and --to")
        if from_block:
            raise InputError("--from-block is for the whole-database audit, not a period")
        from docanchor.cli.period_audit import run_period_audit

        if url is None:
            ready_data_dir(cfg)
        run_period_audit(
            cfg,
            start_text=period_from or "",
            end_text=period_to or "",
            entity=entity,
            url=url,
            key=key,
            as_json=as_json,
            csv_path=csv_path,
        )
        return
    if any(v is not None for v in (entity, csv_path, url, key)):
        raise InputError("--entity, --csv, --url and --key need a period: give --from and --to")
    ready_data_dir(cfg)
    from docanchor.wiring import build_service, open_chain

    service = build_service(cfg, chain_client=open_chain(cfg, signer=False))
    report = service.audit(from_block=from_block)
    if as_json:
        emit_json(report.to_json())
    else:
        typer.echo(
            f"{plural(report.events, 'Anchored event')}, "
            f"{plural(report.batches_checked, 'batch', 'batches')} checked: "
            + ("all consistent" if report.ok else plural(len(report.findings), "problem"))
        )
        for finding in report.findings:
            typer.echo(f"  [{finding.kind}] {finding.detail}")
    if not report.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


__all__ = ["NotFoundError", "anchor", "audit", "receipt", "stamp", "status", "submit", "verify"]

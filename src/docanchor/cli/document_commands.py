"""The entity's and auditor's commands: submit, anchor, status, receipt, verify, audit."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from docanchor import hashing
from docanchor.cli import JsonOpt, app, emit_json, settings
from docanchor.errors import EXIT_CHECK_FAILED, InputError, NotFoundError
from docanchor.service import DocAnchorService, batch_json, not_found
from docanchor.store import DocumentView

SUBMIT_CHUNK = 50_000


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


def _parse_meta(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` (a string) or ``KEY:=JSON`` (a typed value) pairs."""
    meta: dict[str, Any] = {}
    for pair in pairs:
        if ":=" in pair and pair.index(":=") < pair.find("=") + 1:
            key, raw = pair.split(":=", 1)
            try:
                meta[key] = json.loads(raw)
            except ValueError:
                raise InputError(f"--meta {pair!r}: the value after := is not JSON") from None
        elif "=" in pair:
            key, value = pair.split("=", 1)
            meta[key] = value
        else:
            raise InputError(f"--meta {pair!r} is not KEY=VALUE (or KEY:=JSON)")
        if not key:
            raise InputError(f"--meta {pair!r} has an empty key")
    return meta


def _walk(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file():
                    yield child
        elif path.is_file():
            yield path
        else:
            raise InputError(f"{path}: no such file or folder")


def _digest_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return hashing.digest_stream(handle)[0]
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc


def _read_hashes(path: Path) -> list[bytes]:
    """Hex SHA-256 digests, one per line; blank lines and # comments skipped."""
    digests: list[bytes] = []
    try:
        handle = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        for number, line in enumerate(handle, 1):
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
                    f"{path}, line {number}: not a SHA-256 digest "
                    f"(64 hex characters): {text[:80]!r}"
                ) from None
    return digests


def _service(*, chain: bool = False, **overrides: Any) -> DocAnchorService:
    from docanchor.wiring import build_service

    return build_service(settings(**overrides), chain=chain)


def _doc_json(service: DocAnchorService, view: DocumentView, **extra: Any) -> dict[str, Any]:
    doc = view.document
    return {
        **extra,
        "id": doc.id,
        "sha256": doc.sha256,
        "status": view.status,
        "entity_ruc": doc.entity_ruc or None,
        "reference": doc.reference,
        "version": view.version,
        "batch_id": doc.batch_id,
        "receipt": service.receipt_json(view),
    }


@app.command()
def submit(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files, or folders (recursively).")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Order or contract number, e.g. OC-2025-000123."),
    ] = None,
    doc_type: Annotated[
        str | None, typer.Option("--type", help="Document type, e.g. purchase_order.")
    ] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="The registering entity's RUC.")
    ] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option("--meta", help="More metadata: KEY=VALUE (string) or KEY:=JSON. Repeatable."),
    ] = None,
    hashes: Annotated[
        Path | None,
        typer.Option("--hashes", help="A file of hex SHA-256 digests, one per line (- for stdin)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register documents (their SHA-256 and metadata) for the next batch."""
    if not paths and hashes is None:
        raise InputError("give files or folders to submit, or --hashes FILE")
    metadata = _parse_meta(meta or [])
    if reference is not None:
        metadata["reference"] = reference
    if doc_type is not None:
        metadata["type"] = doc_type
    if entity is not None and not entity.strip():
        raise InputError("--entity must not be empty")
    hashing.canonical_metadata(metadata)  # refuse bad metadata before reading anything

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
            created += service.store.register_counts(items)[0]
            _advance(bar, len(chunk))
            continue
        results = service.register_many(items)
        versions = service.store.versions_of([r.view.document.id for r in results])
        for (label, _), result in zip(chunk, results, strict=True):
            created += result.created
            view = result.view._replace(version=versions.get(result.view.document.id))
            if as_json:
                emit_json({"path": label, "created": result.created, **_doc_json(service, view)})
            else:
                mark = "registered" if result.created else "already registered"
                typer.echo(f"{result.view.document.sha256}  {label}  ({mark})")
        _advance(bar, len(chunk))
    _stop(bar)
    if not as_json:
        typer.echo(
            f"{created} document(s) registered, {len(labelled) - created} already registered; "
            "run `docanchor anchor` to anchor them"
        )


@app.command()
def anchor(
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until every batch is confirmed.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 600,
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Ethereum JSON-RPC URL.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Seal pending documents into a batch and anchor every sealed batch on chain.

    Also the recovery path after a crash: sealed batches are reconciled with
    the chain and never anchored twice.
    """
    service = _service(chain=True, rpc_url=rpc_url)
    reports = service.run_once()
    if wait:
        service.wait_until_confirmed(timeout=timeout)
    touched = {r.batch.id for r in reports}
    batches = [b for b in service.store.batches() if b.id in touched]
    if as_json:
        emit_json(
            {
                "batches": [
                    {
                        k: batch_json(b)[k]
                        for k in ("id", "size", "root", "seq", "tx_hash", "block_number", "status")
                    }
                    for b in batches
                ]
            }
        )
        return
    if not batches:
        typer.echo("nothing to anchor: no pending documents and no sealed batches")
    for b in batches:
        typer.echo(
            f"batch {b.id}: {b.size} document(s), root {b.root}, {b.status}"
            + (f", seq {b.seq}, block {b.block_number}, tx {b.tx_hash}" if b.tx_hash else "")
        )


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Documents by status and the batches with their anchors."""
    service = _service()
    counts = service.store.document_counts()
    batches = [batch_json(b) for b in service.store.batches()]
    if as_json:
        emit_json({"documents": counts, "batches": batches})
        return
    typer.echo("documents: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for b in batches:
        typer.echo(
            f"batch {b['id']}: {b['size']} document(s) {b['status']}, root {b['root']}"
            + (f", seq {b['seq']}, block {b['block_number']}" if b["seq"] is not None else "")
        )


def _views_for(service: DocAnchorService, target: str) -> tuple[bytes, list[DocumentView]]:
    path = Path(target)
    if path.is_file():
        digest = _digest_file(path)
    else:
        try:
            digest = hashing.parse_sha256_lenient(target)
        except InputError:
            raise InputError(f"{target}: neither a file nor a SHA-256 digest") from None
    return digest, service.lookup(digest)


@app.command()
def receipt(
    targets: Annotated[list[str], typer.Argument(help="Files or hex SHA-256 digests.")],
    out_dir: Annotated[
        Path | None, typer.Option("-o", "--out", help="Write DIR/<sha256>.receipt.json files.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every registered version.")] = False,
) -> None:
    """Print (one document) or write (-o DIR) the receipts of registered documents."""
    service = _service()
    if out_dir is None and len(targets) != 1:
        raise InputError("give exactly one document without -o, or -o DIR for several")
    missing = 0
    for target in targets:
        digest, views = _views_for(service, target)
        if not views:
            if out_dir is None:
                raise not_found(digest)
            typer.echo(f"docanchor: {target}: not registered", err=True)
            missing += 1
            continue
        chosen = views if every else [views[-1]]
        receipts = [service.receipt_json(v) for v in chosen]
        if out_dir is None:
            payload: Any = receipts if every else receipts[0]
            sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        for n, (view, data) in enumerate(zip(chosen, receipts, strict=True)):
            suffix = f".v{view.document.id}" if every and len(chosen) > 1 else ""
            name = f"{digest.hex()}{suffix}.receipt.json"
            (out_dir / name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            del n
        typer.echo(f"{target}: {len(chosen)} receipt(s) written to {out_dir}")
    if missing:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _print_checks(result: Any) -> None:
    for check in result.checks:
        mark = "skip" if check.skipped else ("ok  " if check.ok else "FAIL")
        typer.echo(f"  [{mark}] {check.step}. {check.name}: {check.detail}")


@app.command()
def verify(
    document: Annotated[Path | None, typer.Argument(help="The document file.")] = None,
    receipt_file: Annotated[
        Path | None,
        typer.Option("--receipt", help="Check this receipt against the chain only (no database)."),
    ] = None,
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Your Ethereum node.")] = None,
    confirmations: Annotated[
        int | None, typer.Option("--confirmations", min=1, help="Confirmations you require.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a document (and/or a receipt) against the chain. Exit 0 only when valid."""
    from docanchor.receipt import parse_receipt_json

    if document is None and receipt_file is None:
        raise InputError("give the document, or --receipt FILE (or both)")
    digest = _digest_file(document) if document is not None else None
    cfg = settings(rpc_url=rpc_url)
    from docanchor.chain import ChainClient
    from docanchor.service import verify_receipt_on_chain

    if receipt_file is not None:
        try:
            text = receipt_file.read_bytes()
        except OSError as exc:
            raise InputError(f"{receipt_file}: cannot read ({exc.strerror})") from exc
        receipts = [parse_receipt_json(text)]
    else:
        assert digest is not None
        service = _service()
        views = service.lookup(digest)
        if not views:
            if as_json:
                emit_json({"valid": False, "status": "not_found", "sha256": digest.hex()})
            else:
                typer.echo(f"{document}: not registered (SHA-256 {digest.hex()})")
            raise typer.Exit(EXIT_CHECK_FAILED)
        receipts = [service.receipt(v) for v in reversed(views)]
    reader = ChainClient(rpc_url=cfg.rpc_url, poa=cfg.poa)
    required = confirmations or cfg.required_confirmations(reader.chain_id)
    results = [
        verify_receipt_on_chain(r, reader, document_sha256=digest, required_confirmations=required)
        for r in receipts
    ]
    best = next((r for r in results if r.valid), results[0])
    chosen = receipts[results.index(best)]
    if as_json:
        emit_json(
            {
                "valid": best.valid,
                "status": chosen.status.value,
                "confirmations": best.confirmations,
                "required_confirmations": required,
                "checks": [
                    {
                        "step": c.step,
                        "name": c.name,
                        "ok": c.ok,
                        "skipped": c.skipped,
                        "detail": c.detail,
                    }
                    for c in best.checks
                ],
            }
        )
    else:
        verdict = "VALID" if best.valid else "NOT VALID"
        typer.echo(
            f"{verdict}: {best.confirmations} confirmation(s), {required} required"
            + (
                f" (anchored at block {chosen.anchor.block_number}, tx {chosen.anchor.tx_hash})"
                if chosen.anchor
                else ""
            )
        )
        _print_checks(best)
    if not best.valid:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def audit(
    from_block: Annotated[
        int, typer.Option("--from-block", min=0, help="First block to scan.")
    ] = 0,
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Ethereum JSON-RPC URL.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Match the contract's Anchored events with the database, check that every checkpoint
    extends the one before, and recompute every root from the stored documents."""
    cfg = settings(rpc_url=rpc_url)
    from docanchor.wiring import build_service, open_chain

    service = build_service(cfg, chain_client=open_chain(cfg, signer=False))
    report = service.audit(from_block=from_block)
    if as_json:
        emit_json(report.to_json())
    else:
        typer.echo(
            f"{report.events} Anchored event(s), {report.batches_checked} batch(es) checked: "
            + ("all consistent" if report.ok else f"{len(report.findings)} problem(s)")
        )
        for finding in report.findings:
            typer.echo(f"  [{finding.kind}] {finding.detail}")
    if not report.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


__all__ = ["NotFoundError", "anchor", "audit", "receipt", "status", "submit", "verify"]

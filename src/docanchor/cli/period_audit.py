"""``docanchor audit --from DATE --to DATE``: the period audit's edge (log-v1 section 4).

Thin: parses the period, builds the chain reader and the log source (the
local database, or a remote service with ``--url``), calls the service's
period audit (for a remote one with the deployments the settings trust, which
the service checks the remote's contract against) and prints the report.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from docanchor.audit import PeriodReport
from docanchor.audit import indices as _indices
from docanchor.cli import emit_json, plural
from docanchor.config import Settings
from docanchor.errors import EXIT_CHECK_FAILED, ConfigError, InputError
from docanchor.service import audit_remote_period
from docanchor.vocabulary import parse_utc_text

SHOWN = 20  # findings printed before "and n more"


def parse_when(text: str, option: str) -> datetime:
    """A UTC date (``2026-03-01``) or an ISO time (a time without a zone is UTC)."""
    value = text.strip()
    try:
        return parse_utc_text(value)
    except ValueError:
        raise InputError(
            f"{option} must be a date (2026-03-01) or an ISO time (2026-03-01T12:00:00Z), "
            f"got {text!r}"
        ) from None


def run_period_audit(
    cfg: Settings,
    *,
    start_text: str,
    end_text: str,
    entity: str | None,
    url: str | None,
    key: str | None,
    as_json: bool,
    csv_path: Path | None,
) -> None:
    start, end = parse_when(start_text, "--from"), parse_when(end_text, "--to")
    if start >= end:
        raise InputError(f"--from {start_text} is not before --to {end_text}")
    if key is not None and url is None:
        raise InputError("--key is for a remote audit; give the service's --url too")
    from docanchor.wiring import build_service, open_chain, open_remote_log

    chain = open_chain(cfg, signer=False)
    bar = _Bar()
    try:
        if url is None:
            service = build_service(cfg, chain_client=chain)
            report = service.audit_period(start, end, entity=entity, progress=bar.update)
        else:
            source = open_remote_log(url, key)
            try:
                report = audit_remote_period(
                    chain,
                    source,
                    start,
                    end,
                    trusted=cfg.trusted_deployments(chain.chain_id),
                    entity=entity,
                    progress=bar.update,
                )
            finally:
                source.close()
    finally:
        bar.stop()
    if csv_path is not None:
        write_csv(report, csv_path)
    if as_json:
        emit_json(report.to_json())
    else:
        print_report(report)
    if not report.complete:
        raise typer.Exit(EXIT_CHECK_FAILED)


class _Bar:
    """A progress bar on stderr for long audits, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.progress: Any = None
        self.task: Any = None

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            if total < 10_000 or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress

            self.progress = Progress(console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task("leaves checked", total=total)
        self.progress.update(self.task, completed=done)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def write_csv(report: PeriodReport, path: Path) -> None:
    """One row per opened registration, for a spreadsheet."""
    try:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["index", "sha256", "entity_ruc", "type", "reference", "metadata"])
            for r in report.registrations:
                meta = r["metadata"]
                writer.writerow(
                    [
                        r["index"],
                        r["sha256"],
                        meta.get("entity_ruc", ""),
                        meta.get("type", ""),
                        meta.get("reference", ""),
                        json.dumps(meta, ensure_ascii=False, sort_keys=True),
                    ]
                )
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def print_report(report: PeriodReport) -> None:
    data = report.to_json()
    period, cps, leaves = data["period"], data["checkpoints"], data["leaves"]
    typer.echo(f"period {period['from']} .. {period['to']} (end exclusive)")
    if not report.checkpoints:
        typer.echo("no checkpoint was anchored in the period")
    else:
        base = report.base
        typer.echo(
            f"{plural(cps['count'], 'checkpoint')} anchored in the period: seq {cps['first_seq']}"
            f"..{cps['last_seq']}, after "
            + (f"checkpoint {base.seq} (size {base.tree_size})" if base else "the empty log")
        )
        for c in report.checkpoints:
            typer.echo(
                f"  seq {c.seq}: size {c.tree_size}, block {c.block_number}, "
                f"{c.to_json()['time']}, root {c.root.hex()}"
            )
    typer.echo(
        f"leaves {leaves['start']}..{leaves['end']}: {leaves['opened']} opened, "
        f"{leaves['withheld']} withheld, {leaves['mismatched']} mismatched"
        + (f", {leaves['unproven']} not range-checked" if leaves["unproven"] else "")
    )
    if report.withheld:
        typer.echo(
            f"  withheld (no opening given): leaves {_indices(report.withheld)}"
            + (
                ""
                if report.entity is None
                else " (other entities' leaves, or this entity's hidden: the audit cannot tell)"
            )
        )
    if report.mismatched:
        typer.echo(
            f"  mismatched (the opening is not the leaf): leaves {_indices(report.mismatched)}"
        )
    for ruc, tally in sorted(data["entities"].items()):
        types = ", ".join(f"{k or '(no type)'} {n}" for k, n in sorted(tally["by_type"].items()))
        typer.echo(
            f"  entity {ruc or '(none)'}: {plural(tally['registrations'], 'registration')}"
            + (f" ({types})" if types else "")
        )
    for finding in report.findings[:SHOWN]:
        typer.echo(f"  [{finding.kind}] {finding.detail}")
    if len(report.findings) > SHOWN:
        typer.echo(f"  and {len(report.findings) - SHOWN} more problems")
    if report.complete:
        verdict = "complete: every leaf of the period is range-checked and opened"
    elif report.valid:
        verdict = (
            f"valid, but not complete: {plural(len(report.withheld), 'leaf', 'leaves')} withheld"
        )
    else:
        verdict = f"INVALID: {plural(len(report.findings), 'problem')}"
    typer.echo(verdict)


__all__ = ["parse_when", "run_period_audit"]

"""The ``docanchor`` command line (Typer). Thin: parse, call the service, print.

The app and the error mapping live here; the commands live in
``chain_commands`` (devnet, deploy, anchorers), ``document_commands``
(submit, anchor, status, receipt, verify, audit) and ``server_commands``
(serve, keys).

Every command takes ``--json`` for machine-readable output and exits with
0 (success), 1 (a check failed or something was not found), 2 (usage or
input error) or 3 (environment: node, database, configuration), printing one
clear line on stderr. Errors are mapped once, in :func:`main`.

Commands that do not talk to the chain never import web3 (it costs seconds
at start-up): chain-facing modules are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from docanchor.config import Settings, load_settings
from docanchor.errors import DocAnchorError

app = typer.Typer(
    name="docanchor",
    help="Register procurement documents, anchor them in Merkle batches on an EVM chain, "
    "and verify documents and receipts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class _State:
    overrides: dict[str, Any] = {}  # noqa: RUF012 - set once by the root callback


@app.callback()
def _root(
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir", help="Data directory (default: $DOCANCHOR_DATA_DIR or .docanchor)."
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Overrides $DOCANCHOR_DATABASE_URL.")
    ] = None,
) -> None:
    _State.overrides = {"data_dir": data_dir, "database_url": database_url}


def settings(**overrides: Any) -> Settings:
    """Settings from the environment, the root options and the command's own flags."""
    return load_settings(**{**_State.overrides, **overrides})


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Console-script entry point: runs the app and maps errors to exit codes."""
    try:
        # Without standalone mode, click returns the code of a typer.Exit.
        code = app(standalone_mode=False)
    except DocAnchorError as exc:
        typer.echo(f"docanchor: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("docanchor: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("docanchor: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    finally:
        from docanchor.store import close_all_stores

        close_all_stores()
    sys.exit(code if isinstance(code, int) else 0)


# Command groups register themselves on ``app`` when imported.
from docanchor.cli import chain_commands as _chain_commands  # noqa: E402
from docanchor.cli import document_commands as _document_commands  # noqa: E402
from docanchor.cli import log_commands as _log_commands  # noqa: E402
from docanchor.cli import server_commands as _server_commands  # noqa: E402

__all__ = [
    "_chain_commands",
    "_document_commands",
    "_log_commands",
    "_server_commands",
    "app",
    "main",
]

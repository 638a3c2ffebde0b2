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

import errno
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

from docanchor.config import Settings, load_settings
from docanchor.errors import (
    EXIT_ENVIRONMENT,
    EXIT_USAGE,
    ConfigError,
    DocAnchorError,
    NodeUnavailableError,
)
from docanchor.redaction import redact


def _help_type(param: Any, ctx: Any) -> str | None:
    """What the help shows in the type column: a metavar such as ``DIR``, never a
    Python type (``<bool>``, ``<list[Path]>``). Flags and arguments show none."""
    if isinstance(param, TyperArgument) or getattr(param, "is_flag", False):
        return None
    if param.metavar:
        return str(param.metavar)
    bare = param.bare_type()
    return {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}.get(bare, "VALUE")


# Typer's help prints the Python type of each parameter; ours prints metavars.
TyperArgument.display_type_rich = _help_type  # type: ignore[method-assign,assignment]
TyperOption.display_type_rich = _help_type  # type: ignore[method-assign,assignment]

app = typer.Typer(
    name="docanchor",
    help="Register procurement documents, anchor them in Merkle batches on an EVM chain, "
    "and verify documents and receipts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RpcUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--rpc-url",
        metavar="URL",
        help="Ethereum JSON-RPC URL (overrides $DOCANCHOR_RPC_URL).",
    ),
]


class _State:
    overrides: dict[str, Any] = {}  # noqa: RUF012 - set once by the root callback


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("docanchor")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"docanchor {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Data directory (default: $DOCANCHOR_DATA_DIR or .docanchor).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", metavar="URL", help="Overrides $DOCANCHOR_DATABASE_URL."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _State.overrides = {"data_dir": data_dir, "database_url": database_url}


def settings(**overrides: Any) -> Settings:
    """Settings from the environment, the root options and the command's own flags."""
    return load_settings(**{**_State.overrides, **overrides})


def ready_data_dir(cfg: Settings) -> Path:
    """The data directory, created if needed and known to be writable.

    Raises :class:`ConfigError` (exit 3) with one line when it is a file, cannot
    be created or cannot be written, before any command relies on it.
    """
    path = cfg.data_dir
    if path.exists() and not path.is_dir():
        raise ConfigError(f"the data directory {path} is not a folder (DOCANCHOR_DATA_DIR)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".docanchor-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"the data directory {path} cannot be used (DOCANCHOR_DATA_DIR): {reason}"
        ) from None
    return path


def encode_line(value: Any) -> str:
    """``value`` as one JSON line, as :func:`emit_json` writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"


def emit_json(value: Any) -> None:
    sys.stdout.write(encode_line(value))
    sys.stdout.flush()


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 document``, ``2 documents``, ``0 batches``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


NODE_HINT = (
    "start a local devnet with `docanchor devnet`, or give the node's URL "
    "with --rpc-url or DOCANCHOR_RPC_URL"
)


def _click_exception_types() -> tuple[type[BaseException], ...]:
    """Click's exception bases: Typer's bundled copy and the standalone package."""
    found: list[type[BaseException]] = [typer.Abort]
    try:
        import typer._click.exceptions as bundled
    except ImportError:  # pragma: no cover - an older typer that uses click itself
        pass
    else:
        found.append(bundled.ClickException)
    try:
        import click
    except ImportError:  # pragma: no cover - typer no longer pulls it in
        pass
    else:
        found += [click.ClickException, click.exceptions.Abort]
    return tuple(found)


def _rpc_url_hint() -> str | None:
    """The node URL of this run, only to take it out of messages."""
    for index, arg in enumerate(sys.argv):
        if arg == "--rpc-url" and index + 1 < len(sys.argv):
            return sys.argv[index + 1]
        if arg.startswith("--rpc-url="):
            return arg.split("=", 1)[1]
    return os.environ.get("DOCANCHOR_RPC_URL")


def _fail(message: str, code: int) -> int:
    line = " ".join(redact(message, _rpc_url_hint()).split())
    try:
        sys.stderr.write(f"docanchor: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return code


def _silence_stdout() -> None:
    """After a failed write, send what is left of stdout to /dev/null so the
    interpreter's own flush at exit cannot fail again (and print a traceback)."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


# What a write to a full, broken or closed output fails with.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG, errno.EBADF})


def _usage_line(exc: Any) -> str:
    ctx = getattr(exc, "ctx", None)
    where = f"see `{ctx.command_path} --help`" if ctx is not None else "see `docanchor --help`"
    return f"{exc.format_message()} ({where})"


def _run() -> int:
    click_types = _click_exception_types()
    try:
        # Without standalone mode, click returns the code of a typer.Exit.
        code = app(standalone_mode=False)
        sys.stdout.flush()
    except NodeUnavailableError as exc:
        return _fail(f"{exc.message}; {NODE_HINT}", exc.exit_code)
    except DocAnchorError as exc:
        return _fail(exc.message, exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader went away (| head): not an error
            _silence_stdout()
            return 0
        reason = exc.strerror or type(exc).__name__
        if exc.filename:
            return _fail(f"{exc.filename}: {reason}", EXIT_ENVIRONMENT)
        if exc.errno in _WRITE_ERRNOS:
            _silence_stdout()
            return _fail(f"cannot write standard output: {reason}", EXIT_ENVIRONMENT)
        return _fail(reason, EXIT_ENVIRONMENT)
    except click_types as exc:
        name = type(exc).__name__
        if name == "Abort":
            return _fail("aborted", 130)
        if name == "NoArgsIsHelpError":
            # The help itself (Typer's rich help prints it as it renders it).
            ctx = getattr(exc, "ctx", None)
            text = ctx.get_help() if ctx is not None else ""
            if text:
                sys.stderr.write(text + "\n")
            return EXIT_USAGE
        code = getattr(exc, "exit_code", EXIT_USAGE)
        return _fail(_usage_line(exc), code if isinstance(code, int) else EXIT_USAGE)
    except Exception as exc:  # a bug: still one line, never a traceback
        return _fail(f"unexpected error: {type(exc).__name__}: {exc}", EXIT_ENVIRONMENT)
    finally:
        from docanchor.wiring import close_all

        close_all()
    return code if isinstance(code, int) else 0


def main() -> None:
    """Console-script entry point: runs the app and maps errors to exit codes.

    Every error ends as one line on stderr and an exit code: 1 (a check
    failed), 2 (usage or input), 3 (environment); a traceback is never shown.
    """
    sys.exit(_run())


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

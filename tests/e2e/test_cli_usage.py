"""What a user sees before any command runs: the version, usage mistakes, the help.

Never a traceback: a mistake is one line on stderr and exit 2; a bare group
prints its help and exits 2.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from docanchor import __version__
from tests.support.clihelp import DOCANCHOR, run_in_process


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCANCHOR_")}
    env["DOCANCHOR_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_version_prints_the_version_and_exits_0(tmp_path: Path) -> None:
    result = run_in_process(["--version"], env_for(tmp_path))
    assert (result.code, result.stdout, result.stderr) == (0, f"docanchor {__version__}\n", "")
    real = subprocess.run(
        [DOCANCHOR, "--version"], capture_output=True, text=True, env=env_for(tmp_path), check=False
    )
    assert (real.returncode, real.stdout.strip()) == (0, f"docanchor {__version__}")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sumbit"], "No such command 'sumbit'. Did you mean 'submit'?"),
        (["submit", "--bogus"], "No such option: --bogus"),
        (["keys", "frobnicate"], "No such command 'frobnicate'"),
        (["--data-dir"], "--data-dir"),
        (["status", "extra"], "unexpected extra argument"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(
    argv: list[str], needle: str, tmp_path: Path
) -> None:
    for result in (
        run_in_process(argv, env_for(tmp_path)),
        # The real executable too: the interpreter's own handling must not differ.
        subprocess.run([DOCANCHOR, *argv], capture_output=True, text=True, env=env_for(tmp_path)),
    ):
        code = result.code if hasattr(result, "code") else result.returncode
        stderr = result.stderr
        assert code == 2, stderr
        assert "Traceback" not in stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("docanchor: "), stderr
        assert needle.lower() in lines[0].lower() and "--help" in lines[0], lines[0]


@pytest.mark.parametrize("argv", [[], ["keys"], ["anchorers"]])
def test_a_bare_group_prints_its_help_and_exits_2(argv: list[str], tmp_path: Path) -> None:
    result = run_in_process(argv, env_for(tmp_path))
    assert result.code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "Usage: docanchor" in result.stdout + result.stderr


COMMANDS = [
    [],
    ["submit"],
    ["anchor"],
    ["status"],
    ["receipt"],
    ["verify"],
    ["audit"],
    ["deploy"],
    ["devnet"],
    ["serve"],
    ["keys"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["anchorers"],
    ["anchorers", "grant"],
    ["anchorers", "revoke"],
    ["anchorers", "list"],
    ["stamp"],
    ["log"],
    ["log", "checkpoints"],
    ["log", "consistency"],
    ["log", "verify"],
]
PYTHON_TYPE = re.compile(r"<(bool|int|float|str|Path|list\[[^\]]*\])>")


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a) or "docanchor")
def test_help_shows_no_python_types(argv: list[str], tmp_path: Path) -> None:
    result = run_in_process([*argv, "--help"], env_for(tmp_path))
    assert result.code == 0, result.stderr
    assert "Usage:" in result.stdout
    assert PYTHON_TYPE.search(result.stdout) is None, result.stdout


def _commands() -> list[list[str]]:
    """Every command and group of the app, found by walking it (a new one is in)."""
    import typer

    from docanchor.cli import app

    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        # A group (of typer's bundled click, which may not be the installed one).
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


GROUPS = [[], ["keys"], ["anchorers"], ["log"]]
NOT_REPORTING = [["devnet"], ["serve"]]  # they run until stopped


def test_the_help_check_covers_every_command() -> None:
    assert sorted(map(tuple, _commands())) == sorted(map(tuple, COMMANDS))


def test_every_reporting_command_takes_json(tmp_path: Path) -> None:
    reporting = [c for c in _commands() if c not in GROUPS and c not in NOT_REPORTING]
    assert len(reporting) >= 17
    for argv in reporting:
        result = run_in_process([*argv, "--help"], env_for(tmp_path))
        assert result.code == 0, (argv, result.stderr)
        assert "--json" in result.stdout, argv

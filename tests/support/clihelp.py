"""Drive the real ``docanchor`` CLI, and talk JSON-RPC.

Tests use these to drive the CLI exactly as a user does: a fresh data dir,
configuration through ``DOCANCHOR_*`` variables, exit codes and stdout/stderr.
By default a command runs in this process through the console script's own
entry point (``docanchor.cli.main``, with its error mapping), with the
environment and ``sys.argv`` it would have had, which saves the seconds of
start-up a subprocess pays. ``subprocess=True`` runs the installed
``docanchor`` executable instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess as _subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCANCHOR = str(Path(sys.executable).with_name("docanchor"))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@dataclass
class Cli:
    """The docanchor CLI bound to one data dir, database and node."""

    data_dir: Path
    database_url: str
    rpc_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCANCHOR_")}
        env.update(
            DOCANCHOR_DATA_DIR=str(self.data_dir),
            DOCANCHOR_DATABASE_URL=self.database_url,
            DOCANCHOR_RPC_URL=self.rpc_url,
            DOCANCHOR_LOG_JSON="false",
        )
        env.update(self.extra_env)
        env.update(more)
        return env

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        cwd: Path | None = None,
        subprocess: bool = False,
    ) -> Result:
        if not subprocess:
            return run_in_process(list(args), env or self.env())
        proc = _subprocess.run(
            [DOCANCHOR, *args],
            capture_output=True,
            text=True,
            env=env or self.env(),
            timeout=timeout,
            cwd=cwd or self.data_dir.parent,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kw: Any) -> Result:
        result = self.run(*args, **kw)
        assert result.code == 0, f"docanchor {' '.join(args)} -> {result.code}\n{result.stderr}"
        return result


def run_in_process(argv: list[str], env: dict[str, str]) -> Result:
    """``docanchor ARGV`` through ``docanchor.cli.main`` in this process."""
    from docanchor.cli import main

    saved_env = dict(os.environ)
    saved_argv = sys.argv
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["docanchor", *argv]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
    return Result(code, out.getvalue(), err.getvalue())


def rpc(url: str, method: str, *params: Any) -> Any:
    response = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    )
    body = response.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]

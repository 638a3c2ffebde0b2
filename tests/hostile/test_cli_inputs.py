"""Hostile input to every command of the CLI: bad paths, bad encodings, NUL
characters, deep JSON, huge values, bad environment values, unusable data
directories.

Each row runs the console script's entry point (``docanchor.cli.main``) and
asserts the exit code (2 usage or input, 3 environment), exactly one line on
stderr that says what is wrong (never a traceback), and that nothing was
written where it should not be. No node is needed: the node URL points at a
closed port, and the rows that would reach it check that secrets in its URL
never reach the output.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from docanchor.devnet import free_port
from tests.support.clihelp import DOCANCHOR, Result, run_in_process

DEEP = "[" * 100_000 + "]" * 100_000
# /sys refuses to create anything, even for root (tests run as root, where a
# chmod does not stop writes).
UNWRITABLE = Path("/sys/kernel")


@dataclass
class Env:
    """One isolated setup: a data dir, a SQLite database, a node that does not answer.

    Nothing listens on the node's port, so a command that needs the node is
    refused; it gives up at the first refusal (no retry deadline) instead of
    retrying for the few seconds it would allow a real node to come up.
    """

    root: Path
    rpc_port: int = field(default_factory=free_port)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCANCHOR_")}
        env.update(
            DOCANCHOR_DATA_DIR=str(self.data_dir),
            DOCANCHOR_RPC_URL=f"http://127.0.0.1:{self.rpc_port}",
            DOCANCHOR_RPC_RETRY_DEADLINE="0",
            DOCANCHOR_LOG_JSON="false",
        )
        env.update(more)
        return env

    def run(self, *argv: str, **more: str) -> Result:
        return run_in_process(list(argv), self.env(**more))

    def file(self, name: str, data: bytes = b"orden de compra 1\n") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def registered(self) -> tuple[Path, str]:
        """A document registered in this data dir: (its path, its SHA-256 hex)."""
        doc = self.file("orden.pdf")
        result = self.run("submit", str(doc))
        assert result.code == 0, result.stderr
        return doc, hashlib.sha256(doc.read_bytes()).hexdigest()


Build = Callable[[Env], tuple[list[str], dict[str, str]]]
Check = Callable[[Env], None]


@dataclass
class Case:
    name: str
    build: Build
    code: int
    needle: str
    check: Check | None = None


def nothing_stored(env: Env) -> None:
    assert not env.data_dir.exists(), sorted(p.name for p in env.data_dir.iterdir())


def args(*argv: str, **more: str) -> Build:
    return lambda _env: (list(argv), dict(more))


def submit_with(*extra: str) -> Build:
    def build(env: Env) -> tuple[list[str], dict[str, str]]:
        return ["submit", str(env.file("orden.pdf")), *extra], {}

    return build


def hashes_file(data: bytes) -> Build:
    def build(env: Env) -> tuple[list[str], dict[str, str]]:
        return ["submit", "--hashes", str(env.file("hashes.txt", data))], {}

    return build


def receipt_file(data: bytes) -> Build:
    def build(env: Env) -> tuple[list[str], dict[str, str]]:
        return ["verify", "--receipt", str(env.file("r.json", data))], {}

    return build


def receipt_out(target: Callable[[Env], Path]) -> Build:
    def build(env: Env) -> tuple[list[str], dict[str, str]]:
        _doc, sha = env.registered()
        return ["receipt", sha, "-o", str(target(env))], {}

    return build


def out_is_a_file(env: Env) -> Path:
    return env.file("out.json", b"keep me")


def out_under_a_file(env: Env) -> Path:
    return env.file("plain", b"keep me") / "receipts"


def out_name_is_a_folder(env: Env) -> Path:
    out = env.root / "receipts"
    sha = hashlib.sha256(b"orden de compra 1\n").hexdigest()
    (out / f"{sha}.receipt.json").mkdir(parents=True)
    return out


def data_dir_is_a_file(env: Env) -> tuple[list[str], dict[str, str]]:
    return ["status"], {"DOCANCHOR_DATA_DIR": str(env.file("data-file", b"keep me"))}


def data_dir_file_for(*argv: str) -> Build:
    def build(env: Env) -> tuple[list[str], dict[str, str]]:
        return list(argv), {"DOCANCHOR_DATA_DIR": str(env.file("data-file", b"keep me"))}

    return build


def data_dir_under_a_file(env: Env) -> tuple[list[str], dict[str, str]]:
    return ["status"], {"DOCANCHOR_DATA_DIR": str(env.file("data-file", b"keep me") / "sub")}


def file_kept(name: str) -> Check:
    def check(env: Env) -> None:
        assert (env.root / name).read_bytes() == b"keep me"

    return check


def folder_kept(env: Env) -> None:
    sha = hashlib.sha256(b"orden de compra 1\n").hexdigest()
    out = env.root / "receipts"
    assert (out / f"{sha}.receipt.json").is_dir()
    assert sorted(p.name for p in out.iterdir()) == [f"{sha}.receipt.json"]  # no temporary left


CASES = [
    # --- receipt -o ----------------------------------------------------------
    Case(
        "receipt -o onto a file",
        receipt_out(out_is_a_file),
        2,
        "not a folder",
        file_kept("out.json"),
    ),
    Case(
        "receipt -o under a file",
        receipt_out(out_under_a_file),
        2,
        "cannot write there",
        file_kept("plain"),
    ),
    Case(
        "receipt -o where the receipt's name is a folder",
        receipt_out(out_name_is_a_folder),
        2,
        "is a folder",
        folder_kept,
    ),
    Case(
        "receipt -o in an unwritable place",
        receipt_out(lambda _env: UNWRITABLE / "docanchor-receipts"),
        3,
        "cannot write there",
    ),
    Case(
        "receipt -o in a read-only folder",
        receipt_out(lambda _env: UNWRITABLE),
        3,
        "cannot write there",
    ),
    Case(
        "receipt of two documents without -o",
        args("receipt", "a" * 64, "b" * 64),
        2,
        "-o DIR",
        nothing_stored,
    ),
    Case("receipt of a NUL name", args("receipt", "orden\x00.pdf"), 2, "NUL", nothing_stored),
    Case(
        "receipt of neither a file nor a digest",
        args("receipt", "no-such-file"),
        2,
        "neither a file nor a SHA-256",
    ),
    # --- submit: files and digests -------------------------------------------
    Case(
        "submit a missing file",
        args("submit", "/nonexistent/orden.pdf"),
        2,
        "no such file or folder",
        nothing_stored,
    ),
    Case(
        "submit --hashes not UTF-8",
        hashes_file(b"\xff\xfe" + b"a" * 62 + b"\n"),
        2,
        "line 1: not UTF-8",
        nothing_stored,
    ),
    Case(
        "submit --hashes not a digest",
        hashes_file(b"# ok\nnot-a-digest\n"),
        2,
        "line 2: not a SHA-256",
        nothing_stored,
    ),
    Case(
        "submit --hashes a folder",
        args("submit", "--hashes", "/"),
        2,
        "cannot read",
        nothing_stored,
    ),
    Case(
        "submit --hashes missing",
        args("submit", "--hashes", "/nonexistent/h.txt"),
        2,
        "cannot read",
        nothing_stored,
    ),
    # --- submit: metadata ----------------------------------------------------
    Case("--meta deep JSON", submit_with("--meta", f"items:={DEEP}"), 2, "nested", nothing_stored),
    Case(
        "--meta NaN", submit_with("--meta", "amount:=NaN"), 2, "not acceptable JSON", nothing_stored
    ),
    Case(
        "--meta duplicate member",
        submit_with("--meta", 'x:={"a":1,"a":2}'),
        2,
        "twice",
        nothing_stored,
    ),
    Case("--meta not JSON", submit_with("--meta", "x:={"), 2, "not valid JSON", nothing_stored),
    Case("--meta without =", submit_with("--meta", "supplier"), 2, "KEY=VALUE", nothing_stored),
    Case(
        "--meta NUL in a value", submit_with("--meta", "supplier=206\x00"), 2, "NUL", nothing_stored
    ),
    Case("--meta NUL in a key", submit_with("--meta", "sup\x00plier=1"), 2, "NUL", nothing_stored),
    Case(
        "--meta NUL escaped in JSON",
        submit_with("--meta", 'x:=["a\\u0000b"]'),
        2,
        "NUL",
        nothing_stored,
    ),
    Case("--reference NUL", submit_with("--reference", "OC-1\x00"), 2, "NUL", nothing_stored),
    Case("--entity NUL", submit_with("--entity", "2013\x00"), 2, "NUL", nothing_stored),
    Case("--type NUL", submit_with("--type", "\x00"), 2, "NUL", nothing_stored),
    Case(
        "--meta huge value",
        submit_with("--meta", "note=" + "x" * 2_000_000),
        2,
        "bytes",
        nothing_stored,
    ),
    Case("--reference huge", submit_with("--reference", "R" * 1000), 2, "longer than 200"),
    Case(
        "--reference on a folder",
        lambda env: (["submit", str(env.file("in/a.pdf").parent), "--reference", "OC-1"], {}),
        2,
        "--as-versions",
        nothing_stored,
    ),
    Case(
        "--reference with --hashes",
        lambda env: (
            [
                "submit",
                "--hashes",
                str(env.file("h.txt", b"a" * 64 + b"\n")),
                "--reference",
                "OC-1",
            ],
            {},
        ),
        2,
        "--as-versions",
        nothing_stored,
    ),
    # --- verify --------------------------------------------------------------
    Case("verify --receipt deep JSON", receipt_file(DEEP.encode()), 2, "nested"),
    Case("verify --receipt not UTF-8", receipt_file(b'{"version": "\xff"}'), 2, "UTF-8"),
    Case("verify --receipt a folder", args("verify", "--receipt", "/"), 2, "cannot read"),
    Case("verify a missing document", args("verify", "/nonexistent/orden.pdf"), 2, "cannot read"),
    Case("verify nothing", args("verify"), 2, "--receipt FILE"),
    Case(
        "verify --confirmations 0",
        args("verify", "--receipt", "r.json", "--confirmations", "0"),
        2,
        "--confirmations",
    ),
    # --- keys and anchorers ----------------------------------------------------
    Case("keys revoke not a number", args("keys", "revoke", "abc"), 2, "ID", nothing_stored),
    Case(
        "keys create NUL label",
        args("keys", "create", "--role", "auditor", "--label", "a\x00b"),
        2,
        "NUL",
        nothing_stored,
    ),
    Case(
        "anchorers grant not an address",
        args("anchorers", "grant", "0x12"),
        2,
        "not an Ethereum address",
        nothing_stored,
    ),
    # --- environment -----------------------------------------------------------
    Case(
        "DOCANCHOR_DATA_DIR is a file",
        data_dir_is_a_file,
        3,
        "not a folder",
        file_kept("data-file"),
    ),
    # Checked before the node is asked anything: deploy never deploys a
    # contract it could not record.
    *[
        Case(
            f"{' '.join(argv)} with DOCANCHOR_DATA_DIR a file",
            data_dir_file_for(*argv),
            3,
            "not a folder",
            file_kept("data-file"),
        )
        for argv in (["deploy"], ["audit"], ["anchor"], ["keys", "list"], ["serve"])
    ],
    Case(
        "DOCANCHOR_DATA_DIR under a file",
        data_dir_under_a_file,
        3,
        "cannot be used",
        file_kept("data-file"),
    ),
    Case(
        "DOCANCHOR_DATA_DIR unwritable",
        args("status", DOCANCHOR_DATA_DIR=str(UNWRITABLE)),
        3,
        "cannot be used",
    ),
    Case(
        "DOCANCHOR_DATA_DIR cannot be created",
        args("keys", "list", DOCANCHOR_DATA_DIR=str(UNWRITABLE / "docanchor")),
        3,
        "cannot be used",
    ),
    Case(
        "DOCANCHOR_CONFIRMATIONS not a number",
        args("status", DOCANCHOR_CONFIRMATIONS="many"),
        3,
        "DOCANCHOR_CONFIRMATIONS",
        nothing_stored,
    ),
    Case(
        "DOCANCHOR_RPC_URL not http",
        args("verify", "--receipt", "r.json", DOCANCHOR_RPC_URL="ftp://node"),
        3,
        "DOCANCHOR_RPC_URL",
    ),
    Case(
        "DOCANCHOR_BATCH_MAX huge",
        args("status", DOCANCHOR_BATCH_MAX="9" * 400),
        3,
        "DOCANCHOR_BATCH_MAX",
        nothing_stored,
    ),
    # --- usage -------------------------------------------------------------------
    Case("unknown command", args("sumbit"), 2, "No such command 'sumbit'", nothing_stored),
    Case("unknown option", args("submit", "--bogus"), 2, "--bogus", nothing_stored),
    Case("option without its value", args("anchor", "--timeout"), 2, "--timeout", nothing_stored),
    Case(
        "option with a bad value",
        args("anchor", "--timeout", "soon"),
        2,
        "--timeout",
        nothing_stored,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_one_line_and_the_right_exit_code(case: Case, tmp_path: Path) -> None:
    env = Env(tmp_path)
    argv, more = case.build(env)
    result = env.run(*argv, **more)
    assert result.code == case.code, (result.code, result.stderr)
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("docanchor: ") and case.needle in lines[0], lines[0]
    assert len(lines[0]) < 600, "the line quotes too much of the input"
    if case.check is not None:
        case.check(env)


def test_secrets_in_the_node_url_never_reach_the_output(tmp_path: Path) -> None:
    env = Env(tmp_path)
    port = env.rpc_port
    secret_url = f"https://alice:s3cr3t-pass@127.0.0.1:{port}/v3/0123456789abcdefKEY"
    doc = env.file("orden.pdf")
    receipt = env.file("r.json", b"{}")
    runs = [
        env.run("submit", str(doc)),
        env.run("anchor", DOCANCHOR_RPC_URL=secret_url),
        env.run("anchor", "--rpc-url", secret_url),
        env.run("audit", "--json", DOCANCHOR_RPC_URL=secret_url),
        env.run("deploy", DOCANCHOR_RPC_URL=secret_url),
        env.run("anchorers", "list", "--rpc-url", secret_url),
        env.run("verify", str(doc), DOCANCHOR_RPC_URL=secret_url),
        env.run("verify", "--receipt", str(receipt), "--rpc-url", secret_url),
    ]
    assert runs[0].code == 0
    for result in runs[1:6]:
        assert result.code == 3, result.stderr
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1 and "Traceback" not in line, line
        assert f"https://127.0.0.1:{port}" in line, line
        assert "`docanchor devnet`" in line and "--rpc-url" in line, line  # how to fix it
    for result in runs[1:]:
        text = result.stdout + result.stderr
        for secret in ("alice", "s3cr3t-pass", "0123456789abcdefKEY", "/v3/"):
            assert secret not in text, (secret, text)


def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path: Path) -> None:
    env = Env(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"orden-\xff.pdf")
    (folder / name).write_bytes(b"orden")
    result = env.run("submit", str(folder / name), "--json")
    assert result.code == 0, result.stderr
    assert "orden-\\xff.pdf" in result.json_lines()[0]["path"]
    result = env.run("submit", str(folder / name))
    assert result.code == 0 and "orden-\\xff.pdf  (already registered)" in result.stdout


def test_output_to_a_full_device_is_one_line(tmp_path: Path) -> None:
    env = Env(tmp_path)
    assert env.run("submit", str(env.file("orden.pdf"))).code == 0
    for argv in (["status"], ["status", "--json"], ["keys", "list"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [DOCANCHOR, *argv],
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                env=env.env(),
                timeout=120,
                check=False,
            )
        assert proc.returncode == 3, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines == ["docanchor: cannot write standard output: No space left on device"]

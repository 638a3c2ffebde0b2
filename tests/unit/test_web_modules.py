"""The web page's pure ES modules (SHA-256, Merkle trees, strict JSON, the
receipt's steps) under ``node --test``: tests/web/*.test.mjs check them
against known answers, the peer vectors and the golden receipts.

Node.js is required (as it is for npm and the devnet); a missing node fails.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_TESTS = REPO_ROOT / "tests" / "web"


def test_web_modules_pass_node_test() -> None:
    node = shutil.which("node")
    assert node is not None, "docanchor needs Node.js 20+ on PATH"
    files = sorted(WEB_TESTS.glob("*.test.mjs"))
    assert len(files) >= 4, files
    done = subprocess.run(
        [node, "--test", *map(str, files)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, summary
    assert "# fail 0" in done.stdout, summary
    assert "# pass 0" not in done.stdout, summary


def test_web_modules_type_check() -> None:
    """Every module's JSDoc types hold under tsc --strict (pinned in package.json)."""
    tsc = REPO_ROOT / "node_modules" / ".bin" / "tsc"
    assert tsc.is_file(), "run scripts/setup: it installs TypeScript with the npm toolchain"
    modules = sorted((REPO_ROOT / "src" / "docanchor" / "web" / "js").rglob("*.js"))
    assert len(modules) >= 10, modules
    unchecked = [
        m.name for m in modules if not m.read_text(encoding="utf-8").startswith("// @ts-check")
    ]
    assert not unchecked, f"modules without // @ts-check: {unchecked}"
    done = subprocess.run(
        [str(tsc), "-p", str(WEB_TESTS / "tsconfig.json")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

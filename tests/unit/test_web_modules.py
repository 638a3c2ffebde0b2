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

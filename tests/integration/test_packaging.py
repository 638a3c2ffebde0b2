"""A plain (non-editable) install works: the wheel carries the contract
artifact, the web page, the migrations and py.typed, and the installed
package runs from them, not from the checkout.

The wheel is built offline: with the build backend the development
dependencies pin (``setuptools`` in ``requirements.lock``, installed by
``scripts/setup``), without build isolation and without a package index, so
the test downloads nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


OFFLINE = ["--no-index", "--no-deps", "--quiet", "--disable-pip-version-check"]


def test_the_wheel_installs_a_working_docanchor(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    # A copy of the checkout, so that the build's own files (build/, *.egg-info)
    # never land in the working tree.
    source = tmp_path / "source"
    shutil.copytree(
        REPO_ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".*", "node_modules", "build", "dist", "*.egg-info", "__pycache__", "test-artifacts"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            *OFFLINE,
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("docanchor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "docanchor/py.typed",
        "docanchor/contracts/DocumentAnchor.json",
        "docanchor/contracts/DocumentAnchorV1.json",
        "docanchor/web/index.html",
        "docanchor/web/js/main.js",
        "docanchor/web/js/sha256.js",
        "docanchor/web/js/i18n/es.js",
        "docanchor/web/js/views/verify.js",
        "docanchor/migrations/env.py",
        "docanchor/migrations/versions/0001_initial.py",
    ):
        assert needed in names, needed
    # Every file of the web page (its ES modules are loaded one by one).
    web = REPO_ROOT / "src" / "docanchor" / "web"
    page_files = {
        f"docanchor/web/{p.relative_to(web).as_posix()}" for p in web.rglob("*") if p.is_file()
    }
    assert "docanchor/web/js/main.js" in page_files
    assert page_files <= names, sorted(page_files - names)

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            *OFFLINE,
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    script = (
        "import docanchor, pathlib, sys\n"
        "from docanchor.contracts import load_artifact\n"
        "from docanchor.store import Store\n"
        "where = pathlib.Path(docanchor.__file__)\n"
        f"assert where.is_relative_to({str(target)!r}), where\n"
        "assert load_artifact()['abi'] and load_artifact('DocumentAnchorV1')['abi']\n"
        "assert (pathlib.Path(docanchor.__file__).parent / 'web' / 'index.html').is_file()\n"
        f"store = Store('sqlite:///{tmp_path / 'db.sqlite3'}')\n"
        "assert store.schema_revision() is not None\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120, cwd=tmp_path)
    help_text = subprocess.run(
        [sys.executable, "-m", "docanchor", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
    ).stdout
    for command in ("submit", "anchor", "verify", "serve", "deploy"):
        assert command in help_text

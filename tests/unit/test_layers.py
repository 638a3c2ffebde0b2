"""The direction of imports beyond what import-linter checks.

The layers themselves (edges over wiring over the service over adapters over
the pure core, adapters independent, no web3 or SQL in the core or the
service, no adapter imported by an edge) are the import-linter contracts in
``pyproject.toml``, run by ``scripts/test``; one test here shows that they
catch a forbidden import. What import-linter cannot say is read from the
source with ``ast``: the core and the service never read the environment or
open files, and the edges never reach the adapters the service holds.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "docanchor"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Modules that must run without a node, a database or settings: the pure core, and
# the service layer (settings are read once, at the edges). A package is read whole.
NO_ENVIRONMENT = (
    "errors",
    "hashing",
    "jsontext",
    "merkle",
    "onchain",
    "receipt",
    "vocabulary",
    "audit",
    "redaction",
    "pdf/stamped",
    "pdf/stamp",
    "keys",
    "presenters",
    "service",
)
# What reads the environment or the settings, or reads or writes a file.
FILES_AND_ENVIRONMENT = frozenset(
    {
        "environ",
        "getenv",
        "open",
        "load_settings",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "mkdir",
        "unlink",
    }
)
# What the service holds and the edges must not reach past it: its adapters.
SERVICE_INTERNALS = frozenset({"store", "chain", "signer", "_store", "_chain"})


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def sources_of(module: str) -> list[Path]:
    """The files of ``module``: ``module.py``, or every ``.py`` file of the package ``module/``."""
    package = PACKAGE / module
    if package.is_dir():
        files = sorted(package.rglob("*.py"))
        assert files, module
        return files
    return [PACKAGE / f"{module}.py"]


@pytest.mark.parametrize("module", NO_ENVIRONMENT)
def test_the_core_and_the_service_never_read_the_environment_or_open_files(module: str) -> None:
    for path in sources_of(module):
        tree = _tree(path)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        found = FILES_AND_ENVIRONMENT & (names | attributes)
        assert not found, f"{path.relative_to(PACKAGE)}: {found}"


def _edge_files() -> list[Path]:
    return sorted([*(PACKAGE / "api").glob("*.py"), *(PACKAGE / "cli").glob("*.py")])


@pytest.mark.parametrize("path", _edge_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_edges_never_reach_past_the_service(path: Path) -> None:
    """``service.store.…`` or ``ctx.service.chain`` would pass the import contracts (no
    import is needed to follow an attribute), so the attributes are checked here."""
    reached = [
        f"line {node.lineno}: service.{node.attr}"
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Attribute)
        and node.attr in SERVICE_INTERNALS
        and (
            (isinstance(node.value, ast.Name) and "service" in node.value.id)
            or (isinstance(node.value, ast.Attribute) and "service" in node.value.attr)
        )
    ]
    assert not reached, reached


# The modules above the service: they name what it offers through the package alone.
SERVICE_USERS = ("api", "cli", "wiring", "presenters", "metrics")
SERVICE_PARTS = frozenset(p.stem for p in (PACKAGE / "service").glob("*.py")) - {"__init__"}


def _service_parts_imported(tree: ast.Module) -> list[str]:
    """The modules of the service that ``tree`` imports by name, as ``line N: module``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "docanchor.service":
            names = [f"docanchor.service.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [
            f"line {node.lineno}: {name}"
            for name in names
            if name.startswith("docanchor.service.") and name.split(".")[2] in SERVICE_PARTS
        ]
    return found


@pytest.mark.parametrize("module", SERVICE_USERS)
def test_the_service_is_used_as_one_package(module: str) -> None:
    """Its split into modules is the service's own business: the edges, the wiring and
    the presenters import ``docanchor.service``, never one of its modules."""
    assert {"ports", "anchoring", "receipts"} <= SERVICE_PARTS, SERVICE_PARTS
    for path in sources_of(module):
        found = _service_parts_imported(_tree(path))
        assert not found, f"{path.relative_to(PACKAGE)}: {found}"


def test_a_service_part_imported_past_the_package_is_found() -> None:
    tree = ast.parse(
        "from docanchor.service import DocAnchorService\n"
        "from docanchor.service.anchoring import TxPolicy\n"
        "import docanchor.service.ports\n"
        "from docanchor.service import receipts\n"
    )
    assert _service_parts_imported(tree) == [
        "line 2: docanchor.service.anchoring",
        "line 3: docanchor.service.ports",
        "line 4: docanchor.service.receipts",
    ]


def test_the_import_contracts_catch_forbidden_imports(tmp_path: Path) -> None:
    """A copy of the package with an edge that imports the store, and a part of the
    service that imports one above it, breaks the contracts; the package as it is
    keeps them."""
    assert LINT_IMPORTS.exists(), "lint-imports is a dev dependency: run scripts/setup"
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "docanchor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(copy)}

    def lint() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LINT_IMPORTS), "--no-cache"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    kept = lint()
    assert kept.returncode == 0, kept.stdout + kept.stderr
    routes = copy / "docanchor" / "api" / "routes_ops.py"
    routes.write_text(
        routes.read_text(encoding="utf-8") + "\nfrom docanchor.store import Store  # noqa\n",
        encoding="utf-8",
    )
    anchoring = copy / "docanchor" / "service" / "anchoring.py"
    anchoring.write_text(
        anchoring.read_text(encoding="utf-8")
        + "\nfrom docanchor.service.receipts import Receipts  # noqa\n",
        encoding="utf-8",
    )
    broken = lint()
    assert broken.returncode != 0
    assert "docanchor.api.routes_ops -> docanchor.store" in broken.stdout
    assert "docanchor.service.anchoring -> docanchor.service.receipts" in broken.stdout

"""The direction of imports (house style): a pure core, adapters that never
import each other, a service that imports neither web3 nor the web stack.

Read from the source with ``ast``, so a violation fails here before it can
creep into a receipt verifier that must run without a node or a database.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "docanchor"

CORE = ("errors", "hashing", "jsontext", "merkle", "onchain", "receipt", "vocabulary")
FORBIDDEN_IN_CORE = (
    "web3",
    "eth_",
    "sqlmodel",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "os",
    "httpx",
)


def sources_of(module: str) -> list[Path]:
    """The files of ``module``: ``module.py``, or every ``.py`` file of the package ``module/``."""
    package = PACKAGE / module
    if package.is_dir():
        files = sorted(package.rglob("*.py"))
        assert files, module
        return files
    return [PACKAGE / f"{module}.py"]


def trees_of(module: str) -> list[ast.Module]:
    return [ast.parse(path.read_text(encoding="utf-8")) for path in sources_of(module)]


def imports_of(module: str) -> set[str]:
    found: set[str] = set()
    for node in (n for tree in trees_of(module) for n in ast.walk(tree)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:  # from .model import Receipt
            parent = "docanchor" if node.level > 1 else f"docanchor.{module.split('/')[0]}"
            found.add(f"{parent}.{node.module}" if node.module else parent)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "docanchor":  # from docanchor import hashing, merkle
                found.update(f"docanchor.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_only_the_standard_library_and_itself(module: str) -> None:
    for name in imports_of(module):
        assert not name.startswith(FORBIDDEN_IN_CORE), f"{module} imports {name}"
        if name.startswith("docanchor."):
            assert name.split(".")[1] in CORE, f"{module} imports {name}"


def test_the_core_never_reads_the_environment_or_opens_files() -> None:
    for module in CORE:
        for tree in trees_of(module):
            names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
            assert not {"environ", "getenv", "open"} & (names | attributes), module


def test_packages_are_read_whole() -> None:
    """A module that became a package is still checked: every file of it is read."""
    for module in ("chain", "receipt", "store"):
        assert sources_of(module), module
        assert imports_of(module), module


def test_adapters_do_not_import_each_other() -> None:
    assert not {n for n in imports_of("chain") if n.startswith("docanchor.store")}
    assert not {n for n in imports_of("store") if n.startswith("docanchor.chain")}


def test_the_service_does_not_import_web3_or_the_web_stack() -> None:
    for name in imports_of("service"):
        assert not name.startswith(("web3", "eth_", "fastapi", "docanchor.chain", "docanchor.api"))
        assert not name.startswith("docanchor.config"), "settings are read at the edges only"


def test_the_pdf_stamp_is_pure() -> None:
    """Bytes in, bytes out: the stamp reader needs nothing but the standard library, the
    writer only pypdf and segno besides the core; neither reads the environment."""
    for name in imports_of("pdf/stamped"):
        assert not name.startswith(FORBIDDEN_IN_CORE), name
        if name.startswith("docanchor."):
            assert name.split(".")[1] in CORE, name
    for name in imports_of("pdf/stamp"):
        assert not name.startswith(FORBIDDEN_IN_CORE), name
        assert not name.startswith(("docanchor.store", "docanchor.chain", "docanchor.config"))
    for module in ("pdf/stamp", "pdf/stamped"):
        (tree,) = trees_of(module)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not {"environ", "getenv", "open"} & (names | attributes), module

"""The committed contract artifact is exactly what the pinned toolchain builds.

Runs ``scripts/build_contract.mjs`` with the solc-js and OpenZeppelin of
``node_modules`` (scripts/setup installs them); a missing toolchain fails the
test instead of skipping it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from docanchor.contracts import load_artifact

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "build_contract.mjs"
ARTIFACT = REPO_ROOT / "src" / "docanchor" / "contracts" / "DocumentAnchor.json"
SOURCE = REPO_ROOT / "contracts" / "DocumentAnchor.sol"


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "Node.js is required to build the contract (run scripts/setup)"
    assert (REPO_ROOT / "node_modules" / "solc").is_dir(), "node_modules is missing: scripts/setup"
    return node


def _build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), str(SCRIPT), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rebuild_matches_the_committed_artifact_byte_for_byte() -> None:
    # --check compiles in memory and compares the full text with the file.
    result = _build("--check")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "up to date" in result.stdout


def test_check_mode_rejects_an_artifact_that_differs(tmp_path: Path) -> None:
    tampered = tmp_path / "DocumentAnchor.json"
    data = json.loads(ARTIFACT.read_text(encoding="utf-8"))
    data["bytecode"] = data["bytecode"][:-2] + ("00" if data["bytecode"][-2:] != "00" else "01")
    tampered.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    bad = _build("--check", "--out", str(tampered))
    assert bad.returncode == 1
    assert "out of date" in bad.stderr


def test_artifact_names_its_source_compiler_and_settings() -> None:
    artifact = load_artifact()
    assert artifact["sourceSha256"] == hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert artifact["compiler"]["version"].startswith("0.8.37+")
    assert artifact["settings"]["evmVersion"] == "cancun"
    assert artifact["settings"]["optimizer"]["enabled"] is True
    assert artifact["dependencies"]["@openzeppelin/contracts"] == "5.7.0"
    assert artifact["bytecode"].startswith("0x60") and artifact["deployedBytecode"].startswith("0x")


def test_abi_has_the_interface_of_spec_section_4() -> None:
    abi = load_artifact()["abi"]

    def signature(item: dict[str, object]) -> str:
        inputs = item.get("inputs", [])
        assert isinstance(inputs, list)
        return f"{item['name']}({','.join(i['type'] for i in inputs)})"

    by_kind: dict[str, set[str]] = {}
    for item in abi:
        if "name" in item:
            by_kind.setdefault(item["type"], set()).add(signature(item))
    assert {
        "anchor(bytes32,uint64)",
        "getAnchor(bytes32)",
        "anchorCount()",
        "ANCHORER_ROLE()",
    } <= by_kind["function"]
    assert "Anchored(uint64,bytes32,uint64,address)" in by_kind["event"]
    assert {"ZeroRoot()", "ZeroTreeSize()", "RootAlreadyAnchored(bytes32,uint64)"} <= by_kind[
        "error"
    ]
    anchored = next(i for i in abi if i.get("name") == "Anchored")
    assert [p["indexed"] for p in anchored["inputs"]] == [True, True, False, True]
    get_anchor = next(i for i in abi if i.get("name") == "getAnchor")
    assert [o["type"] for o in get_anchor["outputs"]] == [
        "uint64",
        "uint64",
        "uint64",
        "uint64",
        "address",
    ]
    assert get_anchor["stateMutability"] == "view"

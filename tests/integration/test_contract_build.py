"""The committed contract artifacts are exactly what the pinned toolchain builds.

Runs ``scripts/build_contract.mjs`` with the solc-js and OpenZeppelin of
``node_modules`` (scripts/setup installs them); a missing toolchain fails the
test instead of skipping it. Both versions are checked: ``DocumentAnchor``
(version 2, deployed today) and ``DocumentAnchorV1`` (kept for existing
deployments).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from docanchor.contracts import ARTIFACT_NAMES, load_artifact

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "build_contract.mjs"
ARTIFACT_DIR = REPO_ROOT / "src" / "docanchor" / "contracts"
SOURCES = {
    "DocumentAnchor": REPO_ROOT / "contracts" / "DocumentAnchor.sol",
    "DocumentAnchorV1": REPO_ROOT / "contracts" / "DocumentAnchorV1.sol",
}
# SHA-256 of the version 1 runtime and creation bytecode as deployed before
# version 2 existed (computed from the artifact of commit 87d590a): moving the
# source to DocumentAnchorV1.sol must not change a byte of what is on chain.
V1_DEPLOYED_SHA256 = "d2caacbf3bb5707be9f2b6154996c0349edd650fdf3d1abe93c6692d4bbf7495"
V1_CREATION_SHA256 = "3467ab616d62b0e55afa965f678b98a9cfe8c4c3d408e2a0fd76dea69be53acc"


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
        timeout=240,
        check=False,
    )


def _signatures(abi: list[dict[str, object]]) -> dict[str, set[str]]:
    def signature(item: dict[str, object]) -> str:
        inputs = item.get("inputs", [])
        assert isinstance(inputs, list)
        return f"{item['name']}({','.join(i['type'] for i in inputs)})"

    by_kind: dict[str, set[str]] = {}
    for item in abi:
        if "name" in item:
            by_kind.setdefault(str(item["type"]), set()).add(signature(item))
    return by_kind


def test_rebuild_matches_both_committed_artifacts_byte_for_byte() -> None:
    # --check compiles in memory and compares the full text with each file.
    result = _build("--check")
    assert result.returncode == 0, result.stderr + result.stdout
    for name in ARTIFACT_NAMES:
        assert f"src/docanchor/contracts/{name}.json is up to date" in result.stdout


@pytest.mark.parametrize("name", ARTIFACT_NAMES)
def test_check_mode_rejects_an_artifact_that_differs(tmp_path: Path, name: str) -> None:
    for other in ARTIFACT_NAMES:
        shutil.copy(ARTIFACT_DIR / f"{other}.json", tmp_path / f"{other}.json")
    tampered = tmp_path / f"{name}.json"
    data = json.loads(tampered.read_text(encoding="utf-8"))
    data["bytecode"] = data["bytecode"][:-2] + ("00" if data["bytecode"][-2:] != "00" else "01")
    tampered.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    bad = _build("--check", "--out-dir", str(tmp_path))
    assert bad.returncode == 1
    assert f"{name}.json is out of date" in bad.stderr
    # The untouched artifact is still reported as up to date.
    (other,) = set(ARTIFACT_NAMES) - {name}
    assert f"{other}.json is up to date" in bad.stdout


@pytest.mark.parametrize("name", ARTIFACT_NAMES)
def test_artifact_names_its_source_compiler_and_settings(name: str) -> None:
    artifact = load_artifact(name)
    source = SOURCES[name]
    assert artifact["sourcePath"] == str(source.relative_to(REPO_ROOT))
    assert artifact["sourceSha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert artifact["contractName"] == "DocumentAnchor"
    assert artifact["compiler"]["version"].startswith("0.8.37+")
    assert artifact["settings"]["evmVersion"] == "cancun"
    assert artifact["settings"]["optimizer"]["enabled"] is True
    assert artifact["dependencies"]["@openzeppelin/contracts"] == "5.7.0"
    assert artifact["bytecode"].startswith("0x60") and artifact["deployedBytecode"].startswith("0x")


def test_load_artifact_defaults_to_version_2_and_refuses_unknown_names() -> None:
    assert load_artifact() == load_artifact("DocumentAnchor")
    assert (
        load_artifact()["deployedBytecode"] != load_artifact("DocumentAnchorV1")["deployedBytecode"]
    )
    with pytest.raises(ValueError, match="no contract artifact named 'DocumentAnchorV3'"):
        load_artifact("DocumentAnchorV3")


def test_version_1_bytecode_is_unchanged() -> None:
    artifact = load_artifact("DocumentAnchorV1")
    deployed = bytes.fromhex(artifact["deployedBytecode"][2:])
    creation = bytes.fromhex(artifact["bytecode"][2:])
    assert hashlib.sha256(deployed).hexdigest() == V1_DEPLOYED_SHA256
    assert hashlib.sha256(creation).hexdigest() == V1_CREATION_SHA256


def _check_common_interface(abi: list[dict[str, object]]) -> None:
    """What receipt-v1 section 4 fixes for every version."""
    by_kind = _signatures(abi)
    assert {
        "getAnchor(bytes32)",
        "anchorCount()",
        "ANCHORER_ROLE()",
        "registeredAnchorers()",
    } <= by_kind["function"]
    assert "Anchored(uint64,bytes32,uint64,address)" in by_kind["event"]
    assert {"ZeroRoot()", "RootAlreadyAnchored(bytes32,uint64)"} <= by_kind["error"]
    anchored = next(i for i in abi if i.get("name") == "Anchored")
    inputs = anchored["inputs"]
    assert isinstance(inputs, list)
    assert [p["indexed"] for p in inputs] == [True, True, False, True]
    get_anchor = next(i for i in abi if i.get("name") == "getAnchor")
    outputs = get_anchor["outputs"]
    assert isinstance(outputs, list)
    assert [o["type"] for o in outputs] == ["uint64", "uint64", "uint64", "uint64", "address"]
    assert get_anchor["stateMutability"] == "view"


def test_version_2_abi_has_the_interface_of_log_spec_section_2() -> None:
    abi = load_artifact("DocumentAnchor")["abi"]
    _check_common_interface(abi)
    by_kind = _signatures(abi)
    assert {"anchor(bytes32,uint64,bytes32[])", "latest()"} <= by_kind["function"]
    assert "anchor(bytes32,uint64)" not in by_kind["function"]
    assert {
        "TreeSizeNotGrowing(uint64,uint64)",
        "InconsistentHistory(uint64,uint64)",
    } <= by_kind["error"]
    anchor = next(i for i in abi if i.get("name") == "anchor")
    assert [o["type"] for o in anchor["outputs"]] == ["uint64"]
    latest = next(i for i in abi if i.get("name") == "latest")
    assert [(o["name"], o["type"]) for o in latest["outputs"]] == [
        ("root", "bytes32"),
        ("treeSize", "uint64"),
        ("seq", "uint64"),
    ]
    assert latest["stateMutability"] == "view"


def test_version_1_abi_has_the_interface_of_receipt_spec_section_4() -> None:
    abi = load_artifact("DocumentAnchorV1")["abi"]
    _check_common_interface(abi)
    by_kind = _signatures(abi)
    assert "anchor(bytes32,uint64)" in by_kind["function"]
    assert "latest()" not in by_kind["function"]
    assert "ZeroTreeSize()" in by_kind["error"]

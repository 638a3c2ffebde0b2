"""The golden receipts (tests/data/receipts/) through ``docanchor verify --receipt``.

Malformed ones are refused before any node is asked: exit 2 and the case's
words on one line. For the others, the golden tree's root is anchored for
real on the session Anvil (a checkpoint of 3 leaves, then the checkpoint of
5 with its consistency proof, so ``seq`` is 1 and the tree size 5 as in the
cases); each receipt keeps its members and the edit that broke it, and only
its ``anchor`` part is replaced by the real one (contract, block, hash, time).
The CLI must then report every step as the case expects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docanchor.merkle import MerkleTree
from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "receipts"
# Nothing listens on the discard port: a command that asked a node would exit 3.
NO_NODE = "http://127.0.0.1:9"


def load_case(name: str) -> dict[str, Any]:
    case = json.loads((GOLDEN / "cases" / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(case, dict)
    return case


def cases_named(prefix: str) -> list[str]:
    return sorted(p.stem for p in (GOLDEN / "cases").glob(f"{prefix}*.json"))


def test_the_golden_cases_are_there() -> None:
    assert len(cases_named("malformed-")) >= 10
    assert len(cases_named("broken-")) >= 10


@pytest.mark.parametrize("name", cases_named("malformed-"))
def test_malformed_golden_receipts_are_refused_before_any_node_is_asked(
    name: str, tmp_path: Path
) -> None:
    case = load_case(name)
    cli = Cli(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/db", rpc_url=NO_NODE)
    result = cli.run("verify", "--receipt", str(GOLDEN / case["receipt"]))
    assert result.code == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for words in case["expect"]["parse_error"]:
        assert words in lines[0]


# Cases whose edit lives in the receipt's proof, document or metadata (or in the
# document checked), and whose node answers are the honest ones: replacing the
# anchor part by a real anchor keeps what each one tests. Signed receipts are
# left out (the signature covers the illustrative anchor).
REAL_ANCHOR_CASES = [
    "valid-anchored",
    "valid-confirmed",
    "valid-confirmed-no-metadata",
    "valid-confirmed-no-document",
    "valid-unknown-members",
    "broken-altered-document",
    "broken-altered-metadata",
    "broken-altered-salt",
    "broken-altered-path-element",
    "broken-wrong-leaf-index",
    "broken-wrong-tree-size",
]


def golden_tree() -> MerkleTree:
    """The log of the golden cases, rebuilt from the valid receipts' leaves."""
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("make_cases", GOLDEN / "make_cases.py")
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    tree = module.TREE
    assert isinstance(tree, MerkleTree)
    return tree


@pytest.fixture(scope="module")
def real_anchor(anvil: AnvilNode) -> dict[str, Any]:
    """The golden root anchored on a fresh contract as the log's second checkpoint."""
    from docanchor.chain import ChainClient  # web3 is slow to import; only this fixture pays
    from docanchor.config import ANVIL_DEV_PRIVATE_KEY

    tree = golden_tree()
    receipt = json.loads((GOLDEN / "receipts" / "valid-confirmed.json").read_text("utf-8"))
    assert receipt["batch"]["root"] == tree.root.hex()
    client = ChainClient(rpc_url=anvil.rpc_url, private_key=ANVIL_DEV_PRIVATE_KEY)
    deployment = client.deploy()
    first = MerkleTree([tree.leaf_hash(i) for i in range(3)])
    client.anchor(first.root, 3, [])
    mined = client.anchor(tree.root, 5, tree.consistency_proof(3))
    assert (mined.seq, mined.tree_size) == (1, 5)
    return {
        "chain_id": deployment.chain_id,
        "contract": deployment.address,
        "seq": mined.seq,
        "tx_hash": mined.tx_hash,
        "block_number": mined.block_number,
        "block_hash": mined.block_hash,
        "timestamp": mined.timestamp,
    }


def outcome(check: dict[str, Any]) -> str:
    return "skipped" if check["skipped"] else ("ok" if check["ok"] else "failed")


@pytest.mark.parametrize("name", REAL_ANCHOR_CASES)
def test_golden_receipts_anchored_for_real_get_their_verdicts(
    name: str, tmp_path: Path, anvil: AnvilNode, real_anchor: dict[str, Any]
) -> None:
    case = load_case(name)
    data = json.loads((GOLDEN / case["receipt"]).read_text(encoding="utf-8"))
    data["anchor"] = {**data["anchor"], **real_anchor}
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args = ["verify", "--receipt", str(receipt), "--json", "--confirmations", "1"]
    document = case["document"]
    if document is not None:
        args.append(str(GOLDEN / document["file"]))
    cli = Cli(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path}/db",
        rpc_url=anvil.rpc_url,
        extra_env={
            "DOCANCHOR_TRUSTED_CONTRACTS": f"{real_anchor['chain_id']}:{real_anchor['contract']}"
        },
    )
    result = cli.run(*args)
    expect = case["expect"]
    assert result.code == (0 if expect["valid"] else 1), result.stderr
    verdict = result.json()
    assert verdict["valid"] is expect["valid"]
    checks = {str(check["step"]): check for check in verdict["checks"]}
    assert set(checks) == set(expect["steps"])
    for step, want in expect["steps"].items():
        check = checks[step]
        assert outcome(check) == want["outcome"], (step, check["detail"])
        # The anchor's own values (block, time, confirmations) are the real ones
        # here, so only the words of the steps that do not show them are compared.
        if step in ("1", "2", "4") or want["outcome"] == "failed":
            assert want["detail"] in check["detail"], (step, check["detail"])

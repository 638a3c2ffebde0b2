"""The golden receipts of tests/data/receipts/: every case's expected verdict, step by step.

Each case file names a receipt file (the text a supplier keeps), optionally a
document, what the verifier's node answers and what the verifier trusts; its
expected outcome is a parse error (with words it must contain) or, for each
reported step, ok / failed / skipped and a phrase of its detail. The cases and
their verdicts are written by tests/data/receipts/make_cases.py (see the
README there); this test runs the pure verification over them and checks that
the generator still writes exactly the committed files.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from docanchor import hashing
from docanchor.errors import ReceiptFormatError
from docanchor.onchain import OnChainRecord
from docanchor.receipt import (
    ReceiptVerification,
    TrustedDeployment,
    evaluate_receipt,
    parse_receipt_json,
    parse_receipt_text,
    trust_policy,
)
from docanchor.signing import ed25519_verify

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "receipts"
CASE_FORMAT = "docanchor-golden-receipt-case/1"
REPORTED_STEPS = {"1", "2", "4", "5", "6", "7", "8"}
OUTCOMES = {"ok", "failed", "skipped"}


def case_paths() -> list[Path]:
    return sorted((GOLDEN / "cases").glob("*.json"))


def load_case(path: Path) -> dict[str, Any]:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(case, dict)
    assert case.get("format") == CASE_FORMAT, f"{path.name}: unknown format {case.get('format')}"
    return case


def receipt_bytes(case: dict[str, Any]) -> bytes:
    return (GOLDEN / str(case["receipt"])).read_bytes()


def document_sha256(case: dict[str, Any]) -> bytes | None:
    document = case["document"]
    if document is None:
        return None
    if "file" in document:
        return hashing.sha256((GOLDEN / document["file"]).read_bytes())
    return bytes.fromhex(document["sha256"])


def evaluate_case(case: dict[str, Any]) -> ReceiptVerification:
    """parse_receipt_text + evaluate_receipt with the case's node answers and trust."""
    parsed = parse_receipt_text(receipt_bytes(case))
    node, trust = case["node"], case["trust"]
    record = node["anchor_record"]
    return evaluate_receipt(
        parsed.receipt,
        document_sha256=document_sha256(case),
        node_chain_id=node["chain_id"],
        record=None if record is None else OnChainRecord(**record),
        block_hash=node["block_hash"],
        head_number=node["head_number"],
        required_confirmations=trust["required_confirmations"],
        trust=trust_policy(
            [TrustedDeployment(d["chain_id"], d["contract"]) for d in trust["deployments"]],
            [bytes.fromhex(key) for key in trust["signing_keys"]],
            ed25519_verify,
        ),
        receipt_json=parsed.source,
    )


def test_the_golden_folder_holds_cases() -> None:
    # A missing or emptied folder must fail, not pass with zero parametrized cases.
    paths = case_paths()
    assert len(paths) >= 40, f"only {len(paths)} golden cases under {GOLDEN / 'cases'}"
    names = {path.stem for path in paths}
    for prefix in ("valid-", "broken-", "malformed-"):
        assert any(name.startswith(prefix) for name in names), prefix


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: p.stem)
def test_golden_case(path: Path) -> None:
    case = load_case(path)
    expect = case["expect"]
    if "parse_error" in expect:
        words = expect["parse_error"]
        assert words, f"{path.name}: a parse error needs words to look for"
        with pytest.raises(ReceiptFormatError) as caught:
            parse_receipt_json(receipt_bytes(case))
        for phrase in words:
            assert phrase in str(caught.value)
        return
    steps = expect["steps"]
    assert set(steps) == REPORTED_STEPS
    result = evaluate_case(case)
    assert sorted(str(check.step) for check in result.checks) == sorted(REPORTED_STEPS)
    for check in result.checks:
        want = steps[str(check.step)]
        assert want["outcome"] in OUTCOMES
        outcome = "skipped" if check.skipped else ("ok" if check.ok else "failed")
        assert (check.step, outcome) == (check.step, want["outcome"]), check.detail
        assert want["detail"] in check.detail, (check.step, check.detail)
    assert result.valid is expect["valid"]
    assert result.confirmations == expect["confirmations"]
    # A case is valid exactly when no reported step failed.
    assert expect["valid"] is all(s["outcome"] != "failed" for s in steps.values())


def _valid_case_names() -> list[str]:
    return [p.stem for p in case_paths() if p.stem.startswith("valid-")]


@pytest.mark.parametrize("name", _valid_case_names())
def test_valid_receipts_are_emitted_as_docanchor_writes_them(name: str) -> None:
    # Re-emitting a valid receipt (keeping its members, signature included) gives
    # back the file byte for byte: the files are exactly what docanchor hands out.
    text = receipt_bytes(load_case(GOLDEN / "cases" / f"{name}.json"))
    parsed = parse_receipt_text(text)
    emitted = parsed.receipt.to_json()
    assert emitted == parsed.source
    assert (json.dumps(emitted, indent=2, ensure_ascii=False) + "\n").encode() == text


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_cases", GOLDEN / "make_cases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_writes_the_committed_files(tmp_path: Path) -> None:
    written = _generator().write(tmp_path)
    relative = sorted(str(p.relative_to(tmp_path)) for p in written)
    committed = sorted(
        str(p.relative_to(GOLDEN))
        for p in GOLDEN.rglob("*")
        if p.is_file()
        and p.name not in ("README.md", "make_cases.py", ".gitattributes")
        and "__pycache__" not in p.parts
    )
    assert relative == committed
    for name in relative:
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name

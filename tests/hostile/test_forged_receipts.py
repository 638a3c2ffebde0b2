"""Forged and malformed receipts, member by member, against the real API and CLI.

One genuine receipt is made on a real Anvil (deploy, submit, anchor, export).
Every case below changes it, or writes its JSON text by hand, and states the
exact outcome: a 422 problem (title and the words of its detail) when the
receipt is malformed, or the failing steps of spec section 6 when it is well
formed but not valid. After each request the app still answers
``GET /healthz``. A representative subset runs through ``docanchor verify
--receipt`` too: the same words on one line, the right exit code, no traceback.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from docanchor.api import create_app
from docanchor.config import Settings
from docanchor.signing import ReceiptSigner
from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli

ENTITY = "20131370998"
PROBLEM = "application/problem+json"
OTHER_CONTRACT = "0x000000000000000000000000000000000000dEaD"
UNTRUSTED = "which is not a docanchor deployment this verifier trusts"


@dataclass(frozen=True)
class Refused:
    """A problem answer: HTTP status, title, and words of the detail."""

    status: int
    title: str
    words: str


@dataclass(frozen=True)
class Fails:
    """A 200 answer with ``valid`` false: the failing steps, words of the first one."""

    steps: frozenset[int]
    words: str


VALID = Fails(frozenset(), "")


def malformed(words: str) -> Refused:
    return Refused(422, "Malformed receipt", words)


def invalid_input(words: str) -> Refused:
    return Refused(422, "Invalid input", words)


def fails(*steps: int, words: str) -> Fails:
    return Fails(frozenset(steps), words)


@dataclass
class Setup:
    cli: Cli
    client: TestClient
    signed: dict[str, Any]
    contract: str

    @property
    def unsigned(self) -> dict[str, Any]:
        data = copy.deepcopy(self.signed)
        del data["signature"]
        return data


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, anvil: AnvilNode) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("hostile")
    database_url = f"sqlite:///{folder / 'docanchor.sqlite3'}"
    cli = Cli(data_dir=folder / "data", database_url=database_url, rpc_url=anvil.rpc_url)
    contract = cli.ok("deploy", "--json").json()["address"]
    documents = []
    for n in range(3):  # three leaves: a proof path of one or two hashes
        path = folder / f"orden-{n}.txt"
        path.write_bytes(f"orden de compra {n}\n".encode())
        documents.append(str(path))
    cli.ok(
        "submit",
        *documents,
        "--entity",
        ENTITY,
        "--reference",
        "OC-H",
        "--as-versions",
        "--meta",
        "n:=1",
    )
    cli.ok("anchor")
    signed = json.loads(cli.ok("receipt", documents[0]).stdout)
    assert signed["status"] == "confirmed" and "signature" in signed
    settings = Settings(
        data_dir=cli.data_dir,
        database_url=database_url,
        rpc_url=anvil.rpc_url,
        confirmations=1,
        log_json=False,
        trusted_contracts="",
    )
    with TestClient(create_app(settings)) as client:
        yield Setup(cli, client, signed, contract)


# --- the cases ------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], Any]


def put(path: str, value: Any) -> Mutation:
    """Set the member at a dotted path (``anchor.seq``, ``proof.path.0``)."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def drop(path: str) -> Mutation:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[key]
        del target[last]

    return change


def edit(path: str, how: Callable[[Any], Any]) -> Mutation:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        index: Any = int(last) if isinstance(target, list) else last
        target[index] = how(target[index])

    return change


def flip(hex_text: str) -> str:
    prefix = "0x" if hex_text.startswith("0x") else ""
    body = hex_text.removeprefix("0x")
    return prefix + ("1" if body[0] == "0" else "0") + body[1:]


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


# Cases on the unsigned receipt's JSON object: (id, mutation, expected).
MEMBER_CASES: list[tuple[str, Mutation, Refused | Fails]] = [
    ("genuine", lambda d: None, VALID),
    # top level
    ("version other", put("version", "docanchor-receipt/2"), malformed("version must be")),
    ("version missing", drop("version"), malformed("receipt member version is missing")),
    ("version number", put("version", 1), malformed("version must be")),
    ("status unknown", put("status", "final"), malformed("status must be one of")),
    ("status missing", drop("status"), malformed("receipt member status is missing")),
    ("status null", put("status", None), malformed("status must be one of")),
    (
        "pending with parts",
        put("status", "pending"),
        malformed("a pending receipt must have member proof null"),
    ),
    (
        "sealed with anchor",
        put("status", "sealed"),
        malformed("a sealed receipt must have member anchor null"),
    ),
    (
        "anchored without anchor",
        put("anchor", None),
        malformed("a confirmed receipt must have member anchor set, not null"),
    ),
    ("document missing", drop("document"), malformed("receipt member document is missing")),
    ("document array", put("document", []), malformed("document must be an object, got an array")),
    ("proof missing", drop("proof"), malformed("receipt member proof is missing")),
    ("batch missing", drop("batch"), malformed("receipt member batch is missing")),
    ("anchor missing", drop("anchor"), malformed("receipt member anchor is missing")),
    ("extra top-level member", put("note", {"any": ["thing", 1, None]}), VALID),
    ("extra member in anchor", put("anchor.network", "anvil"), VALID),
    ("extra member in proof", put("proof.algorithm", "rfc9162"), VALID),
    # document
    ("sha256 uppercase", edit("document.sha256", str.upper), malformed("64 lowercase hex")),
    ("sha256 with 0x", edit("document.sha256", lambda v: "0x" + v), malformed("without 0x")),
    ("sha256 number", put("document.sha256", 12), malformed("must be a string")),
    ("sha256 missing", drop("document.sha256"), malformed("document.sha256 is missing")),
    ("salt short", edit("document.salt", lambda v: v[:62]), malformed("document.salt")),
    (
        "metadata null",
        put("document.metadata", None),
        malformed("receipt member document.metadata is null"),
    ),
    ("metadata array", put("document.metadata", []), malformed("document.metadata must be")),
    (
        "metadata out of range",
        put("document.metadata.n", 2**53),
        malformed("document.metadata is not allowed"),
    ),
    (
        "metadata altered",
        put("document.metadata.n", 2),
        fails(2, words="the metadata in this receipt was altered"),
    ),
    (
        "metadata_sha256 flipped",
        edit("document.metadata_sha256", flip),
        fails(2, 4, words="the metadata in this receipt was altered"),
    ),
    (
        "salt flipped",
        edit("document.salt", flip),
        fails(4, words="the receipt's proof does not lead to batch root"),
    ),
    # proof
    ("leaf_index string", put("proof.leaf_index", "0"), malformed("got a string")),
    ("leaf_index boolean", put("proof.leaf_index", False), malformed("got a boolean")),
    ("leaf_index negative", put("proof.leaf_index", -1), malformed("must be at least 0")),
    ("leaf_index null", put("proof.leaf_index", None), malformed("got null")),
    ("tree_size zero", put("proof.tree_size", 0), malformed("must be at least 1")),
    ("tree_size 2^64", put("proof.tree_size", 2**64), malformed("must be at most")),
    (
        "tree_size bigger, same path length",
        put("proof.tree_size", 4),
        fails(5, words="the tree size is 3 on chain but 4 in the receipt"),
    ),
    ("tree_size bigger", put("proof.tree_size", 5), malformed("proof.path has 2 hashes")),
    ("leaf_index too big", put("proof.leaf_index", 3), malformed("must be below")),
    ("path object", put("proof.path", {}), malformed("proof.path must be an array")),
    ("path uppercase", edit("proof.path.0", str.upper), malformed("proof.path[0]")),
    ("path 0x", edit("proof.path.0", lambda v: "0x" + v), malformed("without 0x")),
    ("path longer", edit("proof.path", lambda p: [*p, p[0]]), malformed("proof.path has")),
    (
        "path flipped",
        edit("proof.path.0", flip),
        fails(4, words="the receipt's proof does not lead to batch root"),
    ),
    # batch
    ("batch id null", put("batch.id", None), malformed("batch.id must be an integer, got null")),
    ("batch id other", put("batch.id", 99), VALID),  # informational
    ("batch root uppercase", edit("batch.root", str.upper), malformed("batch.root")),
    (
        "batch root flipped",
        edit("batch.root", flip),
        fails(4, 5, words="the receipt's proof does not lead to batch root"),
    ),
    # anchor
    ("chain_id zero", put("anchor.chain_id", 0), malformed("anchor.chain_id must be at least 1")),
    ("chain_id 2^64", put("anchor.chain_id", 2**64), malformed("anchor.chain_id must be at most")),
    ("chain_id string", put("anchor.chain_id", "31337"), malformed("got a string")),
    ("chain_id boolean", put("anchor.chain_id", True), malformed("got a boolean")),
    ("wrong chain id", put("anchor.chain_id", 1), fails(5, words=f"on chain 1, {UNTRUSTED}")),
    (
        "untrusted contract",
        put("anchor.contract", OTHER_CONTRACT),
        fails(5, words=f"anchored in {OTHER_CONTRACT} on chain 31337, {UNTRUSTED}"),
    ),
    ("contract lowercase", edit("anchor.contract", str.lower), VALID),
    (
        "contract uppercase hex",
        edit("anchor.contract", lambda v: "0x" + v[2:].upper()),
        VALID,
    ),
    ("contract without 0x", edit("anchor.contract", lambda v: v[2:]), malformed("an address")),
    ("contract 0X", edit("anchor.contract", lambda v: "0X" + v[2:]), malformed("an address")),
    ("contract short", edit("anchor.contract", lambda v: v[:-2]), malformed("an address")),
    ("tx_hash uppercase hex", edit("anchor.tx_hash", lambda v: "0x" + v[2:].upper()), VALID),
    ("tx_hash without 0x", edit("anchor.tx_hash", lambda v: v[2:]), malformed("anchor.tx_hash")),
    ("tx_hash other", edit("anchor.tx_hash", flip), VALID),  # informational
    ("block_hash uppercase hex", edit("anchor.block_hash", lambda v: "0x" + v[2:].upper()), VALID),
    (
        "block_hash other",
        edit("anchor.block_hash", flip),
        fails(6, words="the chain was reorganised or reset"),
    ),
    ("block_hash number", put("anchor.block_hash", 5), malformed("anchor.block_hash")),
    ("seq other", edit("anchor.seq", lambda v: v + 1), fails(5, words="the sequence number is")),
    ("seq negative", put("anchor.seq", -1), malformed("anchor.seq must be at least 0")),
    (
        "block_number other",
        edit("anchor.block_number", lambda v: v + 1),
        # Step 6 fails (another block), so step 7 counts no confirmations: skipped.
        fails(5, 6, words="the block number is"),
    ),
    ("block_number 2^64", put("anchor.block_number", 2**64), malformed("must be at most")),
    ("timestamp boolean", put("anchor.timestamp", True), malformed("got a boolean")),
    ("timestamp missing", drop("anchor.timestamp"), malformed("anchor.timestamp is missing")),
    ("timestamp other", edit("anchor.timestamp", lambda v: v - 1), fails(5, words="the timestamp")),
    ("anchor string", put("anchor", "0x"), malformed("anchor must be an object, got a string")),
]

DUPLICATE = "the receipt is not acceptable JSON: the member 'status' appears twice in one object"


def _text(data: Any) -> str:
    return json.dumps(data)


def _receipt_text_cases(unsigned: dict[str, Any]) -> dict[str, tuple[str, Refused]]:
    """Receipts whose text, not their members, is at fault: written by hand."""
    genuine = _text(unsigned)
    body = genuine[1:]
    return {
        "duplicate status": ('{"status": "confirmed", ' + body, malformed(DUPLICATE)),
        "duplicate in anchor": (
            genuine.replace('"anchor": {', '"anchor": {"seq": 0, ', 1),
            malformed("the member 'seq' appears twice in one object"),
        ),
        "float in extra member": (
            '{"note": 1.5, ' + body,
            malformed("the number 1.5 has a fraction or exponent; only integers are allowed"),
        ),
        "float integer-valued": (
            genuine.replace('"leaf_index": 0', '"leaf_index": 0.0', 1),
            malformed("the number 0.0 has a fraction or exponent"),
        ),
        "exponent": (
            genuine.replace('"tree_size": 3', '"tree_size": 3e0', 1),
            malformed("the number 3e0 has a fraction or exponent"),
        ),
        "NaN": ('{"note": NaN, ' + body, malformed("NaN is not JSON")),
        "Infinity": ('{"note": -Infinity, ' + body, malformed("-Infinity is not JSON")),
        "depth 65": (
            '{"note": ' + _text(_deep(64)) + ", " + body,
            malformed("the receipt is nested 65 levels deep; at most 64 are allowed"),
        ),
        "not JSON": (genuine[:-1], malformed("the receipt is not valid JSON")),
        "array": ("[" + genuine + "]", malformed("(the receipt itself) must be an object")),
    }


# --- the API --------------------------------------------------------------------------------


def _post(setup: Setup, body: bytes | str, content_type: str = "application/json") -> Any:
    return setup.client.post(
        "/v1/receipts/verify", content=body, headers={"Content-Type": content_type}
    )


def _assert_outcome(response: Any, expected: Refused | Fails) -> None:
    if isinstance(expected, Refused):
        assert response.status_code == expected.status, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        problem = response.json()
        assert problem["type"] == "about:blank"
        assert problem["title"] == expected.title
        assert problem["status"] == expected.status
        assert problem["instance"] == "/v1/receipts/verify"
        assert expected.words in problem["detail"], problem["detail"]
        assert "Traceback" not in problem["detail"] and "\n" not in problem["detail"]
        return
    assert response.status_code == 200, response.text
    report = response.json()
    failed = {c["step"] for c in report["checks"] if not c["ok"]}
    assert failed == set(expected.steps), report["checks"]
    assert report["valid"] is (not expected.steps)
    if expected.steps:
        first = next(c for c in report["checks"] if not c["ok"])
        assert expected.words in first["detail"], first["detail"]


def _healthy(setup: Setup) -> None:
    health = setup.client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["node"]["ok"] is True


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [case[1:] for case in MEMBER_CASES],
    ids=[case[0] for case in MEMBER_CASES],
)
def test_member_cases_through_the_api(
    setup: Setup, mutate: Mutation, expected: Refused | Fails
) -> None:
    data = setup.unsigned
    mutate(data)
    _assert_outcome(_post(setup, json.dumps({"receipt": data})), expected)
    _healthy(setup)


TEXT_IDS = [
    "duplicate status",
    "duplicate in anchor",
    "float in extra member",
    "float integer-valued",
    "exponent",
    "NaN",
    "Infinity",
    "depth 65",
    "not JSON",
    "array",
]


@pytest.mark.parametrize("case", TEXT_IDS)
def test_text_cases_through_the_api(setup: Setup, case: str) -> None:
    text, expected = _receipt_text_cases(setup.unsigned)[case]
    _assert_outcome(_post(setup, '{"receipt": ' + text + "}"), expected)
    _healthy(setup)


def test_depth_64_is_accepted(setup: Setup) -> None:
    text = '{"note": ' + _text(_deep(63)) + ", " + _text(setup.unsigned)[1:]
    _assert_outcome(_post(setup, '{"receipt": ' + text + "}"), VALID)


SHA = "ab" * 32
ENVELOPE_CASES: list[tuple[str, str, Refused]] = [
    ("empty object", "{}", invalid_input("the request body has no member 'receipt'")),
    ("array", "[]", invalid_input("the request body must be a JSON object")),
    ("unknown member", '{"receipt": {}, "extra": 1}', invalid_input("unknown member 'extra'")),
    (
        "sha256 uppercase",
        '{"receipt": {}, "sha256": "' + SHA.upper() + '"}',
        invalid_input("sha256"),
    ),
    ("sha256 number", '{"receipt": {}, "sha256": 5}', invalid_input("sha256")),
    ("receipt twice", '{"receipt": {}, "receipt": {}}', malformed("'receipt' appears twice")),
    ("float in envelope", '{"receipt": {}, "x": 1.0}', malformed("the number 1.0 has a fraction")),
    ("not UTF-8", '{"receipt": "\xff"}', malformed("not UTF-8")),
    ("empty body", "", malformed("the receipt is not valid JSON")),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [case[1:] for case in ENVELOPE_CASES],
    ids=[case[0] for case in ENVELOPE_CASES],
)
def test_envelope_cases_through_the_api(setup: Setup, body: str, expected: Refused) -> None:
    raw = body.encode("latin-1")
    _assert_outcome(_post(setup, raw), expected)
    _healthy(setup)


def test_other_media_types_are_415(setup: Setup) -> None:
    _assert_outcome(
        _post(setup, json.dumps({"receipt": setup.signed}), "text/plain"),
        Refused(415, "Unsupported media type", "application/json"),
    )
    _healthy(setup)


def test_the_document_digest_is_checked_too(setup: Setup) -> None:
    body = {"receipt": setup.signed, "sha256": SHA}
    _assert_outcome(
        _post(setup, json.dumps(body)), fails(1, words="the document does not match this receipt")
    )
    body["sha256"] = setup.signed["document"]["sha256"]
    _assert_outcome(_post(setup, json.dumps(body)), VALID)


# --- signatures -----------------------------------------------------------------------------

STRANGER = ReceiptSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def _resigned(data: dict[str, Any]) -> dict[str, Any]:
    return STRANGER.sign(data)


SIGNATURE_CASES: list[tuple[str, Mutation, Refused | Fails]] = [
    ("signed genuine", lambda d: None, VALID),
    (
        "signature value altered",
        edit("signature.value", lambda v: ("B" if v[0] == "A" else "A") + v[1:]),
        fails(8, words="does not verify"),
    ),
    ("signature value not base64", put("signature.value", "%%%"), fails(8, words="not base64")),
    (
        "signed member altered",
        put("batch.id", 99),
        fails(8, words="the receipt was altered after it was signed"),
    ),
    ("signature null", put("signature", None), fails(8, words="must be an object, got null")),
    ("signature alg", put("signature.alg", "ES256"), fails(8, words="'ES256'")),
    ("signature key id number", put("signature.key_id", 7), fails(8, words="both strings")),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [case[1:] for case in SIGNATURE_CASES],
    ids=[case[0] for case in SIGNATURE_CASES],
)
def test_signature_cases_through_the_api(
    setup: Setup, mutate: Mutation, expected: Refused | Fails
) -> None:
    data = copy.deepcopy(setup.signed)
    mutate(data)
    _assert_outcome(_post(setup, json.dumps({"receipt": data})), expected)
    _healthy(setup)


def test_signature_by_another_key_through_the_api(setup: Setup) -> None:
    report = _post(setup, json.dumps({"receipt": _resigned(setup.unsigned)}))
    _assert_outcome(report, fails(8, words="not a receipt signing key this verifier trusts"))
    # Another key under our key id: the signature does not verify.
    forged = _resigned(setup.unsigned)
    forged["signature"]["key_id"] = setup.signed["signature"]["key_id"]
    _assert_outcome(
        _post(setup, json.dumps({"receipt": forged})), fails(8, words="does not verify")
    )


# --- the same through the CLI ----------------------------------------------------------------

CLI_MEMBER_IDS = [
    "genuine",
    "version missing",
    "leaf_index boolean",
    "sha256 uppercase",
    "metadata null",
    "tree_size 2^64",
    "pending with parts",
    "wrong chain id",
    "untrusted contract",
    "contract lowercase",
    "block_hash other",
]
CLI_TEXT_IDS = ["duplicate status", "float in extra member", "NaN", "depth 65", "not JSON"]


def _cli_outcome(setup: Setup, path: Path, expected: Refused | Fails, api_detail: str) -> None:
    result = setup.cli.run("verify", "--receipt", str(path))
    assert "Traceback" not in result.stdout + result.stderr
    if isinstance(expected, Refused):
        assert result.code == 2, result.stdout + result.stderr
        # One line, word for word the API's detail.
        assert result.stderr == f"docanchor: {api_detail}\n"
        assert result.stdout == ""
        return
    assert result.code == (1 if expected.steps else 0), result.stdout + result.stderr
    for step in expected.steps:
        line = next(
            x for x in result.stdout.splitlines() if x.strip().startswith(f"[FAIL] {step}.")
        )
        if step == min(expected.steps):
            assert expected.words in line, line


@pytest.mark.parametrize("case", CLI_MEMBER_IDS)
def test_member_cases_through_the_cli(setup: Setup, case: str, tmp_path: Path) -> None:
    mutate, expected = next(c[1:] for c in MEMBER_CASES if c[0] == case)
    data = setup.unsigned
    mutate(data)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(data))
    api = _post(setup, json.dumps({"receipt": data}))
    _assert_outcome(api, expected)
    detail = api.json().get("detail", "") if isinstance(expected, Refused) else ""
    _cli_outcome(setup, path, expected, detail)


@pytest.mark.parametrize("case", CLI_TEXT_IDS)
def test_text_cases_through_the_cli(setup: Setup, case: str, tmp_path: Path) -> None:
    text, expected = _receipt_text_cases(setup.unsigned)[case]
    path = tmp_path / "receipt.json"
    path.write_text(text)
    api = _post(setup, '{"receipt": ' + text + "}")
    _assert_outcome(api, expected)
    detail = api.json()["detail"]
    if case == "not JSON":
        # The decoder's position counts from the start of the text it was given, and
        # the API's body has '{"receipt": ' in front: the same words, another column.
        result = setup.cli.run("verify", "--receipt", str(path))
        assert result.code == 2 and result.stderr.count("\n") == 1
        assert result.stderr.split(": line")[0] == "docanchor: " + detail.split(": line")[0]
        return
    _cli_outcome(setup, path, expected, detail)


def test_bad_signature_through_the_cli(setup: Setup, tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(_resigned(setup.unsigned)))
    result = setup.cli.run("verify", "--receipt", str(path))
    assert result.code == 1
    assert "[FAIL] 8. signature:" in result.stdout
    assert "not a receipt signing key this verifier trusts" in result.stdout
    # Given that key, the CLI accepts the signature.
    ok = setup.cli.run(
        "verify", "--receipt", str(path), "--signing-key", STRANGER.public_raw.hex(), "--json"
    )
    assert ok.code == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["checks"][-1]["detail"].startswith("signed by the service key")

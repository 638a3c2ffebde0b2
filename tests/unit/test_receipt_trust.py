"""Step 5's trusted deployments and the optional signature check (receipt spec 5 and 6).

Table-driven over the worked example of docs/receipt-v1.md (chain 31337,
contract 0x5FbDB...aa3): who trusts what, how ``CHAIN_ID:0xADDRESS`` text is
read, and how a receipt's ``signature`` member is judged.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_receipt_verify import CHAIN_ID, CONTRACT, chain_values, example_json, good_record

from docanchor import jsontext
from docanchor.errors import InputError, ReceiptFormatError
from docanchor.receipt import (
    STEP_SIGNATURE,
    TrustedDeployment,
    TrustPolicy,
    check_chain_record,
    check_signature,
    evaluate_receipt,
    parse_receipt,
    parse_receipt_json,
    parse_receipt_text,
    signing_payload,
    trust_policy,
)
from docanchor.signing import ReceiptSigner, ed25519_verify

OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
UNTRUSTED_WORDS = (
    f"anchored in {CONTRACT} on chain {CHAIN_ID}, which is not a docanchor deployment "
    "this verifier trusts"
)

# --- Deployment values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (TrustedDeployment(1, CONTRACT), TrustedDeployment(1, CONTRACT), True),
        (TrustedDeployment(1, CONTRACT), TrustedDeployment(1, CONTRACT.lower()), True),
        (TrustedDeployment(1, CONTRACT), TrustedDeployment(1, "0x" + CONTRACT[2:].upper()), True),
        (TrustedDeployment(1, CONTRACT), TrustedDeployment(2, CONTRACT), False),
        (TrustedDeployment(1, CONTRACT), TrustedDeployment(1, OTHER_CONTRACT), False),
    ],
)
def test_deployments_compare_without_regard_to_address_case(
    a: TrustedDeployment, b: TrustedDeployment, equal: bool
) -> None:
    assert (a == b) is equal
    assert (a in {b}) is equal
    if equal:
        assert hash(a) == hash(b)


@pytest.mark.parametrize(
    ("chain_id", "address"),
    [
        (0, CONTRACT),
        (-1, CONTRACT),
        (True, CONTRACT),
        ("1", CONTRACT),
        (2**64, CONTRACT),
        (1, CONTRACT[2:]),
        (1, CONTRACT + "00"),
        (1, "0x" + "g" * 40),
        (1, None),
    ],
)
def test_deployment_refuses_what_is_not_one(chain_id: Any, address: Any) -> None:
    with pytest.raises(InputError):
        TrustedDeployment(chain_id, address)


# --- DOCANCHOR_TRUSTED_CONTRACTS text -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", set()),
        ("  ,  ", set()),
        (f"31337:{CONTRACT}", {TrustedDeployment(31337, CONTRACT)}),
        (
            f" 31337 : {CONTRACT} ,1:{OTHER_CONTRACT},",
            {
                TrustedDeployment(31337, CONTRACT),
                TrustedDeployment(1, OTHER_CONTRACT),
            },
        ),
        (f"31337:{CONTRACT},31337:{CONTRACT.lower()}", {TrustedDeployment(31337, CONTRACT)}),
    ],
)
def test_trusted_contracts_text(text: str, expected: set[TrustedDeployment]) -> None:
    from docanchor.receipt import parse_trusted_contracts

    assert parse_trusted_contracts(text) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (CONTRACT, CONTRACT),
        (f"31337:{CONTRACT},oops", "oops"),
        (f"x:{CONTRACT}", f"x:{CONTRACT}"),
        (f"-1:{CONTRACT}", f"-1:{CONTRACT}"),
        (f"0:{CONTRACT}", f"0:{CONTRACT}"),
        ("31337:0x1234", "31337:0x1234"),
        (f"31337:{CONTRACT[2:]}", f"31337:{CONTRACT[2:]}"),
        (f"٣:{CONTRACT}", f"٣:{CONTRACT}"),  # a non-ASCII digit
    ],
)
def test_trusted_contracts_text_refused_naming_the_entry(text: str, named: str) -> None:
    from docanchor.receipt import parse_trusted_contracts

    with pytest.raises(InputError) as info:
        parse_trusted_contracts(text)
    assert repr(named) in str(info.value)


# --- step 5 with a trust set ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "ok"),
    [
        ({TrustedDeployment(CHAIN_ID, CONTRACT)}, True),
        ({TrustedDeployment(CHAIN_ID, CONTRACT.lower())}, True),
        ({TrustedDeployment(CHAIN_ID, "0x" + CONTRACT[2:].upper())}, True),
        ({TrustedDeployment(1, OTHER_CONTRACT), TrustedDeployment(CHAIN_ID, CONTRACT)}, True),
        (set(), False),
        ({TrustedDeployment(1, CONTRACT)}, False),  # the same address on another chain
        ({TrustedDeployment(CHAIN_ID, OTHER_CONTRACT)}, False),
    ],
)
def test_step_five_needs_a_trusted_deployment(trusted: set[TrustedDeployment], ok: bool) -> None:
    receipt = parse_receipt(example_json())
    result = evaluate_receipt(receipt, **chain_values(trust=TrustPolicy(frozenset(trusted))))
    step5 = next(c for c in result.checks if c.step == 5)
    assert result.valid is ok
    assert step5.ok is ok
    if not ok:
        assert step5.detail == UNTRUSTED_WORDS
        by_step = {c.step: c for c in result.checks}
        assert by_step[6].skipped and by_step[7].skipped
        assert "not a trusted deployment" in by_step[6].detail
        assert result.confirmations == 0
        # Steps 1 to 4 are still reported for what they are.
        assert all(c.ok for c in result.checks if c.step < 5)


def test_untrusted_needs_nothing_from_a_node() -> None:
    receipt = parse_receipt(example_json())
    result = evaluate_receipt(
        receipt,
        **chain_values(
            trust=TrustPolicy(frozenset()), node_chain_id=None, record=None, block_hash=None
        ),
    )
    assert not result.valid
    assert result.first_failure is not None and result.first_failure.detail == UNTRUSTED_WORDS
    # A trusted deployment without the node's chain id is a caller's mistake, not a verdict.
    with pytest.raises(InputError):
        check_chain_record(receipt, None, good_record(), {TrustedDeployment(CHAIN_ID, CONTRACT)})


def test_the_trust_check_comes_before_the_node_chain_check() -> None:
    receipt = parse_receipt(example_json())
    check = check_chain_record(receipt, 1, None, frozenset())
    assert not check.ok and check.detail == UNTRUSTED_WORDS


# --- the signature check --------------------------------------------------------------------

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
SIGNER = ReceiptSigner(KEY)
OTHER_SIGNER = ReceiptSigner(OTHER_KEY)


def signed() -> dict[str, Any]:
    return SIGNER.sign(example_json())


def _set(path: tuple[str, ...], value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


SIGNATURE_CASES: list[tuple[str, Any, bool, str]] = [
    ("genuine", lambda d: None, True, f"signed by the service key {SIGNER.key_id}"),
    (
        "altered member",
        _set(("batch", "id"), 2),
        False,
        "does not verify: the receipt was altered after it was signed",
    ),
    (
        "altered metadata",
        _set(("document", "metadata", "reference"), "OC-2025-999999"),
        False,
        "does not verify",
    ),
    (
        "added member",
        _set(("note",), "hello"),
        False,
        "does not verify",
    ),
    (
        "value of another receipt",
        _set(("signature", "value"), base64.b64encode(bytes(64)).decode()),
        False,
        "does not verify",
    ),
    ("value not base64", _set(("signature", "value"), "***"), False, "not base64"),
    (
        "value too short",
        _set(("signature", "value"), base64.b64encode(bytes(10)).decode()),
        False,
        "does not verify",
    ),
    ("value not a string", _set(("signature", "value"), 5), False, "both strings"),
    ("key id missing", lambda d: d["signature"].pop("key_id"), False, "both strings"),
    ("other algorithm", _set(("signature", "alg"), "RS256"), False, "'RS256'"),
    ("signature not an object", _set(("signature",), "abc"), False, "must be an object"),
    ("signature null", _set(("signature",), None), False, "got null"),
    (
        "unknown key id",
        _set(("signature", "key_id"), "ab" * 32),
        False,
        "not a receipt signing key this verifier trusts",
    ),
]


@pytest.mark.parametrize(
    ("tamper", "ok", "words"),
    [case[1:] for case in SIGNATURE_CASES],
    ids=[case[0] for case in SIGNATURE_CASES],
)
def test_signature_check(tamper: Any, ok: bool, words: str) -> None:
    data = signed()
    tamper(data)
    check = check_signature(data, {SIGNER.key_id: SIGNER.public_raw}, ed25519_verify)
    assert check.step == STEP_SIGNATURE and check.name == "signature"
    assert check.ok is ok and not check.skipped
    assert words in check.detail


def test_signature_by_another_key_fails_even_with_its_own_key_id() -> None:
    data = OTHER_SIGNER.sign(example_json())
    check = check_signature(data, {SIGNER.key_id: SIGNER.public_raw}, ed25519_verify)
    assert not check.ok and "not a receipt signing key this verifier trusts" in check.detail
    # A forger who writes our key id over their signature still fails.
    data["signature"]["key_id"] = SIGNER.key_id
    check = check_signature(data, {SIGNER.key_id: SIGNER.public_raw}, ed25519_verify)
    assert not check.ok and "does not verify" in check.detail


@pytest.mark.parametrize(
    ("data", "keys", "verify", "words"),
    [
        (
            example_json(),
            {SIGNER.key_id: SIGNER.public_raw},
            ed25519_verify,
            "no service signature",
        ),
        (SIGNER.sign(example_json()), {}, ed25519_verify, "signature not checked"),
        (SIGNER.sign(example_json()), {SIGNER.key_id: SIGNER.public_raw}, None, "not checked"),
    ],
)
def test_signature_not_checked_is_not_a_failure(
    data: dict[str, Any], keys: dict[str, bytes], verify: Any, words: str
) -> None:
    check = check_signature(data, keys, verify)
    assert check.ok and check.skipped and words in check.detail


def test_signature_is_part_of_the_verdict() -> None:
    data = signed()
    trust = trust_policy(
        {TrustedDeployment(CHAIN_ID, CONTRACT)}, [SIGNER.public_raw], ed25519_verify
    )
    parsed = parse_receipt_text(json.dumps(data))
    good = evaluate_receipt(parsed.receipt, **chain_values(trust=trust), receipt_json=parsed.source)
    assert good.valid and good.checks[-1].ok and not good.checks[-1].skipped
    data["signature"]["value"] = base64.b64encode(bytes(64)).decode()
    parsed = parse_receipt_text(json.dumps(data))
    bad = evaluate_receipt(parsed.receipt, **chain_values(trust=trust), receipt_json=parsed.source)
    assert not bad.valid
    assert {c.step for c in bad.checks if not c.ok} == {STEP_SIGNATURE}


def test_signature_covers_the_receipt_as_received() -> None:
    # The payload is RFC 8785 of the received object: member order and spacing do not matter.
    data = signed()
    text = json.dumps(dict(reversed(list(data.items()))), indent=3)
    parsed = parse_receipt_text(text)
    assert signing_payload(parsed.source) == signing_payload(data)
    check = check_signature(parsed.source, {SIGNER.key_id: SIGNER.public_raw}, ed25519_verify)
    assert check.ok and not check.skipped


def test_trust_policy_files_keys_under_their_key_id() -> None:
    trust = trust_policy([], [SIGNER.public_raw, OTHER_SIGNER.public_raw], ed25519_verify)
    assert trust.signing_keys == {
        SIGNER.key_id: SIGNER.public_raw,
        OTHER_SIGNER.key_id: OTHER_SIGNER.public_raw,
    }
    with pytest.raises(InputError):
        TrustPolicy(frozenset(), {"id": b"short"})


# --- one strict parser, the same words with or without an envelope --------------------------


def _nested(depth: int) -> dict[str, Any]:
    data = example_json()
    value: Any = "x"
    for _ in range(depth - 1):  # the receipt itself is the first level
        value = [value]
    data["note"] = value  # an extra member: allowed, and nested like any other
    return data


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"version": 1, "version": 2}', "the member 'version' appears twice in one object"),
        ('{"a": 1.5}', "the number 1.5 has a fraction or exponent"),
        ('{"a": 1e3}', "the number 1e3 has a fraction or exponent"),
        ('{"a": NaN}', "NaN is not JSON"),
        ('{"a": -Infinity}', "-Infinity is not JSON"),
        (json.dumps(_nested(65)), "the receipt is nested 65 levels deep; at most 64 are allowed"),
    ],
)
def test_strict_words_are_the_same_inside_an_envelope(text: str, words: str) -> None:
    from docanchor.receipt import loads_receipt_text

    with pytest.raises(ReceiptFormatError) as alone:
        parse_receipt_json(text)
    with pytest.raises(ReceiptFormatError) as enveloped:
        loads_receipt_text('{"receipt": ' + text + "}", enclosing=1)
    assert words in str(alone.value)
    assert str(alone.value) == str(enveloped.value)


def test_depth_limit_is_exact_and_decoded_depth_speaks_alike() -> None:
    assert parse_receipt_json(json.dumps(_nested(64))) is not None
    with pytest.raises(ReceiptFormatError) as decoded:
        parse_receipt(_nested(65))
    with pytest.raises(ReceiptFormatError) as text:
        parse_receipt_json(json.dumps(_nested(65)))
    assert str(decoded.value) == str(text.value)
    assert jsontext.json_text_depth(json.dumps({"receipt": _nested(64)})) == 65


def test_parse_receipt_text_keeps_the_object_as_received() -> None:
    data = copy.deepcopy(signed())
    data["anchor"]["tx_hash"] = data["anchor"]["tx_hash"].upper().replace("0X", "0x")
    parsed = parse_receipt_text(json.dumps(data))
    assert parsed.source == data
    assert parsed.receipt.anchor is not None
    assert parsed.receipt.anchor.tx_hash == data["anchor"]["tx_hash"].lower()

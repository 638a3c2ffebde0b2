"""Configuration: defaults, derived values, and one clear line for a bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docanchor.config import DEV_CHAIN_ID, load_settings
from docanchor.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DOCANCHOR_"):
            monkeypatch.delenv(name)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.data_dir == Path(".docanchor")
    assert s.rpc_url == "http://127.0.0.1:8545"
    assert s.resolved_database_url == f"sqlite:///{tmp_path / '.docanchor' / 'docanchor.sqlite3'}"
    assert s.batch_max == 1_000_000
    assert s.anchor_interval == 60
    assert s.max_upload_bytes == 104_857_600
    assert s.poa is False
    assert s.required_confirmations(DEV_CHAIN_ID) == 1
    assert s.required_confirmations(1) == 12
    assert s.resolved_contract_address() is None


def test_environment_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCANCHOR_CONFIRMATIONS", "3")
    monkeypatch.setenv("DOCANCHOR_POA", "true")
    monkeypatch.setenv("DOCANCHOR_DATA_DIR", str(tmp_path))
    s = load_settings(rpc_url="https://rpc.example.org")
    assert s.required_confirmations(1) == 3 and s.poa is True
    assert s.rpc_url == "https://rpc.example.org"
    (tmp_path / "deployment.json").write_text(
        json.dumps({"address": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "chain_id": 31337})
    )
    assert s.resolved_contract_address() == "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DOCANCHOR_BATCH_MAX", "many"),
        ("DOCANCHOR_BATCH_MAX", "0"),
        ("DOCANCHOR_CONFIRMATIONS", "-1"),
        ("DOCANCHOR_RPC_URL", "ftp://node"),
        ("DOCANCHOR_CONTRACT_ADDRESS", "0x1234"),
        ("DOCANCHOR_PRIVATE_KEY", "0xnothex"),
        ("DOCANCHOR_POA", "perhaps"),
        ("DOCANCHOR_ANCHOR_INTERVAL", "0"),
        ("DOCANCHOR_MAX_UPLOAD_BYTES", "1.5MB"),
        ("DOCANCHOR_TRUSTED_CONTRACTS", "31337:0x1234"),
        ("DOCANCHOR_TRUSTED_CONTRACTS", "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        ("DOCANCHOR_TRUSTED_SIGNING_KEYS", "abcd"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert name in message and "\n" not in message
    if "KEY" in name:
        assert value not in message  # secrets are never echoed


A = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
B = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
C = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"


def test_a_bad_trusted_contract_names_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCANCHOR_TRUSTED_CONTRACTS", f"31337:{A}, 1:nothing")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "DOCANCHOR_TRUSTED_CONTRACTS" in str(caught.value)
    assert "'1:nothing'" in str(caught.value)


def test_trusted_deployments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from docanchor.receipt import TrustedDeployment

    monkeypatch.setenv("DOCANCHOR_DATA_DIR", str(tmp_path))
    assert load_settings().trusted_deployments(31337) == frozenset()
    monkeypatch.setenv("DOCANCHOR_TRUSTED_CONTRACTS", f"5:{C}")
    (tmp_path / "deployment.json").write_text(
        json.dumps(
            {
                "address": A,
                "chain_id": 31337,
                "previous": [{"address": B.lower(), "chain_id": 31337, "version": 1}],
            }
        )
    )
    s = load_settings()
    expected = {TrustedDeployment(31337, A), TrustedDeployment(31337, B), TrustedDeployment(5, C)}
    assert s.trusted_deployments(31337) == frozenset(expected)
    # The contract setting is trusted on the node's chain, or DOCANCHOR_CHAIN_ID's.
    monkeypatch.setenv("DOCANCHOR_CONTRACT_ADDRESS", C)
    s = load_settings()
    assert s.trusted_deployments(None) == frozenset(expected)
    assert s.trusted_deployments(7) == frozenset(expected | {TrustedDeployment(7, C)})
    monkeypatch.setenv("DOCANCHOR_CHAIN_ID", "9")
    assert load_settings().trusted_deployments(None) == frozenset(
        expected | {TrustedDeployment(9, C)}
    )


@pytest.mark.parametrize(
    "record",
    [
        {"address": A, "chain_id": "31337"},
        {"address": A, "chain_id": 31337, "previous": {"address": B}},
        {"address": A, "chain_id": 31337, "previous": [{"address": B}]},
        {"address": A, "chain_id": 31337, "previous": [{"address": "0x12", "chain_id": 1}]},
    ],
)
def test_a_damaged_deployment_record_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: dict[str, object]
) -> None:
    monkeypatch.setenv("DOCANCHOR_DATA_DIR", str(tmp_path))
    (tmp_path / "deployment.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError) as caught:
        load_settings().trusted_deployments(31337)
    assert "deployment.json" in str(caught.value)


def test_trusted_signing_keys_in_hex_or_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    one, two = bytes(range(32)), bytes(range(32, 64))
    monkeypatch.setenv(
        "DOCANCHOR_TRUSTED_SIGNING_KEYS", f"{one.hex()}, {base64.b64encode(two).decode()}"
    )
    assert load_settings().signing_public_keys() == [one, two]

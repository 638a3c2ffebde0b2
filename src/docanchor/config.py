"""Settings shared by every command and by ``serve``.

Read once, at the edges (``cli`` and ``api``), with pydantic-settings from
``DOCANCHOR_*`` environment variables; CLI flags may override them. Nothing
else in the package reads the environment.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from docanchor.errors import ConfigError, InputError
from docanchor.receipt import TrustedDeployment, parse_trusted_contracts

DEV_CHAIN_ID = 31337
# Anvil's first development account (public knowledge; refused off chain 31337).
ANVIL_DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEPLOYMENT_FILE = "deployment.json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCANCHOR_", extra="ignore")

    data_dir: Path = Field(default=Path(".docanchor"))
    database_url: str | None = None
    rpc_url: str = "http://127.0.0.1:8545"
    public_url: str = "http://127.0.0.1:8000"
    contract_address: str | None = None
    private_key: str | None = Field(default=None, repr=False)
    keystore: Path | None = None
    keystore_password: str | None = Field(default=None, repr=False)
    keystore_password_file: Path | None = None
    confirmations: int | None = Field(default=None, ge=1, le=10_000)
    poa: bool = False
    chain_id: int | None = Field(default=None, ge=1)
    batch_max: int = Field(default=1_000_000, ge=1, le=100_000_000)
    anchor_interval: float = Field(default=60.0, gt=0, le=86_400)
    max_upload_bytes: int = Field(default=104_857_600, ge=1)
    max_fee_gwei: float | None = Field(default=None, gt=0)
    rpc_timeout: float = Field(default=10.0, gt=0, le=600)
    rpc_retry_deadline: float = Field(default=60.0, ge=0, le=3600)
    # The transaction manager (service.TxPolicy): replacement fees are at least 10 %
    # higher, as nodes require.
    tx_bump_percent: int = Field(default=20, ge=10, le=500)
    tx_max_attempts: int = Field(default=10, ge=1, le=100)
    tx_bump_after: float = Field(default=60.0, ge=0, le=86_400)
    tx_pending_wait: float = Field(default=10.0, ge=0, le=600)
    sign_receipts: bool = True
    log_json: bool = True
    # CHAIN_ID:0xADDRESS,... trusted besides the data dir's own deployment.
    trusted_contracts: str = ""
    # Receipt signing public keys (32 bytes, hex or base64), comma-separated.
    trusted_signing_keys: str = ""

    @field_validator("trusted_contracts")
    @classmethod
    def _trusted_contracts(cls, value: str) -> str:
        try:
            parse_trusted_contracts(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("trusted_signing_keys")
    @classmethod
    def _trusted_signing_keys(cls, value: str) -> str:
        try:
            parse_public_keys(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        text = value.strip()
        if not text.startswith(("http://", "https://")) or len(text) > 200:
            raise ValueError("must be an http:// or https:// URL (at most 200 characters)")
        if not text.isascii() or any(c in text for c in ' ()\\"<>?#'):
            raise ValueError("must be a plain URL, without spaces, a query or a fragment")
        return text.rstrip("/")

    @field_validator("contract_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        text = value.strip()
        if not (text.startswith("0x") and len(text) == 42):
            raise ValueError("must be a 0x-prefixed 20-byte address")
        try:
            int(text[2:], 16)
        except ValueError:
            raise ValueError("must be a 0x-prefixed 20-byte address") from None
        return text

    @field_validator("private_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        text = value.strip()
        body = text[2:] if text.startswith("0x") else text
        if len(body) != 64:
            raise ValueError("must be 32 bytes of hex")
        try:
            int(body, 16)
        except ValueError:
            raise ValueError("must be 32 bytes of hex") from None
        return "0x" + body.lower()

    # --- derived values -------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'docanchor.sqlite3').resolve()}"

    @property
    def deployment_path(self) -> Path:
        return self.data_dir / DEPLOYMENT_FILE

    @property
    def devnet_state_path(self) -> Path:
        return self.data_dir / "devnet-state.json"

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "receipt-signing-key.pem"

    def required_confirmations(self, chain_id: int) -> int:
        if self.confirmations is not None:
            return self.confirmations
        return 1 if chain_id == DEV_CHAIN_ID else 12

    def recorded_deployment(self) -> dict[str, Any] | None:
        """The deployment that ``docanchor deploy`` wrote in the data dir, if any."""
        path = self.deployment_path
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the deployment record {path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("address"), str):
            raise ConfigError(f"the deployment record {path} has no contract address")
        return data

    def trusted_deployments(self, node_chain_id: int | None = None) -> frozenset[TrustedDeployment]:
        """The deployments a verifier with these settings trusts (receipt spec step 5).

        The data dir's recorded deployment (and the ``previous`` deployments
        its record lists), ``DOCANCHOR_CONTRACT_ADDRESS`` on ``node_chain_id``
        (or ``DOCANCHOR_CHAIN_ID``) when one is known, and the entries of
        ``DOCANCHOR_TRUSTED_CONTRACTS``.
        """
        found = set(parse_trusted_contracts(self.trusted_contracts))
        record = self.recorded_deployment()
        if record is not None:
            path = self.deployment_path
            entries = [record]
            previous = record.get("previous", [])
            if not isinstance(previous, list):
                raise ConfigError(f"the deployment record {path}: 'previous' must be a list")
            entries += previous
            for entry in entries:
                try:
                    if not isinstance(entry, dict) or not {"chain_id", "address"} <= entry.keys():
                        raise InputError("an entry is not an object with chain_id and address")
                    found.add(TrustedDeployment(entry["chain_id"], entry["address"]))
                except InputError as exc:
                    raise ConfigError(f"the deployment record {path} is damaged: {exc}") from None
        chain_id = node_chain_id if node_chain_id is not None else self.chain_id
        if self.contract_address and chain_id is not None:
            found.add(TrustedDeployment(chain_id, self.contract_address))
        return frozenset(found)

    def signing_public_keys(self) -> list[bytes]:
        """The raw Ed25519 public keys of ``DOCANCHOR_TRUSTED_SIGNING_KEYS``."""
        return parse_public_keys(self.trusted_signing_keys)

    def resolved_contract_address(self) -> str | None:
        if self.contract_address:
            return self.contract_address
        record = self.recorded_deployment()
        return None if record is None else str(record["address"])

    def keystore_secret(self) -> str | None:
        if self.keystore_password is not None:
            return self.keystore_password
        if self.keystore_password_file is not None:
            try:
                return self.keystore_password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(
                    f"DOCANCHOR_KEYSTORE_PASSWORD_FILE cannot be read: {exc.strerror}"
                ) from exc
        return None


def parse_public_keys(text: str) -> list[bytes]:
    """32-byte public keys written as 64 hex characters or base64, comma-separated.

    A bad entry is named by its position (1 for the first), never echoed: the
    value sits next to secrets in the environment.
    """
    keys: list[bytes] = []
    for position, raw in enumerate(text.split(","), start=1):
        entry = raw.strip()
        if not entry:
            continue
        try:
            if len(entry) == 64:
                key = bytes.fromhex(entry)
            else:
                key = base64.b64decode(entry, validate=True)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise InputError(f"entry {position} is not a 32-byte public key in hex or base64")
        keys.append(key)
    return keys


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top.

    A bad value raises :class:`ConfigError` with one line naming the variable.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc") or ("?",)
        name = "DOCANCHOR_" + str(loc[0]).upper()
        raw = first.get("input")
        given = repr(raw) if len(repr(raw)) <= 80 else repr(raw)[:80] + "…"
        shown = "" if "key" in name.lower() or "password" in name.lower() else f" (got {given})"
        raise ConfigError(f"{name} is invalid: {first.get('msg', 'bad value')}{shown}") from None

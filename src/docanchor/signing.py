"""Ed25519 signatures on receipts, with the service key kept in the data dir.

An adapter: it reads and writes the key file. The signed bytes are the RFC 8785
form of the receipt without its ``signature`` member (``receipt.signing_payload``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from docanchor.errors import ConfigError, VerificationError
from docanchor.hashing import canonical_json_fast
from docanchor.receipt import signing_payload

ALGORITHM = "Ed25519"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()


def public_key_info(public_raw: bytes) -> dict[str, str]:
    """A public key as ``GET /v1/keys`` publishes it."""
    return {
        "alg": ALGORITHM,
        "key_id": key_id_of(public_raw),
        "public_key": base64.b64encode(public_raw).decode("ascii"),
        "public_key_hex": public_raw.hex(),
    }


class ReceiptSigner:
    """Signs receipts with one Ed25519 key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_raw = _raw_public(private_key.public_key())
        self.key_id = key_id_of(self.public_raw)

    @classmethod
    def load_or_create(cls, path: Path) -> ReceiptSigner:
        """The key at ``path``, created (mode 0600) on first use."""
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read the receipt signing key {path}: {exc}") from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise ConfigError(f"the receipt signing key {path} is not an Ed25519 key")
            return cls(key)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, path)  # never replace a key another process just made
        except FileExistsError:
            tmp.unlink()
            return cls.load_or_create(path)
        tmp.unlink()
        return cls(key)

    def sign(self, receipt_json: dict[str, Any]) -> dict[str, Any]:
        """The receipt with a ``signature`` member over the rest of it."""
        unsigned = {k: v for k, v in receipt_json.items() if k != "signature"}
        payload = canonical_json_fast(unsigned)
        if payload is None:  # values json.dumps does not write as RFC 8785 does
            payload = signing_payload(receipt_json)
        return self.sign_payload(receipt_json, payload)

    def sign_payload(self, receipt_json: dict[str, Any], payload: bytes) -> dict[str, Any]:
        """As :meth:`sign`, with the receipt's signing payload already made.

        Precondition: ``payload == signing_payload(receipt_json)`` (a caller that
        makes many receipts of one shape writes the RFC 8785 text itself).
        """
        signature = self.sign_bytes(payload)
        signed = {k: v for k, v in receipt_json.items() if k != "signature"}
        signed["signature"] = {
            "alg": ALGORITHM,
            "key_id": self.key_id,
            "value": base64.b64encode(signature).decode("ascii"),
        }
        return signed

    def sign_bytes(self, payload: bytes) -> bytes:
        """The raw Ed25519 signature of ``payload`` (a receipt's signing payload)."""
        return self._key.sign(payload)

    def public_key_info(self) -> dict[str, str]:
        return public_key_info(self.public_raw)


class LazyReceiptSigner:
    """A :class:`ReceiptSigner` whose key file is read (or created) on first use.

    Commands that issue no receipt (``status``, ``audit``, ...) then neither
    read nor create the key.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signer: ReceiptSigner | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> ReceiptSigner:
        with self._lock:
            if self._signer is None:
                self._signer = ReceiptSigner.load_or_create(self.path)
            return self._signer

    def sign(self, receipt_json: dict[str, Any]) -> dict[str, Any]:
        return self._loaded().sign(receipt_json)

    def sign_payload(self, receipt_json: dict[str, Any], payload: bytes) -> dict[str, Any]:
        return self._loaded().sign_payload(receipt_json, payload)

    def sign_bytes(self, payload: bytes) -> bytes:
        return self._loaded().sign_bytes(payload)

    @property
    def key_id(self) -> str:
        return self._loaded().key_id

    @property
    def public_raw(self) -> bytes:
        return self._loaded().public_raw

    def public_key_info(self) -> dict[str, str]:
        return self._loaded().public_key_info()


def ed25519_verify(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_raw``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_of(path: Path) -> bytes | None:
    """The raw public key of the signing key file at ``path``; None when there is none.

    Never creates the key: a verifier only reads what the service made.
    """
    if not path.is_file():
        return None
    return ReceiptSigner.load_or_create(path).public_raw


def verify_signature(receipt_json: dict[str, Any], public_raw: bytes) -> None:
    """Raises VerificationError unless the receipt's signature is valid for the key."""
    sig = receipt_json.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != ALGORITHM:
        raise VerificationError("the receipt carries no Ed25519 signature")
    try:
        value = base64.b64decode(str(sig.get("value")), validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(value, signing_payload(receipt_json))
    except (InvalidSignature, ValueError) as exc:
        raise VerificationError("the receipt's signature does not verify") from exc

"""What a verifier trusts: deployments of the anchor contract (chain id, address) and
receipt signing keys.

Pure core: see :mod:`docanchor.receipt`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from docanchor import hashing
from docanchor.errors import (
    InputError,
)
from docanchor.receipt.model import Receipt
from docanchor.vocabulary import ADDRESS, UINT64_MAX


@dataclass(frozen=True, eq=False)
class TrustedDeployment:
    """A deployment of the anchor contract: (chain id, contract address).

    Two deployments are equal when their chain ids are equal and their
    addresses are equal without regard to case (spec section 1); ``address``
    keeps the form it was given in, for messages.
    """

    chain_id: int
    address: str

    def __post_init__(self) -> None:
        if type(self.chain_id) is not int or not 1 <= self.chain_id <= UINT64_MAX:
            raise InputError(f"a chain id must be a positive integer, got {self.chain_id!r}")
        if not isinstance(self.address, str) or ADDRESS.fullmatch(self.address) is None:
            raise InputError(
                f"a contract address must be 0x followed by 40 hex characters, got {self.address!r}"
            )

    def _key(self) -> tuple[int, str]:
        return (self.chain_id, self.address.lower())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrustedDeployment):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def to_json(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "address": self.address}


def parse_trusted_contracts(text: str) -> frozenset[TrustedDeployment]:
    """Deployments from ``CHAIN_ID:0xADDRESS,CHAIN_ID:0xADDRESS,...`` text.

    Blanks around entries are ignored and an empty text is the empty set;
    anything else that is not a positive decimal chain id, a colon and a
    ``0x`` address raises :class:`InputError` naming the entry.
    """
    if not isinstance(text, str):
        raise InputError("trusted contracts must be text: CHAIN_ID:0xADDRESS,...")
    found: set[TrustedDeployment] = set()
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        chain_text, colon, address = entry.partition(":")
        chain_text, address = chain_text.strip(), address.strip()
        if not colon or not chain_text.isdecimal() or not chain_text.isascii():
            raise InputError(
                f"the entry {entry[:80]!r} is not CHAIN_ID:0xADDRESS "
                "(for example 31337:0x5FbDB2315678afecb367f032d93F642f64180aa3)"
            )
        try:
            found.add(TrustedDeployment(int(chain_text), address))
        except InputError as exc:
            raise InputError(f"the entry {entry[:80]!r}: {exc}") from None
    return frozenset(found)


# (public key, signature, message) -> whether the signature is valid. The
# cryptography lives in an adapter (docanchor.signing); the core only calls it.
SignatureVerifier = Callable[[bytes, bytes, bytes], bool]


@dataclass(frozen=True)
class TrustPolicy:
    """What a verifier trusts: deployments of the contract and receipt signing keys.

    ``deployments``: step 5 fails for any other (chain id, contract).
    ``signing_keys``: key id (SHA-256 of the raw public key, hex) -> raw
    Ed25519 public key; with ``verify_signature``, a receipt's ``signature``
    member is checked against them (the optional signature check).
    """

    deployments: frozenset[TrustedDeployment]
    signing_keys: Mapping[str, bytes] = field(default_factory=dict)
    verify_signature: SignatureVerifier | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.deployments, frozenset) or not all(
            isinstance(d, TrustedDeployment) for d in self.deployments
        ):
            raise InputError("trusted deployments must be a frozenset of TrustedDeployment")
        for key_id, public in self.signing_keys.items():
            if not isinstance(key_id, str) or type(public) is not bytes or len(public) != 32:
                raise InputError("signing keys must map key ids to 32-byte public keys")

    def trusts(self, receipt: Receipt) -> bool:
        """True when the receipt's anchor is in a trusted deployment."""
        a = receipt.anchor
        return a is not None and TrustedDeployment(a.chain_id, a.contract) in self.deployments


def trust_policy(
    deployments: Iterable[TrustedDeployment],
    signing_keys: Iterable[bytes] = (),
    verify_signature: SignatureVerifier | None = None,
) -> TrustPolicy:
    """A :class:`TrustPolicy` with each raw public key filed under its key id."""
    keys = {hashing.sha256(public).hex(): public for public in signing_keys}
    return TrustPolicy(frozenset(deployments), keys, verify_signature)

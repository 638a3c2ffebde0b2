"""The service's ports and what fulfils them: the chain client, the fake chain, the signers.

The service is typed against the protocols of ``docanchor.service.ports`` and
calls every member directly (no ``getattr`` with a fallback), so whatever is
handed in as a chain or a signer must have each member. mypy checks ``src/``
only, and ``tests/support/fakechain.py`` stands in for the chain client in the
table-driven service tests: here each member of each protocol is looked up on
each implementation, with the same parameters.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Protocol

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from docanchor.chain import ChainClient
from docanchor.chain.transactions import PreparedAnchor as ClientPrepared
from docanchor.service import (
    ChainPort,
    ChainReader,
    CheckedAnchorChain,
    PreparedAnchor,
    Signer,
)
from docanchor.signing import LazyReceiptSigner, ReceiptSigner
from tests.support.fakechain import FakeChain, FakePrepared, FakeReader

# Each protocol, and the classes that are handed to the service in its place.
FULFILLED: list[tuple[type[Any], type[Any]]] = [
    (ChainPort, ChainClient),
    (ChainPort, FakeChain),
    (ChainReader, ChainClient),
    (ChainReader, FakeReader),
    (CheckedAnchorChain, ChainClient),
    (PreparedAnchor, ClientPrepared),
    (PreparedAnchor, FakePrepared),
    (Signer, ReceiptSigner),
    (Signer, LazyReceiptSigner),
]


def members(protocol: type[Any]) -> set[str]:
    """The public members a protocol declares, its base protocols' included."""
    found: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (Protocol, object) or not getattr(cls, "_is_protocol", False):
            continue
        found |= {name for name in vars(cls) if not name.startswith("_")}
        found |= {name for name in getattr(cls, "__annotations__", {}) if not name.startswith("_")}
    return found


def parameters(function: Any) -> list[tuple[str, Any, bool]]:
    """Name, kind and whether it has a default, of each parameter."""
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()
    ]


def field_names(cls: type[Any]) -> set[str]:
    """Attributes set on instances: dataclass fields, and what ``__init__`` assigns."""
    names = set(getattr(cls, "__dataclass_fields__", {}))
    if names or "__init__" not in vars(cls):
        return names
    source = inspect.getsource(cls.__init__)
    return names | {
        line.split("self.", 1)[1].split(" ", 1)[0].split(":", 1)[0]
        for line in source.splitlines()
        if line.strip().startswith("self.") and "=" in line
    }


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    FULFILLED,
    ids=[f"{p.__name__}-{i.__module__}.{i.__name__}" for p, i in FULFILLED],
)
def test_every_member_of_a_port_is_implemented_alike(
    protocol: type[Any], implementation: type[Any]
) -> None:
    names = members(protocol)
    assert names, protocol
    for name in sorted(names):
        declared = inspect.getattr_static(protocol, name, None)
        found = inspect.getattr_static(implementation, name, None)
        if found is None:
            assert name in field_names(implementation), f"{implementation.__name__}.{name}"
            assert declared is None or isinstance(declared, property), name
            continue
        if isinstance(declared, property) or declared is None:
            # A read-only property of the port: a property or a plain attribute will do.
            assert not callable(found) or isinstance(found, property), name
            continue
        assert callable(found), f"{implementation.__name__}.{name} is not a method"
        wanted, offered = parameters(declared), parameters(found)
        # The port's parameters in their order (a default where the port has one); more
        # are allowed when they have defaults.
        where = f"{implementation.__name__}.{name}"
        assert len(offered) >= len(wanted), where
        for (name_w, kind_w, default_w), (name_o, kind_o, default_o) in zip(
            wanted, offered, strict=False
        ):
            assert (name_o, kind_o) == (name_w, kind_w), where
            assert default_o or not default_w, where
        assert all(default for _, _, default in offered[len(wanted) :]), where


def test_a_port_member_missing_from_an_implementation_is_found() -> None:
    class Partial:
        def head_number(self) -> int:
            return 1

    with pytest.raises(AssertionError, match=r"Partial\.block_hash"):
        test_every_member_of_a_port_is_implemented_alike(ChainReader, Partial)

    class OtherParameters:
        def head_number(self) -> int:
            return 1

        def block_hash(self, height: int) -> str | None:
            return None

    with pytest.raises(AssertionError, match=r"OtherParameters\.block_hash"):
        test_every_member_of_a_port_is_implemented_alike(ChainReader, OtherParameters)


def test_the_fake_chain_reads_block_timestamps_as_the_client_does() -> None:
    """Block ``n``'s timestamp, and None past the head (the client's ``BlockNotFound``)."""
    fake = FakeChain(start_block=3, genesis_time=1_790_000_000)
    head = fake.head_number()
    stamps = [fake.block_timestamp(n) for n in range(head + 1)]
    assert all(isinstance(s, int) for s in stamps)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert fake.block_timestamp(head + 1) is None
    fake.mine(1)
    newest = fake.block_timestamp(head + 1)
    assert newest is not None and newest > (stamps[-1] or 0)


def test_the_signers_sign_a_ready_payload_as_they_sign_a_receipt(tmp_path: Path) -> None:
    from docanchor.signing import signing_payload

    receipt = {"version": "docanchor-receipt/1", "status": "pending", "anchor": None}
    direct = ReceiptSigner(Ed25519PrivateKey.generate())
    lazy = LazyReceiptSigner(tmp_path / "receipt-signing.pem")
    for signer in (direct, lazy):
        port: Signer = signer
        assert len(port.public_raw) == 32
        assert port.sign_payload(receipt, signing_payload(receipt)) == port.sign(receipt)

"""The one redaction of node URLs, shared by the HTTP API and the command line."""

from __future__ import annotations

import pytest

from docanchor.redaction import origin, redact

KEYED = "https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (KEYED, "https://mainnet.infura.io"),
        ("https://alice:pa55word@node.example:8545/rpc?key=k1", "https://node.example:8545"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("http://[::1]:8545/x", "http://[::1]:8545"),
        ("http://host:notaport/x", "http://…"),
    ],
)
def test_origin_keeps_scheme_host_and_port_only(url: str, expected: str) -> None:
    assert origin(url) == expected


def test_the_configured_url_and_its_secret_parts_are_removed() -> None:
    url = "https://alice:pa55word@node.example:8545/v3/SECRETKEY?token=t0ken"
    text = (
        f"cannot reach the Ethereum node at {url}: ConnectionError; "
        "HTTPSConnectionPool: Max retries exceeded with url: /v3/SECRETKEY?token=t0ken "
        "(user alice, password pa55word)"
    )
    out = redact(text, url)
    assert out.startswith("cannot reach the Ethereum node at https://node.example:8545: ")
    for secret in ("SECRETKEY", "t0ken", "alice", "pa55word"):
        assert secret not in out


def test_any_other_url_is_reduced_to_its_origin_and_punctuation_stays() -> None:
    text = f"tried {KEYED}, then https://bob:pw@other.example/k/SECRET."
    assert redact(text) == "tried https://mainnet.infura.io, then https://other.example."
    assert redact("no URL here: 127.0.0.1:8545") == "no URL here: 127.0.0.1:8545"

"""Hostile requests against a real ``docanchor serve`` process: the process lives on.

A JSON body of 100,000 ``[`` once crashed the worker (web3 raises the recursion
limit, and the JSON decoder then overflowed the C stack: a segfault, not an
exception). A request head of any size was held in memory. Here a real server
(uvicorn with httptools, as deployed) takes each of them, answers with a problem,
and still answers ``/healthz`` and real registrations afterwards.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docanchor.api.server import MAX_HEAD_BYTES
from docanchor.devnet import free_port
from tests.support.anvil import AnvilNode
from tests.support.clihelp import DOCANCHOR, Cli
from tests.support.dbfixtures import database_kinds, fresh_database_url
from tests.support.hostileapi import ENTITY, HEX, assert_alive, assert_problem


@pytest.fixture(scope="module", params=database_kinds())
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, anvil: AnvilNode
) -> Iterator[tuple[str, str]]:
    """A running ``docanchor serve`` over each kind of database: (base URL, an entity key).

    One server per kind for the module: each test ends by checking that the
    process still answers, and the teardown that it never died."""
    tmp_path = tmp_path_factory.mktemp("served")
    with fresh_database_url(request.param, tmp_path, "s_") as database_url:
        yield from _serve(tmp_path, database_url, anvil)


def _serve(tmp_path: Path, database_url: str, anvil: AnvilNode) -> Iterator[tuple[str, str]]:
    cli = Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=anvil.rpc_url)
    key = cli.ok("keys", "create", "--role", "entity", "--entity", ENTITY, "--json").json()["key"]
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [DOCANCHOR, "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=cli.env(DOCANCHOR_ANCHOR_INTERVAL="3600"),
            cwd=tmp_path,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        yield base, key
        assert process.poll() is None, "the server died:\n" + log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


FLOOD = b"[" * 100_000


def test_a_bracket_flood_is_a_422_on_every_endpoint_and_the_process_lives(
    served: tuple[str, str],
) -> None:
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    json_type = {"Content-Type": "application/json"}
    with httpx.Client(base_url=base, timeout=30) as http:
        for path, headers, words in (
            ("/v1/documents/bulk", auth, "nested 100000 levels"),
            ("/v1/documents", auth, "nested 100000 levels"),
            # The receipt check does not count the body's own object around the receipt.
            ("/v1/receipts/verify", {}, "the receipt is nested 99999 levels"),
        ):
            response = http.post(path, content=FLOOD, headers={**headers, **json_type})
            assert_problem(response, 422, words)
            assert_alive(http)
        small = http.post("/v1/verify", content=b"[" * 4000, headers=json_type)
        assert_problem(small, 422, "nested 4000 levels")
        form = http.post(
            "/v1/documents",
            files={"file": ("a.pdf", b"%PDF-1.7", "application/pdf")},
            data={"metadata": "[" * 60_000},
            headers=auth,
        )
        assert_problem(form, 422, "nested 60000 levels")
        assert_alive(http)
        # Nothing was lost: a registration made now is answered, and found.
        made = http.post("/v1/documents", json={"sha256": HEX}, headers=auth)
        assert made.status_code == 201, made.text
        found = http.post("/v1/verify", json={"sha256": HEX}).json()
        assert found["status"] == "pending"


def _raw_request(base: str, head: bytes) -> bytes:
    """Send ``head`` on a fresh connection and read until the server closes it."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_oversized_request_head_is_431_and_the_process_lives(
    served: tuple[str, str],
) -> None:
    base, key = served
    # One header just over the cap, sent without the blank line that would end the
    # head: the server refuses it without waiting for the rest.
    big = b"GET /v1/keys HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD_BYTES
    answer = _raw_request(base, big)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer[:300]
    assert b"x-content-type-options: nosniff" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == 431 and problem["title"] == "Request Header Fields Too Large"
    assert str(MAX_HEAD_BYTES) in problem["detail"]
    # Many headers that add up past the cap are refused the same way.
    many = b"GET /v1/keys HTTP/1.1\r\nHost: x\r\n" + b"X-Many: abcdefghij\r\n" * 3000
    assert _raw_request(base, many).startswith(b"HTTP/1.1 431 ")
    with httpx.Client(base_url=base, timeout=30) as http:
        assert_alive(http)
        # A head under the cap and a body far larger than it are fine.
        roomy = http.get("/v1/keys", headers={"X-Note": "b" * (MAX_HEAD_BYTES // 2)})
        assert roomy.status_code == 200, roomy.text
        bulk = {"documents": [{"sha256": f"{n:064x}"} for n in range(2000)]}
        made = http.post(
            "/v1/documents/bulk", json=bulk, headers={"Authorization": f"Bearer {key}"}
        )
        assert made.status_code == 200, made.text
        assert made.json()["created"] == 2000

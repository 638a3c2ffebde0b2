"""``docanchor serve --workers 2`` as a real process: each request is logged
once, and ``/docs`` works offline (its Swagger UI assets come from the app).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docanchor.devnet import free_port
from tests.support.anvil import AnvilNode
from tests.support.clihelp import DOCANCHOR, Cli

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, anvil: AnvilNode
) -> Iterator[tuple[str, Path]]:
    """A ``serve --workers 2`` on a free port: (base URL, its stderr log file).

    One server for the module: its tests only read (keys, the docs page) and
    tell their requests apart by request id."""
    tmp_path = tmp_path_factory.mktemp("served")
    cli = Cli(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'docanchor.sqlite3'}",
        rpc_url=anvil.rpc_url,
    )
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [DOCANCHOR, "serve", "--port", str(port), "--workers", "2"],
            env=cli.env(DOCANCHOR_LOG_JSON="true"),
            stdout=log,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log_path.read_text(errors="replace")
                try:
                    httpx.get(f"{base}/v1/keys", timeout=2)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log_path.read_text(errors="replace")
                    time.sleep(0.2)
            yield base, log_path
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def lines_with(log_path: Path, request_id: str) -> list[dict[str, object]]:
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        if request_id in line:
            found.append(json.loads(line))
    return found


def test_each_request_is_logged_once_with_workers(served: tuple[str, Path]) -> None:
    base, log_path = served
    ids = [f"once-{n}" for n in range(6)]
    for request_id in ids:
        answer = httpx.get(f"{base}/v1/keys", headers={"X-Request-ID": request_id}, timeout=10)
        assert answer.status_code == 200
    deadline = time.monotonic() + 10
    while not all(lines_with(log_path, i) for i in ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for request_id in ids:
        lines = lines_with(log_path, request_id)
        assert len(lines) == 1, lines
        assert lines[0]["logger"] == "docanchor.http" and lines[0]["status"] == 200


def test_docs_load_nothing_from_another_host(served: tuple[str, Path]) -> None:
    base, _log = served
    page = httpx.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200
    assert re.search(r"https?://", page.text) is None, page.text
    links = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    assert links and all(link.startswith("/") for link in links), links
    for link in links:
        asset = httpx.get(f"{base}{link}", timeout=10)
        assert asset.status_code == 200, link
        assert len(asset.content) > 100, link
    assert httpx.get(f"{base}/docs/assets/../../etc/passwd", timeout=10).status_code == 404
    missing = httpx.get(f"{base}/docs/assets/nothing.js", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_docs_render_in_a_browser_offline(served: tuple[str, Path]) -> None:
    base, _log = served
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    from playwright.sync_api import Route, sync_playwright

    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            headless=True,
        )
        try:
            page = browser.new_page()
            page.route("**/*", only_this_server)
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert any("/v1/verify" in p for p in paths), paths
    assert elsewhere == []

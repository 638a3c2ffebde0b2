"""The browser tests' fixtures: a database for each module, Debian's Chromium, and a
tab on the module's ``site`` (a fixture each module defines, with a ``base_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.dbfixtures import database_kinds, fresh_database_url
from tests.support.webserve import CHROMIUM, CHROMIUM_ARGS, UI_TIMEOUT_MS, SentRequest, Tab

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Request


@pytest.fixture(scope="module", params=database_kinds())
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One empty database of each kind for this module (the setup is shared by its tests)."""
    with fresh_database_url(request.param, tmp_path_factory.mktemp("webdb"), "w_") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def tab(browser: Browser, site: Any) -> Iterator[Tab]:
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, base_url=site.base_url
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base_url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    page = context.new_page()
    sent: list[SentRequest] = []

    def record(request: Request) -> None:
        sent.append(SentRequest(request.method, request.url, request.post_data_buffer or b""))

    page.on("request", record)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    try:
        yield Tab(page, sent)
    finally:
        context.close()
    assert not errors, f"the page reported errors: {errors}"

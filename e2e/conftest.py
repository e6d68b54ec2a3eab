"""Browser tests: Playwright's sync API driving Debian's chromium against pytest-django's
live server.

One browser per session, a fresh context (cookies, storage) per test. Every page a test
opens is watched: a request that leaves the live server's origin or a Content Security
Policy violation fails the test at teardown, whatever the test itself checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# Playwright's sync API runs an asyncio loop in this thread; Django would otherwise refuse
# ORM calls made from the test body (factories) while that loop exists.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = os.environ.get("AUTOCRM_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Chromium is started lazily; skip clearly instead of erroring when it is missing.
    if not os.path.exists(CHROMIUM):
        skip = pytest.mark.skip(reason=f"chromium not found at {CHROMIUM}")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What the browser did while a test ran."""

    origin: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.origin)]


def _watch(page: Page, watch: PageWatch) -> None:
    page.on("request", lambda request: watch.requests.append(request.url))

    def on_console(message: Any) -> None:
        if message.type == "error":
            watch.console_errors.append(message.text)
            if "Content Security Policy" in message.text:
                watch.csp_violations.append(message.text)

    page.on("console", on_console)


@pytest.fixture
def watch(live_server: Any) -> PageWatch:
    return PageWatch(origin=live_server.url)


@pytest.fixture
def new_context(browser: Browser, watch: PageWatch) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        # A Russian-speaking employee's browser; Russian is also the site default.
        options.setdefault("locale", "ru-RU")
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        # Report CSP violations even when chromium does not log them to the console.
        context.add_init_script(
            "document.addEventListener('securitypolicyviolation', function (event) {"
            "  console.error('Content Security Policy violation: ' + event.violatedDirective"
            "    + ' ' + event.blockedURI);"
            "});"
        )
        context.on("page", lambda page: _watch(page, watch))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert watch.foreign_requests() == [], "requests left the live server's origin"
    assert watch.csp_violations == [], "Content Security Policy violations"


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


@pytest.fixture
def login(live_server: Any) -> Callable[[Page, str], None]:
    from autocrm.accounts.tests.factories import TEST_PASSWORD

    def do_login(page: Page, username: str, password: str = TEST_PASSWORD) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

    return do_login

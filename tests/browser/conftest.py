"""Fixtures for browser tests: the registry on a real HTTP server, and Debian's Chromium via Playwright."""

import contextlib
import shutil
import threading

import pytest
from waitress.server import create_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's own notes advise: no background networking in a closed network.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextlib.contextmanager
def serving(app):
    """Serve app over real HTTP on a free loopback port; yield its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=10)


@pytest.fixture
def live_server(reviewed):
    """Serve the reviewed registry over real HTTP on a free loopback port; yield its base URL."""
    with serving(reviewed) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A browser tab; at the end, the test fails if the page broke its own Content-Security-Policy."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    refused: list[str] = []
    opened.on(
        "console",
        lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield opened
    context.close()
    assert refused == [], f"the page broke its Content-Security-Policy: {refused}"


@pytest.fixture
def axe():
    """Return a check that runs axe-core's WCAG 2.2 A and AA rules on a page and fails on any violation."""
    from axe_playwright_python.sync_playwright import Axe

    runner = Axe()
    options = {
        "runOnly": {
            "type": "tag",
            "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
        },
        "resultTypes": ["violations"],
    }

    def check(page) -> None:
        results = runner.run(page, options=options)
        assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"

    return check

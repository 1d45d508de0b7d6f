"""Fixtures for browser tests: the registry on a real HTTP server, and Debian's Chromium via Playwright."""

import contextlib
import shutil
import threading
from urllib.parse import urlsplit

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
        # Close the sockets from inside the server's own loop, which then has nothing left to
        # watch and returns: closed from this thread, they vanish under its select().
        server.trigger.pull_trigger(lambda: _close_every_channel(server))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()


def _close_every_channel(server) -> None:
    for channel in list(server._map.values()):
        channel.close()


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


class Watch:
    """What a tab's pages did wrong: Content-Security-Policy refusals and requests answering 404."""

    def __init__(self, tab, *, not_found: tuple[str, ...] = ()):
        self.refused: list[str] = []
        self.missing: list[str] = []
        # Paths whose page is a deliberate 404 (the error page); its assets must still load.
        self.not_found = not_found
        tab.on("console", self._console)
        tab.on("response", self._response)

    def _console(self, msg) -> None:
        if "Content Security Policy" in msg.text:
            self.refused.append(msg.text)

    def _response(self, response) -> None:
        if response.status != 404:
            return
        request = response.request
        deliberate = request.is_navigation_request() and urlsplit(response.url).path in (
            self.not_found
        )
        if not deliberate:
            self.missing.append(f"{request.resource_type} {response.url}")

    def check(self) -> None:
        assert self.refused == [], f"the page broke its Content-Security-Policy: {self.refused}"
        assert self.missing == [], f"requests answered 404: {self.missing}"


@pytest.fixture
def tabs(browser):
    """Return a factory for browser tabs; at the end, fail if any broke its CSP or met a 404."""
    opened: list[tuple[object, Watch]] = []

    def factory(*, width=1100, height=900, not_found=(), **context_options):
        context = browser.new_context(
            viewport={"width": width, "height": height}, **context_options
        )
        tab = context.new_page()
        opened.append((context, Watch(tab, not_found=tuple(not_found))))
        return tab

    yield factory
    for context, _watch in opened:
        context.close()
    for _context, watch in opened:
        watch.check()


@pytest.fixture
def page(tabs):
    """A browser tab, 1100 by 900; the test fails if a page broke its CSP or a request met a 404."""
    return tabs()


@pytest.fixture
def axe():
    """Return a check that runs axe-core's WCAG 2.2 A and AA rules and its best practices on a page."""
    from axe_playwright_python.sync_playwright import Axe

    runner = Axe()
    options = {
        "runOnly": {
            "type": "tag",
            "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
        },
        "resultTypes": ["violations"],
    }

    def check(page) -> None:
        results = runner.run(page, options=options)
        assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"

    return check

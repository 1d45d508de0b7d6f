"""Every kind of page, at a desk and on a phone: axe-core clean, best practices included, no 404."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serving
from tests.conftest import PASSWORD

NOT_FOUND = "/no-such-page"
# By id in the small fixture registry: 1 is a suggestion (staff only), 3 is recommended.
PUBLIC_PAGES = (
    "/", "/?q=bipolar", "/?condition=bipolar&kind=app&offline=1", "/?show=all&q=bipolar",
    "/resources/3", "/guidance", "/guidance/digital-divide", "/sign-in", NOT_FOUND,
)  # fmt: skip
STAFF_PAGES = (
    "/", "/?status=unreviewed", "/resources/1", "/resources/3", "/resources/3/history",
    "/resources/3/report", "/resources/1/review", "/resources/3/review", "/resources/3/edit",
    "/review", "/review?kind=suggestion", "/review/dashboard", "/suggest", "/account/password",
    "/account/tokens", "/admin/users", "/guidance/digital-divide/edit", "/handout", NOT_FOUND,
)  # fmt: skip


def _recording(app, answered: list[tuple[str, int]]):
    """Wrap a WSGI app so that every request it answers is noted: what the browser asked for."""

    def wsgi(environ, start_response):
        def start(status, headers, exc_info=None):
            answered.append((environ["PATH_INFO"], int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


@pytest.fixture
def answered(reviewed):
    """The registry served with a note of every request's path and status; yield (base, notes)."""
    notes: list[tuple[str, int]] = []
    with serving(_recording(reviewed, notes)) as base:
        yield base, notes


def _walk(tab, base: str, paths, axe) -> None:
    for path in paths:
        response = tab.goto(base + path)
        assert response.status == (404 if path == NOT_FOUND else 200), path
        expect(tab.get_by_role("main")).to_be_visible()
        axe(tab)
        if tab.viewport_size["width"] == 320:
            overflow = tab.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 320px"


@pytest.mark.parametrize("width", [1100, 320])
def test_every_page_is_accessible_and_asks_for_nothing_missing(answered, tabs, axe, width):
    base, notes = answered
    tab = tabs(width=width, height=900, not_found=(NOT_FOUND,))
    _walk(tab, base, PUBLIC_PAGES, axe)
    tab.goto(base + "/?q=voices")
    tab.get_by_role("button", name=re.compile("^Add to handout")).click()
    _walk(tab, base, ("/handout",), axe)

    tab.goto(base + "/sign-in")
    tab.get_by_label("Email address").fill("admin@example.org")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.locator(".registry-nav__account")).to_contain_text("admin@example.org")
    _walk(tab, base, STAFF_PAGES, axe)

    missing = sorted({path for path, status in notes if status == 404 and path != NOT_FOUND})
    assert missing == [], f"the server answered 404 to {missing}"
    assert ("/favicon.ico", 404) not in notes

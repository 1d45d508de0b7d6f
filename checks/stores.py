"""App-store listings: does the App Store or Google Play still show the entry's app?"""

from __future__ import annotations

import re

from checks import net, signals, versions
from checks import page as pages
from checks.fetch import Fetched, Fetcher
from checks.report import Store
from checks.settings import CheckSettings

# Which field of an entry holds which store's link. The kind comes from the field, never from
# the host: a link may be a short link or a regional mirror (and tests point it at loopback).
FIELDS = {"ios_url": "app_store", "android_url": "google_play"}

SHORT_PAGE = 4000  # characters of visible text; a store's "not available" page is short
_APOSTROPHE = "['’]"

# Said only by a store's own "gone" page: trusted anywhere in the visible text.
_GONE_SURELY = re.compile(
    r"(this )?app is (currently )?not available in your country( or region)?|"
    r"not available in your (country|region)|"
    rf"we{_APOSTROPHE}re sorry, the requested url was not found on this server|"
    r"the requested url was not found on this server|"
    r"(this|the) app (is )?no longer available|"
    r"(this|the) (app|item) (you (were|are) looking for )?(is|was) not found|"
    r"(this|the) app (is )?(currently )?(unavailable|not available)",
    re.I,
)
# Wordings a real listing may use too (in a review, in its description): trusted only in the
# title or main heading, or on a short page.
_GONE_MAYBE = re.compile(
    r"\bitem not found\b|\bapp not found\b|no longer available|not available|"
    r"(page|url) (was )?not found|\bnot found\b",
    re.I,
)
_TEXT_SCAN = 20_000


def links(ios_url: str | None, android_url: str | None) -> list[tuple[str, str]]:
    """List the (store, url) pairs of an entry's store links, App Store first."""
    given = {"ios_url": ios_url, "android_url": android_url}
    return [(store, given[name]) for name, store in FIELDS.items() if given[name]]  # type: ignore[misc]


def says_gone(page: pages.Page) -> str | None:
    """Return what a store page says that shows the app is gone, or None."""
    for text in (page.title, page.h1, page.text[:_TEXT_SCAN]):
        m = _GONE_SURELY.search(text or "")
        if m:
            return m.group(0)
    short = len(page.text) < SHORT_PAGE
    for text in (page.title, page.h1, page.text if short else ""):
        m = _GONE_MAYBE.search((text or "")[:_TEXT_SCAN])
        if m:
            return m.group(0)
    return None


def assess(store: str, url: str, fetched: Fetched, fx: Fetcher) -> Store:
    """Classify a fetched store link as listed, removed, unreachable or blocked."""
    resp = fetched.response
    found = Store(store, url, "unreachable", http_status=resp.status if resp else None)
    if resp is None:
        err = fetched.error
        found.detail = err.message if err else "no answer"
        return found
    status = resp.status
    tries = f" after {resp.attempts} attempts" if resp.attempts > 1 else ""
    note = f"; {resp.note}" if resp.note else ""
    challenge = signals.challenge_evidence(status, resp.headers, resp.body)
    if challenge:
        found.status, found.detail = "blocked", f"the store challenged the checker: {challenge}"
    elif status in (404, 410):
        found.status, found.detail = "removed", f"the listing answers {status}"
    elif status in (401, 403, 407):
        found.status, found.detail = "blocked", f"the store refused the checker (HTTP {status})"
    elif status == 429:
        found.status = "blocked"
        found.detail = f"the store kept answering 429 Too Many Requests{tries}{note}"
    elif status >= 500:
        found.detail = f"the store answered HTTP {status}{tries}{note}"
    elif not 200 <= status < 300:
        found.detail = f"the store answered HTTP {status}, not the listing"
    else:
        page = pages.of_response(resp, fx.deadline)
        gone = says_gone(page) if page else None
        if gone:
            found.status, found.detail = "removed", f"the store says {gone!r}"
        else:
            found.status, found.detail = "listed", resp.note
            if store == "app_store":
                versions.look_up(found, fetched, fx)
            else:
                found.last_updated, found.version = versions.play_version(resp)
    return found


def check(
    store: str, url: str, *, settings: CheckSettings, limiter: net.Limiter | None = None
) -> Store:
    """Check one store link within its own deadline, which starts now."""
    limiter = limiter or net.Limiter(settings.max_concurrency, settings.max_per_host)
    fx = Fetcher(net.NetContext(settings, net.Deadline(settings.deadline)), limiter)
    try:
        return assess(store, url, fx.get(url), fx)
    finally:
        fx.close()

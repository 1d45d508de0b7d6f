"""Liveness: is the resource up, down, unreachable, blocked, parked or a soft 404?"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit, urlunsplit

from checks import page as pages
from checks import signals
from checks.fetch import Fetched, Fetcher
from checks.report import Liveness

PROBE_CAP = 256 * 1024
SHORT_PAGE = 4000  # characters of visible text
_DOWN_ERRORS = frozenset({"redirect_loop", "too_many_redirects", "bad_redirect"})
_INDEX = re.compile(r"/(index|default|home)(\.\w+)?$", re.I)
_WORD = re.compile(r"\w+")


def _words(text: str, *drop: str) -> set[str]:
    words = set(_WORD.findall(text.casefold()[:50_000]))
    for d in drop:
        words -= set(_WORD.findall(d.casefold()))
    return words


def similarity(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two word sets (1.0 for two empty pages)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _probe_url(final_url: str) -> tuple[str, str]:
    parts = urlsplit(final_url)
    # A sibling of the page: for /apps/ that is /x, not /apps/x, which a listing may answer
    directory = parts.path.rstrip("/").rsplit("/", 1)[0] + "/"
    token = f"registry-check-{secrets.token_hex(8)}"
    return urlunsplit((parts.scheme, parts.netloc, directory + token, "", "")), token


def soft_404(url: str, fetched: Fetched, page: pages.Page, fx: Fetcher, verify: bool) -> str | None:
    """Say why a page that answered 200 means "not found", or None when it is a real page."""
    path = urlsplit(url).path
    deep = path not in ("", "/") and not _INDEX.search(path)
    # Not-found pages are short; a long page with an odd title is a real page.
    page_says = signals.says_not_found(page.title, page.h1) and len(page.text) < SHORT_PAGE
    said = f"the page is titled {page.title or page.h1!r}"
    probe_url, token = _probe_url(fetched.final_url)
    probe = fx.get(probe_url, verify=verify, cap=PROBE_CAP, retry=False)
    pr = probe.response
    if pr is None or not 200 <= pr.status < 300:
        return f"{said} though it answered 200" if page_says else None
    if deep and fetched.hops and probe.hops and pr.url == fetched.final_url:
        return f"it redirects to {pr.url}, as a path that cannot exist does"
    probe_page = pages.of_response(pr, fx.deadline)
    if probe_page is None:
        return f"{said} though it answered 200" if page_says else None
    alike = similarity(_words(page.text, path), _words(probe_page.text, token, probe_url)) >= 0.9
    if alike and (page_says or signals.says_not_found(probe_page.title, probe_page.h1)):
        return "it is the page the site shows for a path that cannot exist"
    app_shell = page.has_scripts and len(page.text) < 200
    if alike and deep and not app_shell and page.title == probe_page.title:
        return "it is the same page the site shows for a path that cannot exist"
    if page_says and not alike:
        return f"{said} though it answered 200"
    return None


def assess(url: str, fetched: Fetched, fx: Fetcher, *, verify: bool = True):
    """Classify a fetched URL; return the Liveness and, when it is up, its parsed page."""
    resp = fetched.response
    live = Liveness(
        status="up",
        http_status=resp.status if resp else None,
        redirects=len(fetched.hops),
        elapsed_ms=fetched.elapsed_ms,
    )
    chain = [h.url for h in fetched.hops] + [fetched.final_url]
    parking = next((u for u in chain if signals.is_parking_host(urlsplit(u).hostname or "")), None)
    if parking:
        live.status, live.detail = "parked", f"redirects to a domain-parking service ({parking})"
        return live, None
    if fetched.error or resp is None:
        err = fetched.error
        live.status = "down" if err and err.kind in _DOWN_ERRORS else "unreachable"
        live.detail = err.message if err else "no answer"
        return live, None
    status, tries = resp.status, f" after {resp.attempts} attempts" if resp.attempts > 1 else ""
    challenge = signals.challenge_evidence(status, resp.headers, resp.body)
    if challenge:
        live.status, live.detail = "blocked", f"the site challenged the checker: {challenge}"
    elif status in (401, 403, 407):
        live.status, live.detail = "blocked", f"the site refused the checker (HTTP {status})"
    elif status == 429:
        live.status = "blocked"
        live.detail = f"the site kept answering 429 Too Many Requests{tries}"
        live.detail += f"; {resp.note}" if resp.note else ""
    elif status >= 500:
        live.status, live.detail = "down", f"server error HTTP {status}{tries}"
        live.detail += f"; {resp.note}" if resp.note else ""
    elif status >= 400:
        live.status, live.detail = "down", f"HTTP {status}"
    elif status >= 300 or status < 200:
        live.status, live.detail = "down", f"HTTP {status} without a usable redirect"
    if live.status != "up":
        return live, None
    page = pages.of_response(resp, fx.deadline)
    if page is None:
        live.detail = resp.note
        return live, None
    refresh_host = urlsplit(page.refresh_url).hostname or ""
    evidence = (
        f"it refreshes to a domain-parking service ({page.refresh_url})"
        if page.refresh_url and signals.is_parking_host(refresh_host)
        else signals.parking_evidence(page.html, page.text)
    )
    if evidence:
        live.status, live.detail = "parked", f"a parked or for-sale domain: {evidence}"
        return live, None
    why = soft_404(url, fetched, page, fx, verify)
    if why:
        live.status, live.detail = "soft_404", f"answers 200 but means not found: {why}"
        return live, page
    live.detail = resp.note
    return live, page

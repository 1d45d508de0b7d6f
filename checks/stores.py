"""App-store listings: does the App Store or Google Play still show the entry's app?"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from checks import net, signals
from checks import page as pages
from checks.fetch import Fetched, Fetcher, Response
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

# The App Store lookup: the app's id is in the link's path ("id" and digits), its country the
# path's first segment when that is two letters (/gb/app/...).
_APP_ID = re.compile(r"^id(\d{1,15})$")
_COUNTRY = re.compile(r"^/([A-Za-z]{2})/")
LOOKUP_CAP = 512 * 1024  # one app's lookup answer is a few kilobytes
# A version as stores show one: "3.2", "2024.11.05 (1234)", "7.0.1-beta"; never "Varies with
# device", which has no digit.
_VERSION_TEXT = r"[0-9A-Za-z][0-9A-Za-z .+_()/-]{0,63}"
_VERSION = re.compile(_VERSION_TEXT)
_EARLIEST = date(2008, 7, 1)  # both stores opened in 2008: an earlier date is not an update

# Google Play's "About this app" shows the date in an element of its own after a label element,
# "<div>Updated on</div><div>Nov 12, 2025</div>": reading the label's own element (not the text
# run together) keeps a date in the app's description from being taken for it. Bounded
# quantifiers, each part starting where the last cannot go on: linear time on any page.
_SP = r"[\s\xa0]"
_MONTH = r"[A-Za-z]{3,9}\.?"
_DATE = (
    rf"(?:(?P<m1>{_MONTH}){_SP}{{1,3}}(?P<d1>\d{{1,2}}),?{_SP}{{1,3}}(?P<y1>\d{{4}})|"
    rf"(?P<d2>\d{{1,2}}){_SP}{{1,3}}(?P<m2>{_MONTH}),?{_SP}{{1,3}}(?P<y2>\d{{4}})|"
    r"(?P<iso>\d{4}-\d{2}-\d{2}))"
)
_TAGS = r"(?:<[^<>]{0,400}>\s{0,40}){0,8}"
_UPDATED = re.compile(rf">\s{{0,40}}Updated(?: on)?:?\s{{0,40}}{_TAGS}{_DATE}\s{{0,40}}<")
_VERSION_LABEL = re.compile(
    rf">\s{{0,40}}(?:Current )?Version:?\s{{0,40}}{_TAGS}(?P<v>{_VERSION_TEXT}?)\s{{0,40}}<"
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FULL_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "sept", "october", "november", "december")  # fmt: skip
# Google Play's own data, in <script> AF_initDataCallback({key: 'ds:5', data: [...], ...}):
# the app's version at [1][2][140][0][0][0], its last update (epoch seconds) at [1][2][145][0][1][0]
# (where google-play-scraper reads them too).
_BLOB = "AF_initDataCallback("
_BLOB_DATA = re.compile(r"\bdata: ?")
_MAX_BLOBS = 64
_PLAY_HTML_SCAN = 4 * 1024 * 1024  # bytes of the listing searched: its data sits near the end
_PLAY_VERSION_AT = (1, 2, 140, 0, 0, 0)
_PLAY_UPDATED_AT = (1, 2, 145, 0, 1, 0)


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
                _look_up(found, fetched, fx)
            else:
                found.last_updated, found.version = play_version(resp)
    return found


def _add(found: Store, note: str) -> None:
    found.detail = f"{found.detail}; {note}" if found.detail else note


def _plausible(day: date) -> date | None:
    """Return the date if a store could have given it for an update, else None."""
    return day if _EARLIEST <= day <= datetime.now(UTC).date() + timedelta(days=2) else None


def _version(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if _VERSION.fullmatch(value) and any(c.isdigit() for c in value):
        return value
    return None


def app_id_and_country(url: str) -> tuple[str, str | None] | None:
    """Read an App Store link's app id and two-letter country ('gb'), or None without an id."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    for segment in path.split("/"):
        m = _APP_ID.match(segment)
        if m:
            country = _COUNTRY.match(path)
            return m.group(1), country.group(1).lower() if country else None
    return None


def lookup_url(base: str, app_id: str, country: str | None) -> str:
    """Return the lookup address for one app, in one country's store when it is known."""
    query = urlencode({"id": app_id, **({"country": country} if country else {})})
    return f"{base}{'&' if '?' in base else '?'}{query}"


def _look_up(found: Store, fetched: Fetched, fx: Fetcher) -> None:
    """Fill a listed App Store link's version and date from Apple's lookup; note what failed.

    The listing page has decided the status already: nothing the lookup says changes it.
    """
    # A short link names the app only once it has redirected to the listing.
    ids = app_id_and_country(found.url) or app_id_and_country(fetched.final_url)
    if ids is None:
        _add(found, "the link gives no App Store id (id and digits), so no version was looked up")
        return
    app_id, country = ids
    cap = min(fx.settings.max_body_bytes, LOOKUP_CAP)
    got = fx.get(lookup_url(fx.settings.app_store_lookup, app_id, country), cap=cap)
    resp = got.response
    if resp is None:
        err = got.error
        _add(found, f"the App Store lookup failed ({err.message if err else 'no answer'})")
        return
    if not 200 <= resp.status < 300:
        tries = f" after {resp.attempts} attempts" if resp.attempts > 1 else ""
        _add(found, f"the App Store lookup answered HTTP {resp.status}{tries}")
        return
    if resp.truncated:
        _add(
            found, f"the App Store lookup answered more than the {cap // 1024} KB the checker reads"
        )
        return
    answer = _lookup_answer(resp)
    if answer is None:
        _add(found, "the App Store lookup did not answer with JSON the checker could read")
        return
    if not answer:
        where = f"the {country.upper()} store" if country else "the store"
        _add(found, f"the App Store lookup knows no app {app_id} in {where}")
        return
    mine = next((r for r in answer if str(r.get("trackId")) == str(int(app_id))), None)
    if mine is None:
        _add(found, f"the App Store lookup did not answer for app {app_id}")
        return
    found.version = _version(mine.get("version"))
    found.last_updated = _release_day(mine.get("currentVersionReleaseDate"))
    missing = [
        what
        for what, value in (("version", found.version), ("date", found.last_updated))
        if value is None
    ]
    if missing:
        _add(found, f"the App Store lookup gave no current {' or '.join(missing)}")


def _lookup_answer(resp: Response) -> list[dict] | None:
    """Return the lookup's results (empty: no such app), or None when it is not a lookup answer."""
    try:
        data = json.loads(resp.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        return None
    count = data.get("resultCount")
    if count == 0 or not data["results"]:
        return []
    return [r for r in data["results"] if isinstance(r, dict)] or None


def _release_day(value: object) -> str | None:
    """Read Apple's currentVersionReleaseDate ('2026-08-01T07:00:00Z') as an ISO date in UTC."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    day = _plausible(when.date())
    return day.isoformat() if day else None


def play_version(resp: Response) -> tuple[str | None, str | None]:
    """Read a Google Play listing's last update (ISO date) and version, each None if not shown."""
    if not resp.is_html:
        return None, None
    html = pages.decode(resp.body[:_PLAY_HTML_SCAN], resp.headers.get("Content-Type", ""))
    version, updated = _play_data(html)
    if version is None:
        m = _VERSION_LABEL.search(html)
        version = _version(m["v"]) if m else None
    return _updated_label(html) or updated, version


def _month(name: str) -> int | None:
    name = name.rstrip(".").lower()
    if any(full.startswith(name) for full in _FULL_MONTHS) and name[:3] in _MONTHS:
        return _MONTHS.index(name[:3]) + 1
    return None


def _updated_label(html: str) -> str | None:
    """Find the date the About section shows after its "Updated on" label."""
    for m in _UPDATED.finditer(html):
        try:
            if m["iso"]:
                day = date.fromisoformat(m["iso"])
            else:
                month = _month(m["m1"] or m["m2"])
                if month is None:
                    continue
                day = date(int(m["y1"] or m["y2"]), month, int(m["d1"] or m["d2"]))
        except ValueError:
            continue
        if _plausible(day):
            return day.isoformat()
    return None


def _at(data: object, path: tuple[int, ...]) -> object:
    for i in path:
        if not isinstance(data, list) or len(data) <= i:
            return None
        data = data[i]
    return data


def _play_data(html: str) -> tuple[str | None, str | None]:
    """Read the version and last update from the page's AF_initDataCallback data, if there."""
    decoder, start = json.JSONDecoder(), 0
    for _ in range(_MAX_BLOBS):
        at = html.find(_BLOB, start)
        if at < 0:
            break
        start = at + len(_BLOB)
        m = _BLOB_DATA.search(html, start, start + 300)
        if m is None:
            continue
        try:
            data, end = decoder.raw_decode(html, m.end())
        except (ValueError, RecursionError):
            continue
        start = end  # markers inside this blob's data are its own text, not blobs
        shown = _at(data, _PLAY_VERSION_AT)
        if not isinstance(shown, str):  # not the app's details
            continue
        version = _version(shown)  # None for "Varies with device"
        stamp = _at(data, _PLAY_UPDATED_AT)
        day = None
        if isinstance(stamp, int) and not isinstance(stamp, bool) and 0 < stamp < 2**40:
            day = _plausible(datetime.fromtimestamp(stamp, UTC).date())
        return version, day.isoformat() if day else None
    return None, None


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

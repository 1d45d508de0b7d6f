"""What a store says of an app's current version: the App Store's lookup, Google Play's page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from checks import page as pages
from checks.fetch import Fetched, Fetcher, Response
from checks.report import Store

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


def look_up(found: Store, fetched: Fetched, fx: Fetcher) -> None:
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

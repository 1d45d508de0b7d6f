"""What clinicians need at a glance: the standing review and the latest checks, in words."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Row, bindparam, func
from sqlmodel import Session, select

from registry.db import aware, utcnow
from registry.entries import visibility
from registry.models import CheckResult, Resource, Review
from registry.vocab import STANDING_STAGES

# The statements of the catalogue's pages, built once: building one anew costs about as much as
# running it. `ids` expands to the list given.
_LATEST_REVIEWS = select(Review).where(
    Review.id.in_(  # type: ignore[union-attr]
        select(func.max(Review.id))
        .where(
            Review.resource_id.in_(bindparam("ids", expanding=True)),  # type: ignore[attr-defined]
            Review.stage.in_(STANDING_STAGES),  # type: ignore[attr-defined]
        )
        .group_by(Review.resource_id)
    )
)
_LATEST_CHECKS = select(CheckResult).where(
    CheckResult.id.in_(  # type: ignore[union-attr]
        select(func.max(CheckResult.id))
        .where(CheckResult.resource_id.in_(bindparam("ids", expanding=True)))  # type: ignore[attr-defined]
        .group_by(CheckResult.resource_id)
    )
)
# What the history table and chart show of each result: not its report, which is read only for
# the newest (reading 30 reports cost an entry page more than the rest of its statements).
_HISTORY = (
    select(
        CheckResult.id,
        CheckResult.checked_at,
        CheckResult.verdict,
        CheckResult.liveness_status,
        CheckResult.https_status,
        CheckResult.privacy_status,
    )
    .where(CheckResult.resource_id == bindparam("entry_id"))
    .order_by(CheckResult.id.desc())  # type: ignore[union-attr]
    .limit(bindparam("limit"))
)
_LATEST = (
    select(CheckResult)
    .where(CheckResult.resource_id == bindparam("entry_id"))
    .order_by(CheckResult.id.desc())  # type: ignore[union-attr]
    .limit(1)
)


def latest_reviews(session: Session, ids: list[int]) -> dict[int, Review]:
    """Return the standing review of each entry in ids that has one."""
    if not ids:
        return {}
    return {r.resource_id: r for r in session.exec(_LATEST_REVIEWS, params={"ids": list(ids)})}


def latest_checks(session: Session, ids: list[int]) -> dict[int, CheckResult]:
    """Return the most recent check result of each entry in ids that has one."""
    if not ids:
        return {}
    return {r.resource_id: r for r in session.exec(_LATEST_CHECKS, params={"ids": list(ids)})}


# A certificate expiring sooner than this is a warning, as the checker says by default.
CERT_WARN_DAYS = 14


@dataclass(frozen=True)
class Line:
    """One check in words: what was checked, what was found, and whether that is good."""

    topic: str
    finding: str
    ok: bool


_LIVENESS = {
    "up": "Online",
    "down": "Not working: the site answers with an error",
    "unreachable": "Could not be reached",
    "blocked": "The site turned the automatic check away; a person needs to look",
    "parked": "The address now shows a domain-parking or for-sale page",
    "soft_404": "The page now says it cannot be found",
}
_HTTPS = {
    "ok": "Secure connection (HTTPS)",
    "no_https": "No secure connection (no HTTPS)",
    "cert_expired": "Its security certificate has expired",
    "cert_untrusted": "Its security certificate is not trusted",
    "hostname_mismatch": "Its security certificate is for a different site",
    "tls_error": "Its secure connection failed",
}
_PRIVACY = {
    "found": "Has a privacy policy",
    "missing": "No privacy policy could be found",
    "unreachable": "Its privacy policy link is broken",
    "not_checked": "Privacy policy not checked (the site could not be read)",
}


# Each store's name, and how a sentence speaks of the store itself.
_STORE_NAMES = {
    "app_store": ("App Store", "the App Store"),
    "google_play": ("Google Play", "Google Play"),
}
_STORES = {
    "listed": "Listed on {store}",
    "removed": "The {name} listing is gone",
    "unreachable": "The {name} listing could not be reached",
    "blocked": "{store} turned the automatic check away; a person needs to look",
}


def review_overdue(resource: Resource, *, today: date | None = None) -> bool:
    """Return whether a decided entry (also under re-review) is past its review-due date."""
    return visibility.review_overdue(resource, today=today or utcnow().date())


def store_findings(result: CheckResult | None) -> list[dict]:
    """Return the App Store / Google Play findings of a result's report (none in older ones)."""
    stores = ((result.report or {}).get("stores") if result else None) or []
    return [s for s in stores if isinstance(s, dict) and s.get("store") in _STORE_NAMES]


def listed_store_urls(result: CheckResult | None) -> dict[str, str]:
    """Return, by store, the listing URLs that the check found listed."""
    return {
        s["store"]: s["url"]
        for s in store_findings(result)
        if s.get("status") == "listed" and isinstance(s.get("url"), str)
    }


def _day_of(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def upkeep(found: dict) -> str:
    """Say what a store says of an app's current version: "version 3.2, updated 1 August 2026"."""
    bits = [f"version {found['version']}"] if found.get("version") else []
    day = _day_of(found.get("last_updated"))
    if day:
        bits.append(f"updated {_long_date(day)}")
    return ", ".join(bits)


def store_upkeep(result: CheckResult | None) -> list[str]:
    """Say, store by store, what the latest check found of the app's version and its date."""
    return [
        f"{_STORE_NAMES[found['store']][0]}: {upkeep(found)}"
        for found in store_findings(result)
        if upkeep(found)
    ]


def _store_line(found: dict) -> Line:
    name, store = _STORE_NAMES[found["store"]]
    status = found.get("status")
    words = _STORES.get(status, f"The {{name}} listing: {status}").format(name=name, store=store)
    words = words[:1].upper() + words[1:]
    if status == "removed" and found.get("http_status"):
        words += f" (HTTP {found['http_status']})"
    if status == "listed" and upkeep(found):
        words += f" ({upkeep(found)})"
    return Line(name, words, status == "listed")


def stale_listings(
    result: CheckResult | None, *, months: int, today: date | None = None
) -> list[str]:
    """Say which stores show the app not updated for more than `months` months."""
    today = today or utcnow().date()
    stale = []
    for found in store_findings(result):
        day = _day_of(found.get("last_updated"))
        if found.get("status") == "listed" and day and (today - day).days > months * 30.44:
            store = _STORE_NAMES[found["store"]][1]
            stale.append(
                f"the app has not been updated on {store} since {_long_date(day)}, "
                f"more than {months} months ago"
            )
    return stale


def _versions(result: CheckResult | None) -> dict[str, str]:
    return {f["store"]: str(f["version"]) for f in store_findings(result) if f.get("version")}


def new_versions(reviewed: CheckResult | None, latest: CheckResult | None) -> list[str]:
    """Say where a store now offers another version than the one the review judged.

    The version judged is the one the check beside the reviewer's rubric saw.
    """
    before, now = _versions(reviewed), _versions(latest)
    return [
        f"reviewed version {before[store]}; {_STORE_NAMES[store][1]} now offers {now[store]}"
        for store in _STORE_NAMES
        if store in before and store in now and before[store] != now[store]
    ]


def reviewed_versions(session: Session, review: Review | None) -> list[str]:
    """Return new_versions for an entry's standing review and its latest check."""
    if review is None or review.check_result_id is None:
        return []
    seen = session.get(CheckResult, review.check_result_id)
    return new_versions(seen, latest_result(session, review.resource_id))


# The Flesch reading-ease bands, from the top: a score at or above the bound reads as said.
_READING = ((90, "very easy"), (80, "easy"), (70, "fairly easy"), (60, "plain English"),
            (50, "fairly difficult"), (30, "difficult"))  # fmt: skip


def reading_band(score: float) -> str:
    """Say how hard a Flesch reading-ease score is to read."""
    return next((words for bound, words in _READING if score >= bound), "very difficult")


def trackers_in_words(trackers: object, *, short: bool = False) -> str:
    """Say which third-party trackers a check found its pages loading (short: names only)."""
    if not isinstance(trackers, list):
        if short:
            return "Not known: the page could not be read"
        return "Third-party trackers: not known (the page could not be read)"
    names = list(
        dict.fromkeys(t["name"] for t in trackers if isinstance(t, dict) and t.get("name"))
    )
    if not names:
        return "None found" if short else "No third-party trackers found on its pages"
    return ", ".join(names) if short else f"Its pages load third-party trackers: {', '.join(names)}"


# A number the entry gives, as the check found it on the entry's page.
_CONTACTS = {
    "found": "{number} is on its page",
    "missing": "{number} is no longer on its page",
}


def contact_findings(result: CheckResult | None) -> list[dict]:
    """Return the numbers' findings of a result's report (none in older ones)."""
    found = ((result.report or {}).get("contacts") if result else None) or []
    return [c for c in found if isinstance(c, dict) and isinstance(c.get("number"), str)]


def _contact_line(found: dict) -> Line | None:
    words = _CONTACTS.get(found.get("status", ""))
    if words is None:
        return None  # not checked: the site's own line says why
    words = words.format(number=found["number"])
    return Line("Number", words[:1].upper() + words[1:], found["status"] == "found")


def _cert_days(result: CheckResult) -> int | None:
    return ((result.report or {}).get("https") or {}).get("cert_days_left")


def lines(result: CheckResult) -> list[Line]:
    """Return a check result as plain findings (site, HTTPS, privacy, store listings)."""
    days = _cert_days(result)
    secure = _HTTPS.get(result.https_status, result.https_status)
    expiring = result.https_status == "ok" and days is not None and days < CERT_WARN_DAYS
    if expiring:
        secure = f"Secure connection, but its certificate expires in {max(days, 0)} days"
    return [
        Line("Online", _LIVENESS.get(result.liveness_status, result.liveness_status),
             result.liveness_status == "up"),
        Line("Secure", secure, result.https_status == "ok" and not expiring),
        Line("Privacy", _PRIVACY.get(result.privacy_status, result.privacy_status),
             result.privacy_status == "found"),
        *(_store_line(found) for found in store_findings(result)),
        *(line for line in map(_contact_line, contact_findings(result)) if line),
    ]  # fmt: skip


def problems(result: CheckResult) -> list[str]:
    """Return what a result found wrong, in plain words (empty when it passed)."""
    report = result.report or {}
    # The stores are checked apart from the site, so their findings stand whatever the site did.
    stores = [_store_line(f) for f in store_findings(result)]
    store_problems = [line.finding for line in stores if not line.ok]
    if result.liveness_status != "up":
        words = _LIVENESS.get(result.liveness_status, result.liveness_status)
        status = (report.get("liveness") or {}).get("http_status")
        if result.liveness_status == "down" and status:
            words += f" (HTTP {status})"
        return [words, *store_problems]  # the site's other checks could not be judged
    found = [
        line.finding
        for line in lines(result)
        if not line.ok and line.topic in ("Secure", "Privacy", "Number")
    ]
    if (report.get("https") or {}).get("redirects_http_to_https") is False:
        found.append("It does not send visitors to its secure (HTTPS) address")
    return found + store_problems


def _when(result: CheckResult) -> str:
    checked = aware(result.checked_at)
    return f"{checked.day} {checked:%B %Y}"


def _joined(findings: list[str]) -> str:
    return "; ".join(f[:1].lower() + f[1:] for f in findings)


def summary(result: CheckResult | None) -> str:
    """Say in one sentence what an entry's latest check found."""
    if result is None:
        return "Not checked yet."
    found = problems(result)
    if result.verdict == "pass" or not found:
        return (
            f"Passed the automatic check on {_when(result)}: online, secure, with a privacy policy."
        )
    what = "Failed" if result.verdict == "fail" else "Passed with warnings"
    return f"{what} the automatic check on {_when(result)}: {_joined(found)}."


def caution(result: CheckResult | None, *, stale_months: int = 12) -> str | None:
    """Return the caution to show at once when the latest check failed, else None.

    A store listing that is gone fails the check by the contract; it is a caution here even from
    a checker that did not say so. So is an app its store shows not updated for `stale_months`.
    """
    if result is None:
        return None
    removed = any(f.get("status") == "removed" for f in store_findings(result))
    stale = stale_listings(result, months=stale_months)
    found = problems(result) if result.verdict == "fail" or removed else []
    if not found and not stale:
        return None
    return f"At the last automatic check ({_when(result)}): {_joined(found + stale)}."


# The latest check and review of an entry: read-only, below both the lifecycle and the job.


def latest_result(session: Session, resource_id: int) -> CheckResult | None:
    """Return the entry's most recent check result, or None if it was never checked."""
    return session.exec(_LATEST, params={"entry_id": resource_id}).first()


def latest_results():
    """Return a statement for every entry's most recent result (for the dashboard)."""
    newest = select(func.max(CheckResult.id)).group_by(CheckResult.resource_id)
    return select(CheckResult).where(CheckResult.id.in_(newest.scalar_subquery()))  # type: ignore[attr-defined]


def history(session: Session, resource_id: int, limit: int = 30) -> list[Row]:
    """Return the entry's last `limit` results, oldest first, for the table and the chart.

    Each is a row of its id, when it ran, its verdict and its three statuses, without the report:
    load the one whose report is wanted by its id.
    """
    connection = session.connection()
    newest_first = connection.execute(_HISTORY, {"entry_id": resource_id, "limit": limit}).all()
    return list(reversed(newest_first))


def latest_review(session: Session, resource_id: int) -> Review | None:
    """Return the review that stands for an entry now (a proposal waiting never does)."""
    return session.exec(
        select(Review)
        .where(Review.resource_id == resource_id, Review.stage.in_(STANDING_STAGES))  # type: ignore[attr-defined]
        .order_by(Review.id.desc())  # type: ignore[union-attr]
    ).first()

"""Check one entry: its page (liveness, HTTPS, privacy policy, numbers) and its store links.

Each piece is a unit of work with a deadline of its own; checks/schedule.py runs the units of
many entries at once, politely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from checks import contacts, https, liveness, net, privacy, stores
from checks.fetch import Fetcher
from checks.report import Contact, Https, Liveness, Privacy, Report, Store, verdict
from checks.settings import CheckSettings


class _BadURL(Exception):
    pass


def url_problem(url: str) -> str | None:
    """Say what is wrong with a URL the checker is asked to fetch, or None when it is fine."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "it contains spaces or control characters"
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            return "it is not an http:// or https:// address"
        parts.port  # noqa: B018 - raises on a bad port
        requests.Request("GET", url).prepare()  # what requests cannot send is not checked
    except (ValueError, requests.RequestException) as exc:
        return str(exc)
    if not parts.hostname:
        return "it has no host name"
    return None


@dataclass(frozen=True)
class Target:
    """What one entry asks the checker to look at: its page, its store links, its numbers."""

    url: str
    ios_url: str | None = None
    android_url: str | None = None
    phone_numbers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "phone_numbers", tuple(self.phone_numbers))

    def store_links(self) -> list[tuple[str, str]]:
        """List the target's (store, url) pairs, App Store first."""
        return stores.links(self.ios_url, self.android_url)


@dataclass
class PageCheck:
    """What the page check found: the liveness, HTTPS and privacy parts of a report."""

    checked_at: str
    final_url: str
    liveness: Liveness
    https: Https
    privacy: Privacy
    contacts: list[Contact] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_page(
    url: str, settings: CheckSettings, limiter: net.Limiter, numbers: tuple[str, ...] = ()
) -> PageCheck:
    """Check one page for liveness, HTTPS, a privacy policy and its numbers, in one deadline."""
    checked_at = _now()
    fx = Fetcher(net.NetContext(settings, net.Deadline(settings.deadline)), limiter)
    try:
        problem = url_problem(url)
        if problem:
            raise _BadURL(f"not a URL the checker can fetch: {problem}")
        fetched = fx.get(url)
        tls_failure, verify = None, True
        err = fetched.error
        if err and err.kind == "tls_cert" and fetched.last_url.startswith("https://"):
            # A bad certificate is an HTTPS finding; whether the site is alive is still worth
            # knowing, so read it once more without verifying.
            tls_failure, verify = err, False
            fetched = fx.get(url, verify=False)
        live, page = liveness.assess(url, fetched, fx, verify=verify)
        if not verify and live.status == "up":
            live.detail = (live.detail + "; " if live.detail else "") + (
                "read without trusting its certificate"
            )
        sec = https.assess(url, fetched, tls_failure, fx)
        resp = fetched.response if live.status in ("up", "soft_404") else None
        priv = privacy.assess(live, page, resp, fx, verify=verify)
        read = page if live.status == "up" else None
        found = contacts.assess(numbers, read, f"the page is {live.status.replace('_', ' ')}")
        return PageCheck(checked_at, fetched.final_url, live, sec, priv, found)
    except _BadURL as exc:
        live = Liveness("unreachable", detail=str(exc))
        sec = Https("no_https", detail="not checked")
        priv = Privacy("not_checked", detail="not checked")
        return PageCheck(checked_at, url, live, sec, priv, contacts.assess(numbers, None))
    finally:
        fx.close()


def _page_crashed(url: str, detail: str, numbers: tuple[str, ...] = ()) -> PageCheck:
    live = Liveness("unreachable", detail=detail)
    sec = Https("tls_error", detail="not checked: the checker failed")
    priv = Privacy("not_checked", detail="the checker failed")
    found = [Contact(n, "not_checked", "the checker failed") for n in numbers]
    return PageCheck(_now(), url, live, sec, priv, found)


def _check_store(store: str, url: str, settings: CheckSettings, limiter: net.Limiter) -> Store:
    problem = url_problem(url)
    if problem:
        return Store(
            store, url, "unreachable", detail=f"not a URL the checker can fetch: {problem}"
        )
    return stores.check(store, url, settings=settings, limiter=limiter)


@dataclass(frozen=True)
class Unit:
    """One piece of a target's check: its page (part 0) or one of its store links."""

    index: int  # the target's position in the batch
    part: int
    url: str
    store: str | None = None  # None: the page check
    numbers: tuple[str, ...] = ()  # the page check's: the numbers to look for on the page

    @property
    def host(self) -> str:
        return host_of(self.url)


def units_of(index: int, target: Target) -> list[Unit]:
    links = target.store_links()
    return [Unit(index, 0, target.url, numbers=target.phone_numbers)] + [
        Unit(index, part, url, store) for part, (store, url) in enumerate(links, start=1)
    ]


def run_unit(
    unit: Unit, settings: CheckSettings, limiter: net.Limiter
) -> tuple[PageCheck | Store, bool]:
    """Run one unit; return what it found and whether the checker itself failed."""
    try:
        if unit.store is None:
            return _check_page(unit.url, settings, limiter, unit.numbers), False
        return _check_store(unit.store, unit.url, settings, limiter), False
    except Exception as exc:  # a bug must not sink a whole nightly run; say what happened
        return crashed_part(unit, exc), True


def crashed_part(unit: Unit, exc: BaseException) -> PageCheck | Store:
    """Say, in the unit's place in the report, that the checker failed."""
    detail = f"the checker failed: {type(exc).__name__}: {exc}"
    if unit.store is None:
        return _page_crashed(unit.url, detail, unit.numbers)
    return Store(unit.store, unit.url, "unreachable", detail=detail)


def assemble(target: Target, parts: list, crashed: bool, settings: CheckSettings) -> Report:
    """Build a target's report from its finished units, the verdict over all of them."""
    page, found = parts[0], parts[1:]
    v = verdict(
        page.liveness,
        page.https,
        page.privacy,
        cert_warn_days=settings.cert_warn_days,
        stores=found,
        contacts=page.contacts,
    )
    return Report(
        url=target.url,
        final_url=page.final_url,
        checked_at=page.checked_at,
        verdict="fail" if crashed else v,  # a report the checker could not finish never passes
        liveness=page.liveness,
        https=page.https,
        privacy=page.privacy,
        stores=list(found),
        contacts=list(page.contacts),
    )


def failed_report(target: Target, exc: BaseException, settings: CheckSettings) -> Report:
    detail = f"the checker failed: {type(exc).__name__}: {exc}"
    page = _page_crashed(target.url, detail, target.phone_numbers)
    return assemble(target, [page], True, settings)


def check_target(
    target: Target, *, settings: CheckSettings, limiter: net.Limiter | None = None
) -> Report:
    """Check an entry's page, then each of its store links, each within its own deadline."""
    limiter = limiter or net.Limiter(settings.max_concurrency, settings.max_per_host)
    results = [run_unit(unit, settings, limiter) for unit in units_of(0, target)]
    try:
        return assemble(target, [r for r, _ in results], any(c for _, c in results), settings)
    except Exception as exc:
        return failed_report(target, exc, settings)


def check_url(
    url: str,
    *,
    settings: CheckSettings,
    limiter: net.Limiter | None = None,
    ios_url: str | None = None,
    android_url: str | None = None,
) -> Report:
    """Check one URL (and any store links given) for liveness, HTTPS and a privacy policy."""
    target = Target(url, ios_url=ios_url, android_url=android_url)
    return check_target(target, settings=settings, limiter=limiter)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""

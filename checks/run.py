"""Check entries (a page and its store links), one or many at once, politely.

One scheduler serves the command line and the nightly job: every target is split into units
of work (its page check, and one per store link), each queued by its own host, so that no more
than ``max_per_host`` units of a host run at once and each unit's deadline starts when it does.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from urllib3.util import parse_url

from checks import https, liveness, net, privacy, stores
from checks.fetch import Fetcher
from checks.report import Https, Liveness, Privacy, Report, Store, verdict
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
        parse_url(url)
    except ValueError as exc:
        return str(exc)
    if not parts.hostname:
        return "it has no host name"
    return None


@dataclass(frozen=True)
class Target:
    """What one entry asks the checker to look at: its page, its store links, its numbers.

    ``phone_numbers`` is carried for the contacts check; it is not checked yet.
    """

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
class _PageCheck:
    """What the page check found: the liveness, HTTPS and privacy parts of a report."""

    checked_at: str
    final_url: str
    liveness: Liveness
    https: Https
    privacy: Privacy


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_page(url: str, settings: CheckSettings, limiter: net.Limiter) -> _PageCheck:
    """Check one page for liveness, HTTPS and a privacy policy, within its own deadline."""
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
        return _PageCheck(checked_at, fetched.final_url, live, sec, priv)
    except _BadURL as exc:
        live = Liveness("unreachable", detail=str(exc))
        sec = Https("no_https", detail="not checked")
        return _PageCheck(checked_at, url, live, sec, Privacy("not_checked", detail="not checked"))
    finally:
        fx.close()


def _page_crashed(url: str, detail: str) -> _PageCheck:
    live = Liveness("unreachable", detail=detail)
    sec = Https("tls_error", detail="not checked: the checker failed")
    return _PageCheck(_now(), url, live, sec, Privacy("not_checked", detail="the checker failed"))


def _check_store(store: str, url: str, settings: CheckSettings, limiter: net.Limiter) -> Store:
    problem = url_problem(url)
    if problem:
        return Store(
            store, url, "unreachable", detail=f"not a URL the checker can fetch: {problem}"
        )
    return stores.check(store, url, settings=settings, limiter=limiter)


@dataclass(frozen=True)
class _Unit:
    """One piece of a target's check: its page (part 0) or one of its store links."""

    index: int  # the target's position in the batch
    part: int
    url: str
    store: str | None = None  # None: the page check

    @property
    def host(self) -> str:
        return _host(self.url)


def _units(index: int, target: Target) -> list[_Unit]:
    links = target.store_links()
    return [_Unit(index, 0, target.url)] + [
        _Unit(index, part, url, store) for part, (store, url) in enumerate(links, start=1)
    ]


def _run_unit(
    unit: _Unit, settings: CheckSettings, limiter: net.Limiter
) -> tuple[_PageCheck | Store, bool]:
    """Run one unit; return what it found and whether the checker itself failed."""
    try:
        if unit.store is None:
            return _check_page(unit.url, settings, limiter), False
        return _check_store(unit.store, unit.url, settings, limiter), False
    except Exception as exc:  # a bug must not sink a whole nightly run; say what happened
        return _crashed(unit, exc), True


def _crashed(unit: _Unit, exc: BaseException) -> _PageCheck | Store:
    """Say, in the unit's place in the report, that the checker failed."""
    detail = f"the checker failed: {type(exc).__name__}: {exc}"
    if unit.store is None:
        return _page_crashed(unit.url, detail)
    return Store(unit.store, unit.url, "unreachable", detail=detail)


def _assemble(target: Target, parts: list, crashed: bool, settings: CheckSettings) -> Report:
    """Build a target's report from its finished units, the verdict over all of them."""
    page, found = parts[0], parts[1:]
    v = verdict(
        page.liveness,
        page.https,
        page.privacy,
        cert_warn_days=settings.cert_warn_days,
        stores=found,
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
    )


def _failed_report(target: Target, exc: BaseException, settings: CheckSettings) -> Report:
    detail = f"the checker failed: {type(exc).__name__}: {exc}"
    page = _page_crashed(target.url, detail)
    return _assemble(target, [page], True, settings)


def check_target(
    target: Target, *, settings: CheckSettings, limiter: net.Limiter | None = None
) -> Report:
    """Check an entry's page, then each of its store links, each within its own deadline."""
    limiter = limiter or net.Limiter(settings.max_concurrency, settings.max_per_host)
    results = [_run_unit(unit, settings, limiter) for unit in _units(0, target)]
    try:
        return _assemble(target, [r for r, _ in results], any(c for _, c in results), settings)
    except Exception as exc:
        return _failed_report(target, exc, settings)


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


class _Queue:
    """Hand out units so that no more than per_host units of one host run at once.

    A unit's deadline starts when it is handed out: it must not use up its deadline waiting
    behind other units of the same host (App Store links, pages of one big site).
    """

    def __init__(self, units: list[_Unit], per_host: int):
        self.per_host = per_host
        self.pending: dict[str, collections.deque[_Unit]] = {}
        for unit in units:
            self.pending.setdefault(unit.host, collections.deque()).append(unit)
        self.running: collections.Counter[str] = collections.Counter()
        self.cond = threading.Condition()
        self.stopped = False

    def take(self) -> _Unit | None:
        """Return the next unit whose host has a free slot, waiting for one; None when done."""
        with self.cond:
            while self.pending and not self.stopped:
                for host, queue in self.pending.items():
                    if self.running[host] < self.per_host:
                        unit = queue.popleft()
                        if not queue:
                            del self.pending[host]
                        self.running[host] += 1
                        return unit
                self.cond.wait()
            return None

    def done(self, unit: _Unit) -> None:
        with self.cond:
            self.running[unit.host] -= 1
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class CheckBatch:
    """Check many targets in worker threads, queued per host; hand out reports as they finish.

    Use it as a context manager; leaving the block (normally, by an exception or by
    KeyboardInterrupt) stops handing out work::

        with CheckBatch(targets, settings=settings) as batch:
            while not batch.done:
                for index, report in batch.wait(timeout=30):  # [] when 30 s pass first
                    store(targets[index], report)
                refresh_lock()

    ``index`` is the target's position in ``targets``; plain URL strings are taken as
    ``Target(url)``. A unit that crashes gives its target a failing report, never none.
    """

    def __init__(
        self,
        targets: Iterable[Target | str],
        *,
        settings: CheckSettings,
        limiter: net.Limiter | None = None,
    ):
        self.targets = [t if isinstance(t, Target) else Target(t) for t in targets]
        self.settings = settings
        self._limiter = limiter or net.Limiter(settings.max_concurrency, settings.max_per_host)
        units = [u for i, t in enumerate(self.targets) for u in _units(i, t)]
        self._queue = _Queue(units, settings.max_per_host)
        self._parts: list[list] = [[None] * (1 + len(t.store_links())) for t in self.targets]
        self._left = [len(parts) for parts in self._parts]
        self._crashed = [False] * len(self.targets)
        self._finished: list[tuple[int, Report]] = []
        self._handed_out = 0
        self._closed = False
        self._cond = threading.Condition()
        self._workers = min(settings.max_concurrency, len(units))
        self._threads: list[threading.Thread] = []

    @property
    def total(self) -> int:
        """Return how many targets the batch checks."""
        return len(self.targets)

    @property
    def done(self) -> bool:
        """Tell whether every report has been handed out by wait(), or the batch was closed."""
        with self._cond:
            return self._closed or self._handed_out == self.total

    def start(self) -> CheckBatch:
        """Start the worker threads (once; wait() and the with statement call it)."""
        with self._cond:
            if self._threads or self._closed:
                return self
            for n in range(self._workers):
                # Daemon threads: an interrupted run must not wait at exit for checks under way.
                thread = threading.Thread(target=self._work, name=f"check-{n}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return self

    def wait(self, timeout: float | None = None) -> list[tuple[int, Report]]:
        """Return the (index, report) pairs finished since the last call; [] on timeout."""
        self.start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._finished or self._closed or self._handed_out == self.total,
                timeout,
            )
            out, self._finished = self._finished, []
            self._handed_out += len(out)
            return out

    def close(self, *, wait: bool = False) -> None:
        """Stop handing out work; with wait, let the units under way finish first."""
        self._queue.stop()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if wait:
            # Bounded: a unit never outlives its deadline by much.
            until = time.monotonic() + self.settings.deadline + 5
            for thread in self._threads:
                thread.join(max(until - time.monotonic(), 0))

    def __enter__(self) -> CheckBatch:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait=exc_type is None)

    def _work(self) -> None:
        while (unit := self._queue.take()) is not None:
            try:
                result, crashed = _run_unit(unit, self.settings, self._limiter)
            except BaseException as exc:  # even then the target gets its report, not a hang
                self._record(unit, _crashed(unit, exc), True)
                raise
            finally:
                self._queue.done(unit)
            self._record(unit, result, crashed)

    def _record(self, unit: _Unit, result: _PageCheck | Store, crashed: bool) -> None:
        """Keep a unit's result; when it is the target's last, assemble the report."""
        i = unit.index
        with self._cond:
            self._parts[i][unit.part] = result
            self._crashed[i] = self._crashed[i] or crashed
            self._left[i] -= 1
            if self._left[i]:
                return
            target = self.targets[i]
            try:
                report = _assemble(target, self._parts[i], self._crashed[i], self.settings)
            except Exception as exc:
                report = _failed_report(target, exc, self.settings)
            self._parts[i] = []  # the report holds what it needs
            self._finished.append((i, report))
            self._cond.notify_all()


def iter_check_targets(
    targets: Iterable[Target | str],
    *,
    settings: CheckSettings,
    limiter: net.Limiter | None = None,
) -> Iterator[Report]:
    """Check targets concurrently; yield their reports in input order, each as soon as it can."""
    batch = CheckBatch(targets, settings=settings, limiter=limiter)
    if not batch.total:
        return
    with batch:
        ready: dict[int, Report] = {}
        for i in range(batch.total):
            while i not in ready:
                if batch.done:
                    raise RuntimeError(f"the check of {batch.targets[i].url} was lost")
                ready.update(batch.wait())
            yield ready.pop(i)


def iter_check_urls(urls: Iterable[str], *, settings: CheckSettings) -> Iterator[Report]:
    """Check URLs concurrently and yield their reports in input order, each as soon as it can."""
    return iter_check_targets([Target(url) for url in urls], settings=settings)


def check_urls(urls: Iterable[str], *, settings: CheckSettings) -> list[Report]:
    """Check many URLs concurrently; return their reports in input order."""
    return list(iter_check_urls(urls, settings=settings))

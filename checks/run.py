"""Run the three checks for one URL, or for many URLs at once, politely."""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

from urllib3.util import parse_url

from checks import https, liveness, net, privacy
from checks.fetch import Fetcher
from checks.report import Https, Liveness, Privacy, Report, verdict
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


def check_url(url: str, *, settings: CheckSettings, limiter: net.Limiter | None = None) -> Report:
    """Check one URL for liveness, HTTPS and a privacy policy, within the settings' deadline."""
    checked_at = datetime.now(UTC).isoformat(timespec="seconds")
    limiter = limiter or net.Limiter(settings.max_concurrency, settings.max_per_host)
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
        final_url = fetched.final_url
    except _BadURL as exc:
        live = Liveness("unreachable", detail=str(exc))
        sec = Https("no_https", detail="not checked")
        priv = Privacy("not_checked", detail="not checked")
        final_url = url
    except Exception as exc:  # a bug must not sink a whole nightly run; say what happened
        live = Liveness("unreachable", detail=f"the checker failed: {type(exc).__name__}: {exc}")
        sec = Https("tls_error", detail="not checked: the checker failed")
        priv = Privacy("not_checked", detail="the checker failed")
        final_url = url
    finally:
        fx.close()
    return Report(
        url=url,
        final_url=final_url,
        checked_at=checked_at,
        verdict=verdict(live, sec, priv, cert_warn_days=settings.cert_warn_days),
        liveness=live,
        https=sec,
        privacy=priv,
    )


class _Queue:
    """Hand out URLs so that no more than per_host checks of one host run at once.

    A check's deadline starts when it starts: a URL must not use up its deadline waiting behind
    other URLs of the same host (App Store links, pages of one big site).
    """

    def __init__(self, urls: list[str], per_host: int):
        self.per_host = per_host
        self.pending: dict[str, collections.deque[int]] = {}
        for i, url in enumerate(urls):
            self.pending.setdefault(_host(url), collections.deque()).append(i)
        self.running: collections.Counter[str] = collections.Counter()
        self.cond = threading.Condition()
        self.stopped = False

    def take(self) -> tuple[str, int] | None:
        with self.cond:
            while self.pending and not self.stopped:
                for host, queue in self.pending.items():
                    if self.running[host] < self.per_host:
                        index = queue.popleft()
                        if not queue:
                            del self.pending[host]
                        self.running[host] += 1
                        return host, index
                self.cond.wait()
            return None

    def done(self, host: str) -> None:
        with self.cond:
            self.running[host] -= 1
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


def iter_check_urls(urls: Iterable[str], *, settings: CheckSettings) -> Iterator[Report]:
    """Check URLs concurrently and yield their reports in input order, each as soon as it can."""
    urls = list(urls)
    if not urls:
        return
    limiter = net.Limiter(settings.max_concurrency, settings.max_per_host)
    queue = _Queue(urls, settings.max_per_host)
    reports: list[Report | None] = [None] * len(urls)
    ready = [threading.Event() for _ in urls]

    def work() -> None:
        while (taken := queue.take()) is not None:
            host, i = taken
            try:
                reports[i] = check_url(urls[i], settings=settings, limiter=limiter)
            finally:
                queue.done(host)
                ready[i].set()

    workers = min(settings.max_concurrency, len(urls))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="check") as pool:
        for _ in range(workers):
            pool.submit(work)
        try:
            for i in range(len(urls)):
                ready[i].wait()
                report = reports[i]
                assert report is not None, "check_url never raises"
                yield report
        finally:
            queue.stop()


def check_urls(urls: Iterable[str], *, settings: CheckSettings) -> list[Report]:
    """Check many URLs concurrently; return their reports in input order."""
    return list(iter_check_urls(urls, settings=settings))

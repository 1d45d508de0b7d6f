"""The safe fetcher: guarded, deadline-bound, capped, retrying GETs that follow redirects."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urldefrag, urljoin, urlsplit

from checks import net, signals, transport
from checks.wire import FetchError, cert_days, classify, read_body, retry_after

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRYABLE = frozenset({"refused", "reset", "timeout", "protocol", "dns_temporary"})
REDIRECT_BODY_CAP = 64 * 1024


@dataclass
class Response:
    """One HTTP response, its body decoded and capped."""

    url: str
    status: int
    headers: Mapping[str, str]  # urllib3's HTTPHeaderDict, as requests reads it: has getlist()
    body: bytes = b""
    truncated: bool = False
    cert_days_left: int | None = None
    attempts: int = 1
    note: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def is_html(self) -> bool:
        ct = self.content_type
        if ct:
            return "html" in ct
        return self.body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


@dataclass
class Hop:
    url: str
    status: int
    location: str
    response: Response | None = None


@dataclass
class Fetched:
    """The outcome of following a URL: the redirects taken, the final response or the error."""

    url: str
    hops: list[Hop] = field(default_factory=list)
    response: Response | None = None
    error: FetchError | None = None
    last_url: str = ""
    elapsed_ms: int = 0

    @property
    def final_url(self) -> str:
        return self.response.url if self.response else (self.last_url or self.url)


class Failure(Exception):
    def __init__(self, error: FetchError):
        super().__init__(error.message)
        self.error = error


class Fetcher:
    """Fetch URLs for one check, inside its deadline, through the shared limiter."""

    def __init__(self, ctx: net.NetContext, limiter: net.Limiter):
        self.ctx, self.settings, self.limiter = ctx, ctx.settings, limiter
        self.deadline = ctx.deadline
        self.transport = transport.for_settings(self.settings)
        # Cookies kept per host for the length of one check: some sites set one and redirect,
        # and loop for a client that does not send it back.
        self._cookies: dict[str, dict[str, str]] = {}
        self.headers = {
            "User-Agent": self.settings.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.8",
            "Accept-Encoding": "gzip, deflate",
            "Accept-Language": "en-GB,en;q=0.9,*;q=0.5",
        }

    def close(self) -> None:
        """Forget this check's cookies; the connections stay with the run's transport."""
        self._cookies.clear()

    def get(
        self,
        url: str,
        *,
        verify: bool = True,
        cap: int | None = None,
        follow: bool = True,
        retry: bool = True,
    ) -> Fetched:
        """GET a URL, following redirects, and never raise: failures come back in .error."""
        started = time.monotonic()
        cap = self.settings.max_body_bytes if cap is None else cap
        result = Fetched(url=url, last_url=url)
        seen, current = Counter([url]), url
        with net.use(self.ctx):
            while True:
                try:
                    resp = self._attempts(current, verify, cap, follow, retry)
                except Failure as f:
                    result.error = f.error
                    break
                location = resp.headers.get("Location", "").strip()
                if not (follow and resp.status in REDIRECTS and location):
                    result.response = resp
                    break
                nxt = urldefrag(urljoin(current, location))[0]
                result.hops.append(Hop(current, resp.status, nxt, resp))
                result.last_url = nxt
                if urlsplit(nxt).scheme not in ("http", "https"):
                    result.error = FetchError("bad_redirect", f"redirect to {nxt!r}")
                elif seen[nxt] >= 2:  # once more is allowed: a cookie set on the way may end it
                    result.error = FetchError("redirect_loop", f"redirect loop back to {nxt}")
                elif len(result.hops) > self.settings.max_redirects:
                    result.error = FetchError(
                        "too_many_redirects", f"more than {self.settings.max_redirects} redirects"
                    )
                if result.error:
                    break
                seen[nxt] += 1
                current = nxt
        result.elapsed_ms = round((time.monotonic() - started) * 1000)
        return result

    def _keep_cookies(self, host: str, headers) -> None:
        for value in headers.getlist("Set-Cookie")[:50]:
            try:
                cookie = SimpleCookie(value)
            except CookieError:
                continue
            jar = self._cookies.setdefault(host, {})
            for name, morsel in cookie.items():
                if len(jar) < 50 and len(morsel.value) < 4096:
                    jar[name] = morsel.value

    def _sleep(self, seconds: float) -> bool:
        """Wait before a retry if the deadline leaves room for the retry itself."""
        if seconds >= self.deadline.remaining() - 0.2:
            return False
        time.sleep(seconds)
        return True

    def _attempts(self, url: str, verify: bool, cap: int, follow: bool, retry: bool) -> Response:
        s = self.settings
        retries = s.retries if retry else 0
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self._exchange(url, verify, cap, follow)
            except Failure as f:
                backoff = s.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
                if f.error.kind in RETRYABLE and attempt <= retries and self._sleep(backoff):
                    continue
                if attempt > 1:
                    f.error.message += f" (after {attempt} attempts)"
                raise
            resp.attempts = attempt
            transient = resp.status == 429 or resp.status >= 500
            if not transient or attempt > retries:
                return resp
            if signals.challenge_evidence(resp.status, resp.headers, resp.body):
                return resp
            wait = retry_after(resp.headers)
            if wait is not None and wait > s.max_retry_after:
                resp.note = f"Retry-After of {wait:g} s is longer than the checker waits"
                return resp
            backoff = s.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
            if not self._sleep(max(wait or 0.0, backoff)):
                return resp

    def _exchange(self, url: str, verify: bool, cap: int, follow: bool) -> Response:
        s, left = self.settings, self.deadline.remaining()
        if left <= 0:
            raise Failure(classify(net.DeadlineExceeded(), self.deadline))
        host = (urlsplit(url).hostname or "").lower()
        try:
            with self.limiter.slot(host, self.deadline):
                left = self.deadline.remaining()
                timeout = (
                    max(min(s.connect_timeout, left), 0.001),
                    max(min(s.read_timeout, left), 0.001),
                )
                headers = self.headers
                if self._cookies.get(host):
                    jar = "; ".join(f"{k}={v}" for k, v in self._cookies[host].items())
                    headers = {**headers, "Cookie": jar}
                got = self.transport.get(url, headers, verify=verify, timeout=timeout)
                raw = got.raw  # read here, decoded and capped as wire.read_body does
                try:
                    self._keep_cookies(host, raw.headers)
                    days = cert_days(raw)
                    body_cap = REDIRECT_BODY_CAP if follow and raw.status in REDIRECTS else cap
                    body, truncated, note = read_body(raw, body_cap)
                finally:
                    if raw.isclosed():  # read to the end: the connection can be reused
                        raw.release_conn()
                    else:  # never hand back a connection with unread bytes on it
                        raw.close()
                        raw.release_conn()
        except Failure:
            raise
        except Exception as exc:  # anything the network or a hostile server can raise
            raise Failure(classify(exc, self.deadline)) from exc
        return Response(url, raw.status, raw.headers, body, truncated, days, note=note)

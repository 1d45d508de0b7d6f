"""HTTPS: certificate validity, days left, the HTTP-to-HTTPS redirect and HSTS."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from checks.fetch import REDIRECTS, Fetched, Fetcher, FetchError, Response
from checks.report import Https

# OpenSSL's X509_V_ERR_* codes, grouped as the contract words them.
_EXPIRED = {10}  # certificate has expired
_MISMATCH = {62}  # hostname mismatch
_UNTRUSTED = {2, 18, 19, 20, 21, 27, 28}  # unknown issuer, self-signed, untrusted, rejected
_NO_HTTPS_ERRORS = frozenset({"refused", "timeout", "dns", "dns_temporary", "reset", "deadline"})
PROBE_CAP = 64 * 1024


def status_of_tls_error(err: FetchError) -> str:
    """Map a TLS failure to the contract's https.status."""
    if err.kind == "tls_cert":
        if err.verify_code in _EXPIRED:
            return "cert_expired"
        if err.verify_code in _MISMATCH:
            return "hostname_mismatch"
        if err.verify_code in _UNTRUSTED:
            return "cert_untrusted"
    return "tls_error"


def hsts(resp: Response) -> bool:
    """Tell whether an HTTPS response asks browsers to keep to HTTPS (max-age above zero)."""
    value = resp.headers.get("Strict-Transport-Security", "")
    m = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.I)
    return bool(m and int(m.group(1)) > 0)


def redirects_to_https(fetched: Fetched) -> bool | None:
    """Tell whether an http:// fetch ended up on HTTPS; None when it could not be told."""
    if any(h.location.startswith("https://") for h in fetched.hops):
        return True
    if fetched.response is not None:
        return fetched.response.url.startswith("https://")
    return None


def _http_root_goes_to_https(url: str, fx: Fetcher) -> bool | None:
    """Follow http://host/ only until it leaves plain HTTP; never fetch the HTTPS page itself."""
    for _ in range(5):
        got = fx.get(url, cap=PROBE_CAP, follow=False, retry=False)
        r = got.response
        if r is None:
            return None
        location = r.headers.get("Location", "").strip()
        if r.status >= 500:  # not an answer about HTTPS (through a proxy, the proxy's 502)
            return None
        if r.status not in REDIRECTS or not location:
            return False
        url = urljoin(url, location)
        if url.startswith("https://"):
            return True
    return None


def _root(url: str, scheme: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((scheme, host, "/", "", ""))


def assess(url: str, fetched: Fetched, tls_failure: FetchError | None, fx: Fetcher) -> Https:
    """Check HTTPS for a URL whose liveness fetch is given (tls_failure: its certificate error)."""
    if urlsplit(url).scheme == "http":
        to_https = redirects_to_https(fetched)
    else:
        to_https = _http_root_goes_to_https(_root(url, "http"), fx)
    result = Https(status="ok", redirects_http_to_https=to_https)
    resp = fetched.response
    secure = [h.response for h in fetched.hops if h.url.startswith("https://") and h.response]
    if tls_failure is not None:
        result.status, result.detail = status_of_tls_error(tls_failure), tls_failure.message
        if resp is not None and resp.url.startswith("https://"):
            result.hsts = hsts(resp)
        return result
    if resp is not None and resp.url.startswith("https://"):
        result.hsts, result.cert_days_left = hsts(resp), resp.cert_days_left
        return result
    if secure and resp is None:  # the redirects went over HTTPS before the fetch failed
        result.hsts, result.cert_days_left = hsts(secure[-1]), secure[-1].cert_days_left
        return result
    err = fetched.error
    if err and fetched.last_url.startswith("https://") and err.kind in ("tls", "tls_cert"):
        result.status, result.detail = status_of_tls_error(err), err.message
        return result
    if resp is not None and urlsplit(url).scheme == "https":
        result.status, result.detail = "no_https", f"HTTPS redirects to plain HTTP ({resp.url})"
        return result
    # The page was reached over plain HTTP, or not at all: is HTTPS offered on the host?
    probe = fx.get(_root(fetched.final_url, "https"), cap=PROBE_CAP, follow=False, retry=False)
    if probe.response is not None:
        result.hsts = hsts(probe.response)
        result.cert_days_left = probe.response.cert_days_left
        result.detail = "HTTPS works, but the page was served over plain HTTP"
        return result
    err = probe.error
    assert err is not None
    if err.kind in ("tls", "tls_cert"):
        result.status, result.detail = status_of_tls_error(err), err.message
    elif err.kind == "guard":
        result.status, result.detail = "no_https", err.message
    else:
        result.status = "no_https"
        result.detail = (
            f"no HTTPS offered: {err.message}" if err.kind in _NO_HTTPS_ERRORS else err.message
        )
    return result

"""requests, guarded: the Session the checks fetch through, its transport adapter and proxies.

One Transport per check run and process (``for_settings``) holds a ``requests.Session`` for
verified and one for unverified TLS. Each mounts ``GuardedAdapter``, requests' own HTTPAdapter
whose connection pools open their connections through the network guard (checks/net.py): every
hop resolved, every address checked, the connection pinned to the address that was checked.

Proxies are honoured as any requests program honours them (HTTPS_PROXY, HTTP_PROXY, NO_PROXY),
or set for the checker alone (REGISTRY_CHECK_PROXY). Through a proxy the checker cannot pin the
connection (the proxy resolves the name and connects), so it checks the target's name itself
before anything is sent: a name that resolves here to an address the guard refuses is never
asked for. A name that does not resolve here is left to the proxy, as networks whose only way
out is the proxy often cannot resolve outside names. docs/checks.md says what that trusts the
proxy with.
"""

from __future__ import annotations

import http.cookiejar
import threading
from collections import OrderedDict
from urllib.parse import urlsplit
from urllib.request import getproxies

import requests
from requests.adapters import HTTPAdapter, Retry
from requests.hooks import default_hooks, dispatch_hook
from requests.models import PreparedRequest
from requests.utils import get_environ_proxies, select_proxy, should_bypass_proxies

from checks import guard, net
from checks.settings import CheckSettings


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep no cookie in the Session: each check keeps its own, for its own length (fetch.py)."""

    def set_ok(self, cookie, request) -> bool:
        return False

    def return_ok(self, cookie, request) -> bool:
        return False


class GuardedAdapter(HTTPAdapter):
    """requests' HTTPAdapter on connection pools that go through the network guard.

    Verification is the adapter's TLS context (one adapter verifies, one does not), never a
    per-request setting, so one shared context is never changed under a connection in use.
    """

    def __init__(self, settings: CheckSettings, *, verify: bool):
        self.settings, self.verify = settings, verify
        pools = max(2 * settings.max_concurrency, 16)  # hosts whose connections are kept
        # total=False: urllib3 raises the error itself; fetch.py retries, with its own rules.
        super().__init__(pool_connections=pools, pool_maxsize=settings.max_per_host,
                         max_retries=Retry(total=False, redirect=False))  # fmt: skip

    def _pool_kwargs(self) -> dict:
        return {
            "ssl_context": net.ssl_context(self.settings.ca_bundle, self.verify),
            "cert_reqs": "CERT_REQUIRED" if self.verify else "CERT_NONE",
        }

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs, **self._pool_kwargs())
        self.poolmanager.pool_classes_by_scheme = net.POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs):
        new = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs, **self._pool_kwargs())
        if new:
            manager.pool_classes_by_scheme = net.POOL_CLASSES
        return manager

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        return host_params, {}  # the pools keep the adapter's TLS settings

    def cert_verify(self, conn, url, verify, cert) -> None:
        pass  # the adapter's TLS context verifies (requests would load a bundle per pool)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if select_proxy(request.url, proxies):
            check_before_proxy(request.url, self.settings)
        return super().send(request, stream, timeout, verify, cert, proxies)


def check_before_proxy(url: str, settings: CheckSettings) -> None:
    """Refuse, before the proxy is asked, a target whose name resolves here to a refused address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ctx = net.current()
    limit = max(min(settings.connect_timeout, ctx.deadline.remaining()), 0.001)
    try:
        guard.pin(host, port, allow=settings.allow_networks, resolver=settings.resolver,
                  timeout=limit)  # fmt: skip
    except guard.NameNotResolved:
        pass  # only the proxy can resolve it: the proxy is trusted with that name
    except TimeoutError:
        pass  # likewise when the name service here is too slow to answer


class Transport:
    """The requests Sessions of one check run in one process, for verified and unverified TLS."""

    def __init__(self, settings: CheckSettings):
        self.settings = settings
        self._sessions: dict[bool, requests.Session] = {}
        self._lock = threading.Lock()
        self._proxy_cache: dict[tuple[str, str], dict[str, str]] = {}
        # Read once: a run does not change its proxies half-way through.
        self._env_proxies = getproxies() if settings.trust_env else {}

    def session(self, verify: bool) -> requests.Session:
        with self._lock:
            found = self._sessions.get(verify)
            if found is None:
                found = self._sessions[verify] = requests.Session()
                found.trust_env = self.settings.trust_env
                found.cookies.set_policy(_NoCookies())
                for prefix in ("http://", "https://"):
                    found.mount(prefix, GuardedAdapter(self.settings, verify=verify))
            return found

    def get(
        self, url: str, headers: dict[str, str], *, verify: bool, timeout: tuple[float, float]
    ) -> requests.Response:
        """Send one GET through the run's Session, streamed, never following a redirect.

        As Session.send does, minus what the checks do themselves (redirects, cookies, which
        fetch.py keeps per check) and minus preparing the next request of every redirect,
        which Session.send does even when it is not to follow it.
        """
        session = self.session(verify)
        request = PreparedRequest()
        request.prepare_method("GET")
        request.prepare_url(url, None)
        request.prepare_headers({**session.headers, **headers})
        request.prepare_body(None, None)
        request.hooks = default_hooks()
        adapter = session.get_adapter(url)
        got = adapter.send(request, stream=True, timeout=timeout, proxies=self.proxies(url))
        return dispatch_hook("response", session.hooks, got)

    def proxies(self, url: str) -> dict[str, str]:
        """Return the proxies requests should use for a URL (empty: go direct)."""
        proxy = self.settings.proxy
        if proxy is None and not self._env_proxies:
            return {}
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        with self._lock:
            if key in self._proxy_cache:
                return self._proxy_cache[key]
        if proxy is not None:  # NO_PROXY still says which hosts are reached directly
            found = {} if should_bypass_proxies(url, None) else {"http": proxy, "https": proxy}
        else:
            found = get_environ_proxies(url)
        with self._lock:
            if len(self._proxy_cache) >= 1024:
                self._proxy_cache.clear()
            self._proxy_cache[key] = found
        return found

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()


_transports: OrderedDict[tuple, Transport] = OrderedDict()
_transports_lock = threading.Lock()


def for_settings(settings: CheckSettings) -> Transport:
    """Return this process's Transport for these settings, made on first use.

    The checks of a run share it, so a site's connections (and their TLS sessions) serve its
    page, its policy and its probes. A few are kept, the oldest closed when another is made.
    """
    key = (settings, id(settings.resolver))
    with _transports_lock:
        found = _transports.get(key)
        if found is not None:
            _transports.move_to_end(key)
            return found
        found = _transports[key] = Transport(settings)
        while len(_transports) > 4:
            _, old = _transports.popitem(last=False)
            old.close()
        return found

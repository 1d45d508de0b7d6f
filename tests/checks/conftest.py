"""Real servers on loopback for the URL checks: web sites (HTTP and HTTPS) and hostile servers.

One fixture per component: `ca` (a throwaway certificate authority), `web` (sites that serve
pages a test defines, by name), `raw_server` (servers that misbehave at the socket level),
`connect_log` (every connection this process attempts) and `settings` (check settings that
open loopback and trust the throwaway CA).
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import trustme

from checks.settings import CheckSettings

HERE = os.path.dirname(__file__)
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LOOPBACK = "127.0.0.0/8,::1/128"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CLOSED_PORT = _closed_port()


@dataclass
class Page:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0


Route = Page | Callable[["_Handler"], Page | None]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        site = self.server.site
        site.requests.append(self.path)
        site.user_agents.append(self.headers.get("User-Agent", ""))
        route = site.routes.get(self.path.split("?")[0], site.fallback)
        page = route(self) if callable(route) else route
        if page is None:  # the route wrote the response itself
            return
        if page.delay:
            time.sleep(page.delay)
        body = page.body.encode() if isinstance(page.body, str) else page.body
        self.send_response(page.status)
        headers = {"Content-Type": page.content_type, **page.headers}
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: Site

    def get_request(self):
        sock, addr = super().get_request()
        self.site.connections += 1
        return sock, addr

    def finish_request(self, request, client_address) -> None:
        if self.site.tls is not None:
            request.settimeout(5)
            try:
                request = self.site.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the checker turned the certificate down
        super().finish_request(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class Site:
    """A real HTTP or HTTPS server on a loopback address, serving the routes a test sets."""

    def __init__(self, ip: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
        self.routes: dict[str, Route] = {}
        self.fallback: Route = Page(404, "<title>Not Found</title><h1>Not Found</h1>")
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self.connections = 0
        self.tls = tls
        self.server = (_Server6 if ":" in ip else _Server)((ip, 0), _Handler)
        self.server.site = self
        self.ip, self.port = ip, self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def url(self, path: str = "/") -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Web:
    """Sites by host name: `site` starts servers, `resolve` is the checker's resolver hook."""

    page = Page

    def __init__(self, ca: trustme.CA):
        self.ca = ca
        self.sites: list[Site] = []
        self.names: dict[tuple[str, int], tuple[str, int]] = {}

    def tls_context(self, *names: str, ca: trustme.CA | None = None, **cert_kw) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (ca or self.ca).issue_cert(*names, **cert_kw).configure_cert(ctx)
        return ctx

    def site(self, ip: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Site:
        s = Site(ip, tls)
        self.sites.append(s)
        return s

    def host(self, name: str, *, http: Site | None = None, https: Site | None = None) -> None:
        """Point name:80 and name:443 at the given sites."""
        for port, site in ((80, http), (443, https)):
            if site is not None:
                self.names[(name, port)] = (site.ip, site.port)

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        if (host, port) in self.names:
            return [self.names[(host, port)]]
        if any(h == host for h, _ in self.names):
            return [("127.0.0.1", CLOSED_PORT)]  # the name exists; nothing listens there
        return []

    def healthy(self, name: str, *, policy: str = "<h1>Privacy policy</h1>", home: str = ""):
        """Start http://name/ redirecting to https://name/, whose home page links its policy."""
        secure = self.site(tls=self.tls_context(name))
        secure.routes["/"] = Page(
            body=home or '<title>Home</title><p>Hello</p><a href="/privacy">Privacy policy</a>',
            headers={"Strict-Transport-Security": "max-age=31536000"},
        )
        secure.routes["/privacy"] = Page(body=policy)
        plain = self.site()
        plain.fallback = lambda h: Page(301, headers={"Location": f"https://{name}{h.path}"})
        self.host(name, http=plain, https=secure)
        return plain, secure

    def close(self) -> None:
        for s in self.sites:
            s.close()


@pytest.fixture(autouse=True)
def _no_outside_check_settings(monkeypatch):
    """Keep the developer's REGISTRY_CHECK_* and CA bundle variables out of these tests."""
    for name in list(os.environ):
        if name.startswith("REGISTRY_CHECK_") or name in (
            "REQUESTS_CA_BUNDLE",
            "SSL_CERT_FILE",
            "CURL_CA_BUNDLE",
        ):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def web(ca):
    w = Web(ca)
    yield w
    w.close()


@pytest.fixture
def settings(web, ca_bundle) -> CheckSettings:
    return CheckSettings(
        deadline=5.0,
        connect_timeout=2.0,
        read_timeout=3.0,
        backoff=0.05,
        max_retry_after=2.0,
        allow_networks=LOOPBACK,
        ca_bundle=ca_bundle,
        resolver=web.resolve,
    )


class RawServer:
    """A TCP server that hands each connection to a function: for servers that misbehave."""

    def __init__(self, handle: Callable[[socket.socket, threading.Event], None], ip="127.0.0.1"):
        self.handle = handle
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.ip, self.port = ip, self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str = "/") -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}{path}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            self.handle(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def start(handle, ip="127.0.0.1") -> RawServer:
        s = RawServer(handle, ip)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


_CONNECTS: list[tuple] = []
_RECORDING = threading.Event()


def _is_loopback(address) -> bool:
    try:
        ip = ipaddress.ip_address(address[0].split("%")[0])
    except (ValueError, TypeError, IndexError, AttributeError):
        return False
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect" and _RECORDING.is_set():
        _CONNECTS.append(args[1])
        if not _is_loopback(args[1]):
            # A fence for the guard tests: should the guard ever let one through, the connection
            # is stopped here, so a failing test sends nothing off this machine.
            raise PermissionError(f"test fence: no connecting to {args[1]!r}")


sys.addaudithook(_audit)


@pytest.fixture
def connect_log():
    """Every address this process tries to connect to while the test runs (only loopback ones
    are let through)."""
    _CONNECTS.clear()
    _RECORDING.set()
    yield _CONNECTS
    _RECORDING.clear()


def _check_in_subprocess(url: str, **settings) -> dict:
    """Check a URL in a fresh process; return its report, wall time and peak memory (MB)."""
    code = (
        "import json, resource, sys, time\n"
        "from checks import CheckSettings, check_url\n"
        "t = time.monotonic()\n"
        f"r = check_url({url!r}, settings=CheckSettings(**{settings!r}))\n"
        "took = time.monotonic() - t\n"
        # VmHWM is this process's own peak: ru_maxrss would include pytest's, from before exec
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "for line in open('/proc/self/status'):\n"
        "    if line.startswith('VmHWM:'): rss = int(line.split()[1]) / 1024\n"
        "print(json.dumps({'report': r.to_dict(), 'seconds': took, 'peak_mb': rss}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def check_in_subprocess():
    """Check a URL in a fresh process, to measure its own time and peak memory."""
    return _check_in_subprocess


def days_from_now(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


Web.days_from_now = staticmethod(days_from_now)

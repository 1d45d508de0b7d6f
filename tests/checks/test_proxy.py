"""The checker through a real forward proxy (proxy.py) on loopback, as a trust's network has one.

Every request the proxy is asked to forward is read back from the proxy's own log, so a test
sees what went through it, and what did not. The proxy process loads RecordEveryRequest from
this module: proxy.py's access log has a line per connection only, and none for a connection
whose upstream it could not reach.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proxy.http.proxy import HttpProxyBasePlugin
from sqlmodel import Session, select

from registry.db import get_engine
from registry.entries.schemas import url_key
from registry.models import CheckResult, Resource

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
ASKED = re.compile(r"proxy asked: (\S+) (\S+)$")

_log = logging.getLogger(__name__)


class RecordEveryRequest(HttpProxyBasePlugin):
    """Log each request the proxy is asked to forward (runs inside the proxy process)."""

    _first = None

    def _record(self, request) -> None:
        method = request.method.decode()
        target = f"{(request.host or b'?').decode()}:{request.port}"
        if method != "CONNECT":
            target = f"http://{target}{(request.path or b'').decode()}"
        _log.info("proxy asked: %s %s", method, target)

    def before_upstream_connection(self, request):
        self._first = request  # recorded before the proxy connects, so failures show too
        self._record(request)
        return request

    def handle_client_request(self, request):
        if request is not self._first:  # a later request on the same connection
            self._record(request)
        return request


def _unused_port() -> int:
    """Return a loopback port that nothing listens on (until something is started there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ForwardProxy:
    """proxy.py in its own process on 127.0.0.1, and what it was asked for, read from its log."""

    def __init__(self, workdir: Path):
        self.port = _unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log, self.errors = workdir / "proxy.log", workdir / "proxy.stderr"
        env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT)])
        self._stderr = self.errors.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(self.port),
             "--num-acceptors", "1", "--num-workers", "1", "--log-file", str(self.log),
             "--plugins", f"{__name__}.RecordEveryRequest", "--timeout", "5",
             "--data-dir", str(workdir / "data"), "--cache-dir", str(workdir / "cache"),
             "--ca-cert-dir", str(workdir / "certificates")],
            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )  # fmt: skip
        self._wait_until_listening()
        self._seen = 0

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy.py exited: {self.errors.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("proxy.py did not start listening within 30 s")

    def _all_asked(self) -> list[tuple[str, str]]:
        text = self.log.read_text() if self.log.exists() else ""
        return [m.groups() for line in text.splitlines() if (m := ASKED.search(line))]

    def asked(self) -> list[tuple[str, str]]:
        """Return (method, target) for each request asked of the proxy since the test began."""
        return self._all_asked()[self._seen :]

    def begin(self) -> ForwardProxy:
        self._seen = len(self._all_asked())
        return self

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


@pytest.fixture(scope="module")
def _proxy_process(tmp_path_factory):
    proxy = ForwardProxy(tmp_path_factory.mktemp("proxy"))
    yield proxy
    proxy.stop()


@pytest.fixture
def forward_proxy(_proxy_process) -> ForwardProxy:
    """A real forward proxy on loopback; .asked() lists only this test's requests."""
    return _proxy_process.begin()


@pytest.fixture
def base_env(ca_bundle) -> dict[str, str]:
    """The environment of a checker process: loopback opened, the throwaway CA trusted."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    return {
        **env,
        "REGISTRY_CHECK_ALLOW_NETWORKS": "127.0.0.0/8",
        "REQUESTS_CA_BUNDLE": ca_bundle,
        "REGISTRY_CHECK_DEADLINE": "5",
        "REGISTRY_CHECK_BACKOFF": "0.05",
    }


def registry(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `registry ARGS` in its own process, as a person or cron runs it."""
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_urls(*urls: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run `registry check-url --json URLS`; return the process and its reports by URL."""
    done = registry("check-url", "--json", *urls, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    return done, {r["url"]: r for r in reports}


def healthy_https_site(web):
    """Start an HTTPS site on 127.0.0.1 (also named localhost) with HSTS and a privacy policy."""
    site = web.site(tls=web.tls_context("127.0.0.1", "localhost"))
    site.routes["/"] = web.page(
        body='<title>Calm</title><a href="/privacy">Privacy policy</a>',
        headers={"Strict-Transport-Security": "max-age=31536000"},
    )
    site.routes["/privacy"] = web.page(body="<h1>Privacy policy</h1>")
    return site


def plain_site(web):
    """Start a plain-HTTP site on 127.0.0.1 with a page at /."""
    site = web.site()
    site.routes["/"] = web.page(body='<title>Calm</title><a href="/privacy">Privacy policy</a>')
    site.routes["/privacy"] = web.page(body="<h1>Privacy policy</h1>")
    return site


def test_https_site_is_checked_through_the_checkers_own_proxy(web, forward_proxy, base_env):
    site = healthy_https_site(web)
    env = {**base_env, "REGISTRY_CHECK_PROXY": forward_proxy.url}

    done, reports = check_urls(site.url("/"), env=env)

    report = reports[site.url("/")]
    assert report["liveness"]["status"] == "up", report
    assert report["https"]["status"] == "ok", report
    assert report["privacy"]["status"] == "found", report
    assert ("CONNECT", f"127.0.0.1:{site.port}") in forward_proxy.asked()
    assert site.requests[:1] == ["/"]  # the proxy delivered the page's request to the site


def test_plain_http_site_is_fetched_through_the_environments_proxy(web, forward_proxy, base_env):
    site = plain_site(web)
    env = {**base_env, "HTTP_PROXY": forward_proxy.url, "HTTPS_PROXY": forward_proxy.url}

    done, reports = check_urls(site.url("/"), env=env)

    report = reports[site.url("/")]
    assert report["liveness"]["status"] == "up", report
    assert report["liveness"]["http_status"] == 200
    assert report["privacy"]["status"] == "found", report
    asked = forward_proxy.asked()
    assert ("GET", f"http://127.0.0.1:{site.port}/") in asked
    assert ("GET", f"http://127.0.0.1:{site.port}/privacy") in asked
    assert "/" in site.requests


@pytest.mark.parametrize("proxy_variable", ["REGISTRY_CHECK_PROXY", "HTTPS_PROXY"])
def test_a_site_in_no_proxy_is_fetched_directly(web, forward_proxy, base_env, proxy_variable):
    direct, proxied = healthy_https_site(web), healthy_https_site(web)
    direct_url = f"https://localhost:{direct.port}/"
    env = {**base_env, proxy_variable: forward_proxy.url, "NO_PROXY": "localhost"}

    done, reports = check_urls(direct_url, proxied.url("/"), env=env)

    for url in (direct_url, proxied.url("/")):
        assert reports[url]["liveness"]["status"] == "up", reports[url]
        assert reports[url]["https"]["status"] == "ok", reports[url]
    asked = forward_proxy.asked()
    assert ("CONNECT", f"127.0.0.1:{proxied.port}") in asked  # the proxy was in use
    assert not [a for a in asked if "localhost" in a[1] or f":{direct.port}" in a[1]], asked
    assert "/" in direct.requests


@pytest.mark.parametrize(
    "proxy_env",
    [{"REGISTRY_CHECK_PROXY": "{proxy}"}, {"HTTP_PROXY": "{proxy}", "HTTPS_PROXY": "{proxy}"}],
    ids=["REGISTRY_CHECK_PROXY", "HTTP_PROXY"],
)
def test_the_guard_refuses_loopback_and_metadata_before_the_proxy_is_asked(
    web, forward_proxy, base_env, proxy_env
):
    listening = plain_site(web)  # a real server that would answer, were it asked
    refused = [
        f"http://localhost:{listening.port}/",
        f"http://127.0.0.1:{listening.port}/",
        "http://169.254.169.254/latest/meta-data/",
    ]
    marker = "http://registry-proxy-test.invalid/"  # resolves nowhere here: left to the proxy
    env = {
        **base_env,
        "REGISTRY_CHECK_ALLOW_NETWORKS": "",
        **{k: v.format(proxy=forward_proxy.url) for k, v in proxy_env.items()},
    }

    done, reports = check_urls(*refused, marker, env=env)

    assert done.returncode == 1
    for url in refused:
        liveness = reports[url]["liveness"]
        assert liveness["status"] == "unreachable", reports[url]
        assert "refused by the network guard" in liveness["detail"], liveness
    asked = forward_proxy.asked()
    # The proxy, on loopback itself, is reached although loopback is not allowed...
    assert ("GET", "http://registry-proxy-test.invalid:80/") in asked
    # ...and is never asked for what the guard refused, nor is the server.
    assert [a for a in asked if "registry-proxy-test.invalid" not in a[1]] == []
    assert listening.connections == 0 and listening.requests == []


def test_a_redirect_to_loopback_is_refused_before_the_proxy_is_asked(web, forward_proxy, base_env):
    listening = plain_site(web)
    site = web.site(ip="127.0.0.2")  # the one address the guard is told to allow
    site.routes["/"] = web.page(302, headers={"Location": f"http://localhost:{listening.port}/"})
    env = {
        **base_env,
        "REGISTRY_CHECK_ALLOW_NETWORKS": "127.0.0.2/32",
        "REGISTRY_CHECK_PROXY": forward_proxy.url,
    }

    done, reports = check_urls(site.url("/"), env=env)

    liveness = reports[site.url("/")]["liveness"]
    assert liveness["status"] == "unreachable", liveness
    assert "refused by the network guard" in liveness["detail"], liveness
    asked = forward_proxy.asked()
    assert ("GET", f"http://127.0.0.2:{site.port}/") in asked
    assert not [a for a in asked if "localhost" in a[1]], asked
    assert listening.connections == 0


def test_the_checkers_own_proxy_is_used_over_the_environments(web, forward_proxy, base_env):
    site = healthy_https_site(web)
    nowhere = f"http://127.0.0.1:{_unused_port()}"
    env = {**base_env, "HTTP_PROXY": nowhere, "HTTPS_PROXY": nowhere}
    env["REGISTRY_CHECK_PROXY"] = forward_proxy.url

    done, reports = check_urls(site.url("/"), env=env)

    assert reports[site.url("/")]["liveness"]["status"] == "up", reports
    assert ("CONNECT", f"127.0.0.1:{site.port}") in forward_proxy.asked()


def test_an_https_only_site_passes_through_the_proxy_as_it_does_directly(
    web, forward_proxy, base_env
):
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 80)) == 0:
            pytest.skip("something listens on 127.0.0.1:80 here, so the site is not HTTPS-only")
    site = healthy_https_site(web)  # nothing on port 80: no plain HTTP to redirect from

    _, direct = check_urls(site.url("/"), env=base_env)
    _, proxied = check_urls(
        site.url("/"), env={**base_env, "REGISTRY_CHECK_PROXY": forward_proxy.url}
    )

    assert direct[site.url("/")]["verdict"] == "pass", direct
    report = proxied[site.url("/")]
    # The proxy's "502 Bad Gateway" for http://127.0.0.1/ is not the site serving plain HTTP.
    assert ("GET", "http://127.0.0.1:80/") in forward_proxy.asked()
    assert report["https"]["redirects_http_to_https"] is not False, report["https"]
    assert report["verdict"] == "pass", report


def test_a_proxy_that_is_down_is_named_in_the_report(web, base_env):
    site = healthy_https_site(web)
    env = {**base_env, "REGISTRY_CHECK_PROXY": f"http://127.0.0.1:{_unused_port()}"}

    done, reports = check_urls(site.url("/"), env=env)

    assert done.returncode == 1
    liveness = reports[site.url("/")]["liveness"]
    assert liveness["status"] == "unreachable"
    # The site is fine; a person must be told it is the proxy that could not be reached.
    assert "proxy" in liveness["detail"].lower(), liveness
    assert site.connections == 0


@pytest.mark.parametrize("bad", ["ftp://x", "not a url"])
def test_a_bad_proxy_setting_is_bad_usage_naming_the_variable(web, base_env, bad):
    site = plain_site(web)

    done = registry("check-url", site.url("/"), env={**base_env, "REGISTRY_CHECK_PROXY": bad})

    assert done.returncode == 2
    assert "REGISTRY_CHECK_PROXY" in done.stderr and repr(bad) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == "" and site.connections == 0


def test_the_nightly_job_stores_a_pass_for_a_site_reached_through_the_proxy(
    web, forward_proxy, base_env, make_app, tmp_path
):
    site = healthy_https_site(web)
    header = (ROOT / "tests" / "fixtures" / "small.csv").read_text().splitlines()[0]
    empty = tmp_path / "empty.csv"
    empty.write_text(header + "\n")
    app = make_app(seed=empty)
    with Session(get_engine(app)) as session:
        entry = Resource(
            name="Calm",
            url=site.url("/"),
            url_key=url_key(site.url("/")),
            kind="website",
            state="recommended",
            decision="recommended",
        )
        session.add(entry)
        session.commit()
        entry_id = entry.id
    env = {
        **base_env,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": "test-secret",
        "REGISTRY_BASE_URL": "https://registry.test",
        "HTTPS_PROXY": forward_proxy.url,
    }

    done = registry("check", "--no-progress", env=env)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    with Session(get_engine(app)) as session:
        [result] = session.exec(select(CheckResult).where(CheckResult.resource_id == entry_id))
    assert result.verdict == "pass", result.report
    asked = forward_proxy.asked()
    assert ("CONNECT", f"127.0.0.1:{site.port}") in asked
    assert [a for a in asked if a[0] != "CONNECT"] == []  # no HTTP_PROXY: plain HTTP goes direct

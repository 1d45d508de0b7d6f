"""The checker's transport: requests with the guard as its adapter, one connection per site."""

from __future__ import annotations

import requests

import checks
from checks import transport


def test_a_sites_page_policy_and_probe_share_one_tls_connection(web, settings, connect_log):
    _, secure = web.healthy("clinic.example")
    report = checks.check_url("https://clinic.example/", settings=settings)
    assert report.verdict == "pass", report.to_dict()
    # The page, the probe for a soft 404 and the privacy policy: three requests over HTTPS...
    assert len(secure.requests) >= 3, secure.requests
    # ...over one connection (and one TLS handshake) to the HTTPS port.
    assert secure.connections == 1, secure.requests
    assert [a for a in connect_log if a[1] == secure.port] == [("127.0.0.1", secure.port)]


def test_the_session_is_requests_own_with_the_guard_mounted(settings):
    session = transport.for_settings(settings).session(verify=True)
    assert isinstance(session, requests.Session)
    for prefix in ("http://", "https://"):
        assert isinstance(session.get_adapter(prefix + "example.org/"), transport.GuardedAdapter)


def test_response_hooks_on_the_session_see_every_answer(web, settings):
    web.healthy("hooks.example")
    seen: list[int] = []
    session = transport.for_settings(settings).session(verify=True)
    session.hooks["response"].append(lambda r, **_: seen.append(r.status_code))
    try:
        checks.check_url("http://hooks.example/", settings=settings)
    finally:
        session.hooks["response"].clear()
    assert 301 in seen and 200 in seen


def test_a_url_requests_cannot_send_is_refused_before_any_fetch(settings, connect_log):
    # A host name with an empty label: urlsplit takes it, requests cannot prepare it.
    report = checks.check_url("http://.example.org/", settings=settings)
    assert report.liveness.status == "unreachable"
    assert "not a URL the checker can fetch" in report.liveness.detail
    assert connect_log == []

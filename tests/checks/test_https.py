"""HTTPS against real TLS servers with certificates from a throwaway CA (trustme)."""

import trustme

from checks import check_url


def _tls_site(web, name, **cert):
    """https://name/ with the given certificate options, and http://name/ redirecting to it."""
    ctx = web.tls_context(cert.pop("cert_name", name), **cert)
    secure = web.site(tls=ctx)
    secure.routes["/"] = web.page(body='<title>Hi</title><a href="/privacy">Privacy notice</a>')
    secure.routes["/privacy"] = web.page(body="policy")
    plain = web.site()
    plain.fallback = lambda h: web.page(301, headers={"Location": f"https://{name}{h.path}"})
    web.host(name, http=plain, https=secure)
    return plain, secure


def test_expired_certificate_fails_but_the_site_is_still_seen_up(web, settings):
    _tls_site(
        web, "expired.test", not_before=web.days_from_now(-30), not_after=web.days_from_now(-2)
    )
    report = check_url("http://expired.test/", settings=settings)
    assert report.https.status == "cert_expired"
    assert "expired" in report.https.detail
    assert report.https.redirects_http_to_https is True
    assert report.liveness.status == "up"
    assert report.verdict == "fail"


def test_certificate_from_an_unknown_issuer_is_untrusted(web, settings):
    _tls_site(web, "selfsigned.test", ca=trustme.CA())
    report = check_url("https://selfsigned.test/", settings=settings)
    assert report.https.status == "cert_untrusted"
    assert report.verdict == "fail"


def test_certificate_for_another_name_is_a_hostname_mismatch(web, settings):
    _tls_site(web, "wrongname.test", cert_name="someone-else.test")
    report = check_url("https://wrongname.test/", settings=settings)
    assert report.https.status == "hostname_mismatch"
    assert report.https.cert_days_left is None
    assert report.verdict == "fail"


def test_certificate_expiring_within_two_weeks_warns(web, settings):
    _tls_site(web, "expiring.test", not_after=web.days_from_now(5.5))
    report = check_url("http://expiring.test/", settings=settings)
    assert report.https.status == "ok"
    assert report.https.cert_days_left == 5
    assert report.verdict == "warn"


def test_site_without_https_fails_as_no_https(web, settings):
    plain = web.site()
    plain.routes["/"] = web.page(body='<a href="/privacy">Privacy</a>')
    plain.routes["/privacy"] = web.page(body="policy")
    web.host("plain.test", http=plain)
    report = check_url("http://plain.test/", settings=settings)
    assert report.liveness.status == "up"
    assert report.https.status == "no_https"
    assert report.https.redirects_http_to_https is False
    assert report.https.hsts is None
    assert report.verdict == "fail"


def test_https_offered_but_http_not_redirected_warns(web, settings):
    secure = web.site(tls=web.tls_context("both.test"))
    secure.routes["/"] = web.page(body='<a href="/privacy">Privacy</a>')
    secure.routes["/privacy"] = web.page(body="policy")
    plain = web.site()
    plain.routes["/"] = web.page(body="same site over plain http")
    web.host("both.test", http=plain, https=secure)
    report = check_url("https://both.test/", settings=settings)
    assert report.https.status == "ok"
    assert report.https.redirects_http_to_https is False
    assert report.https.hsts is False
    assert report.verdict == "warn"
    assert plain.requests == ["/"]


def test_plain_http_on_the_https_port_is_a_tls_error(web, settings):
    not_tls = web.site()
    not_tls.fallback = web.page(body="I speak plain HTTP")
    web.host("notls.test", https=not_tls)
    report = check_url("https://notls.test/", settings=settings)
    assert report.https.status == "tls_error"
    assert report.verdict == "fail"


def test_https_only_site_without_port_80_passes(web, settings):
    secure = web.site(tls=web.tls_context("only.test"))
    secure.routes["/"] = web.page(
        body='<a href="/privacy">Privacy</a>', headers={"Strict-Transport-Security": "max-age=600"}
    )
    secure.routes["/privacy"] = web.page(body="policy")
    web.host("only.test", https=secure)
    report = check_url("https://only.test/", settings=settings)
    assert report.https.redirects_http_to_https is None  # could not be told: nothing on port 80
    assert report.verdict == "pass"


def test_checker_trusts_the_bundle_from_requests_ca_bundle(web, ca_bundle):
    from checks.settings import CheckSettings

    env = {"REQUESTS_CA_BUNDLE": ca_bundle, "REGISTRY_CHECK_ALLOW_NETWORKS": "127.0.0.0/8"}
    settings = CheckSettings.from_env(env).with_(resolver=web.resolve)
    web.healthy("bundle.test")
    assert check_url("http://bundle.test/", settings=settings).https.status == "ok"
    without = CheckSettings.from_env({"REGISTRY_CHECK_ALLOW_NETWORKS": "127.0.0.0/8"})
    report = check_url("http://bundle.test/", settings=without.with_(resolver=web.resolve))
    assert report.https.status == "cert_untrusted"

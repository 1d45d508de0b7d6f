"""Liveness against real loopback servers: up, down, unreachable, blocked, parked, soft 404."""

import time

import pytest

from checks import check_url, check_urls
from checks.settings import USER_AGENT


def test_healthy_site_passes_all_three_checks(web, settings):
    web.healthy("good.test")
    report = check_url("http://good.test/", settings=settings)
    d = report.to_dict()
    assert d["verdict"] == "pass", d
    assert d["final_url"] == "https://good.test/"
    assert d["liveness"] == {
        "status": "up",
        "http_status": 200,
        "redirects": 1,
        "elapsed_ms": d["liveness"]["elapsed_ms"],
        "detail": "",
    }
    assert d["https"]["status"] == "ok"
    assert d["https"]["redirects_http_to_https"] is True
    assert d["https"]["hsts"] is True
    assert d["https"]["cert_days_left"] > 300
    assert d["privacy"]["status"] == "found"
    assert d["privacy"]["policy_url"] == "https://good.test/privacy"
    assert len(d["privacy"]["fingerprint"]) == 64


def test_checker_names_itself_honestly_to_the_site(web, settings):
    _, secure = web.healthy("ua.test")
    check_url("http://ua.test/", settings=settings)
    assert secure.user_agents and set(secure.user_agents) == {USER_AGENT}


def test_missing_page_is_down(web, settings):
    web.healthy("gone.test")
    report = check_url("https://gone.test/old-page", settings=settings)
    assert report.liveness.status == "down"
    assert report.liveness.http_status == 404
    assert report.verdict == "fail"


def test_gone_page_410_is_down(web, settings):
    _, secure = web.healthy("gone410.test")
    secure.routes["/x"] = web.page(410, "gone")
    assert check_url("https://gone410.test/x", settings=settings).liveness.status == "down"


def test_persistent_server_error_is_down_after_retries(web, settings):
    _, secure = web.healthy("err.test")
    secure.routes["/"] = web.page(500, "oops")
    report = check_url("https://err.test/", settings=settings)
    assert report.liveness.status == "down"
    assert report.liveness.http_status == 500
    assert "after 3 attempts" in report.liveness.detail
    assert secure.requests.count("/") == 3  # two retries before it is recorded


def test_transient_server_error_is_retried_and_the_site_is_up(web, settings):
    _, secure = web.healthy("flaky.test")
    answers = [web.page(503, "busy"), web.page(502, "busy")]
    home = secure.routes["/"]
    secure.routes["/"] = lambda h: answers.pop(0) if answers else home
    report = check_url("https://flaky.test/", settings=settings)
    assert report.liveness.status == "up"
    assert secure.requests.count("/") == 3


def test_retry_after_is_honoured_before_the_retry(web, settings):
    _, secure = web.healthy("slowdown.test")
    home = secure.routes["/"]
    answers = [web.page(429, "slow down", headers={"Retry-After": "1"})]
    secure.routes["/"] = lambda h: answers.pop(0) if answers else home
    started = time.monotonic()
    report = check_url("https://slowdown.test/", settings=settings)
    assert report.liveness.status == "up"
    assert time.monotonic() - started >= 1.0


def test_retry_after_longer_than_the_bound_is_not_waited_for(web, settings):
    _, secure = web.healthy("toolong.test")
    secure.routes["/"] = web.page(503, "later", headers={"Retry-After": "3600"})
    started = time.monotonic()
    report = check_url("https://toolong.test/", settings=settings)
    assert time.monotonic() - started < 2.0
    assert report.liveness.status == "down"
    assert "Retry-After" in report.liveness.detail or "503" in report.liveness.detail
    assert secure.requests.count("/") == 1


def test_persistent_429_is_blocked_not_dead(web, settings):
    _, secure = web.healthy("ratelimit.test")
    secure.routes["/"] = web.page(429, "too many", headers={"Retry-After": "0"})
    report = check_url("https://ratelimit.test/", settings=settings)
    assert report.liveness.status == "blocked"
    assert report.verdict == "warn"
    assert secure.requests.count("/") == 3


def test_403_is_blocked_and_needs_a_person(web, settings):
    _, secure = web.healthy("forbidden.test")
    secure.routes["/"] = web.page(403, "<title>Forbidden</title>")
    report = check_url("https://forbidden.test/", settings=settings)
    assert report.liveness.status == "blocked"
    assert report.verdict == "warn"
    assert report.privacy.status == "not_checked"


def test_401_is_blocked(web, settings):
    _, secure = web.healthy("login.test")
    secure.routes["/"] = web.page(401, "login", headers={"WWW-Authenticate": "Basic"})
    assert check_url("https://login.test/", settings=settings).liveness.status == "blocked"


def test_bot_challenge_503_is_blocked_without_hammering(web, settings):
    _, secure = web.healthy("cf.test")
    challenge = "<title>Just a moment...</title><script src='/cdn-cgi/challenge-platform/x'>"
    secure.routes["/"] = web.page(503, challenge, headers={"cf-mitigated": "challenge"})
    report = check_url("https://cf.test/", settings=settings)
    assert report.liveness.status == "blocked"
    assert "challenge" in report.liveness.detail.lower()
    assert secure.requests.count("/") == 1


def test_challenge_page_without_header_is_blocked(web, settings):
    _, secure = web.healthy("ddos.test")
    secure.routes["/"] = web.page(403, "<title>DDoS-Guard</title>checking your browser")
    assert check_url("https://ddos.test/", settings=settings).liveness.status == "blocked"


def test_refused_connection_is_unreachable(settings):
    report = check_url("http://127.0.0.1:9/", settings=settings)
    assert report.liveness.status == "unreachable"
    assert "refused" in report.liveness.detail
    assert report.verdict == "fail"
    assert report.privacy.status == "not_checked"


def test_name_that_does_not_resolve_is_unreachable(settings):
    report = check_url("https://no-such-host.test/", settings=settings)
    assert report.liveness.status == "unreachable"
    assert "does not resolve" in report.liveness.detail


def test_for_sale_page_is_parked(web, settings):
    _, secure = web.healthy("forsale.test")
    secure.routes["/"] = web.page(
        body="<title>forsale.test</title><h1>This domain is for sale!</h1><p>Make an offer.</p>"
    )
    report = check_url("https://forsale.test/", settings=settings)
    assert report.liveness.status == "parked"
    assert report.verdict == "fail"


def test_dead_site_redirecting_to_a_parking_host_is_parked(web, settings):
    _, secure = web.healthy("lapsed.test")
    parking = web.site()
    parking.fallback = web.page(body="<p>Related searches</p>")
    web.host("ww1.sedoparking.com", http=parking)
    secure.routes["/"] = web.page(302, headers={"Location": "http://ww1.sedoparking.com/?d=x"})
    report = check_url("https://lapsed.test/", settings=settings)
    assert report.liveness.status == "parked"
    assert "sedoparking.com" in report.liveness.detail


def test_parking_script_page_is_parked(web, settings):
    _, secure = web.healthy("lander.test")
    secure.routes["/"] = web.page(
        body='<html><head><script>window.location.href="/lander"</script></head></html>'
    )
    assert check_url("https://lander.test/", settings=settings).liveness.status == "parked"


def _catch_all(web, name):
    _, secure = web.healthy(name)
    secure.fallback = web.page(
        200, "<title>Page not found | Example</title><h1>Sorry, that page is not here</h1>"
    )
    return secure


def test_not_found_page_served_with_200_is_soft_404(web, settings):
    _catch_all(web, "soft.test")
    report = check_url("https://soft.test/resources/moodapp", settings=settings)
    assert report.liveness.status == "soft_404"
    assert report.liveness.http_status == 200
    assert report.verdict == "fail"


def test_soft_404_site_still_shows_its_real_pages_as_up(web, settings):
    secure = _catch_all(web, "soft2.test")
    secure.routes["/resources/moodapp"] = web.page(
        body="<title>MoodApp</title><h1>MoodApp</h1><p>Track your mood daily.</p>"
        '<a href="/privacy">Privacy</a>'
    )
    report = check_url("https://soft2.test/resources/moodapp", settings=settings)
    assert report.liveness.status == "up", report.liveness.detail


def test_missing_page_redirected_to_home_is_soft_404(web, settings):
    _, secure = web.healthy("tohome.test")
    secure.fallback = web.page(302, headers={"Location": "/"})
    report = check_url("https://tohome.test/apps/old-tool", settings=settings)
    assert report.liveness.status == "soft_404"


def test_generic_error_page_identical_to_a_missing_path_is_soft_404(web, settings):
    _, secure = web.healthy("generic.test")
    secure.fallback = lambda h: web.page(
        body=f"<title>Example charity</title><p>Oops! We looked everywhere for {h.path}.</p>"
        "<p>Try our search or go back to the start.</p>"
    )
    report = check_url("https://generic.test/help/forum", settings=settings)
    assert report.liveness.status == "soft_404"


def test_page_with_404_in_its_name_is_not_mistaken_for_not_found(web, settings):
    _, secure = web.healthy("room404.test")
    secure.routes["/"] = web.page(body='<title>Resource 404</title><a href="/privacy">Privacy</a>')
    assert check_url("https://room404.test/", settings=settings).liveness.status == "up"


def test_listing_page_that_answers_for_any_child_path_is_up(web, settings):
    _, secure = web.healthy("listing.test")
    listing = web.page(body="<title>Apps</title><h1>Apps we list</h1><p>MoodApp, CalmApp</p>")
    secure.routes["/apps/"] = listing
    secure.fallback = lambda h: listing if h.path.startswith("/apps/") else web.page(404, "no")
    assert check_url("https://listing.test/apps/", settings=settings).liveness.status == "up"


def test_page_titled_like_an_error_but_full_of_content_is_up(web, settings):
    _, secure = web.healthy("content.test")
    text = "<p>Talk to someone today. Our helpline is open every day of the year.</p>" * 80
    secure.routes["/help"] = web.page(body=f"<title>Can't find the words?</title>{text}")
    assert check_url("https://content.test/help", settings=settings).liveness.status == "up"


def test_home_page_of_a_catch_all_site_is_up(web, settings):
    _, secure = web.healthy("spa.test")
    shell = '<title>App</title><div id="root"></div><script src="/app.js"></script>'
    secure.routes["/"] = web.page(body=shell + '<a href="/privacy">Privacy</a>')
    secure.fallback = web.page(body=shell)
    assert check_url("https://spa.test/", settings=settings).liveness.status == "up"


def test_redirect_loop_is_down(web, settings):
    _, secure = web.healthy("loop.test")
    secure.routes["/a"] = web.page(302, headers={"Location": "/b"})
    secure.routes["/b"] = web.page(302, headers={"Location": "/a"})
    report = check_url("https://loop.test/a", settings=settings)
    assert report.liveness.status == "down"
    assert "loop" in report.liveness.detail


def test_too_many_redirects_is_down(web, settings):
    _, secure = web.healthy("chain.test")
    secure.fallback = lambda h: web.page(302, headers={"Location": h.path + "x"})
    report = check_url("https://chain.test/r", settings=settings.with_(max_redirects=5))
    assert report.liveness.status == "down"
    assert "more than 5 redirects" in report.liveness.detail
    assert len(secure.requests) == 6


def test_site_that_needs_its_cookie_back_is_up_not_a_redirect_loop(web, settings):
    _, secure = web.healthy("cookie.test")
    home = secure.routes["/"]

    def needs_cookie(handler):
        if "visited=1" in (handler.headers.get("Cookie") or ""):
            return home
        return web.page(302, headers={"Location": "/", "Set-Cookie": "visited=1; Path=/"})

    secure.routes["/"] = needs_cookie
    report = check_url("https://cookie.test/", settings=settings)
    assert report.liveness.status == "up", report.liveness.detail


def test_retry_after_given_as_a_date_is_understood():
    from email.utils import formatdate

    from checks.wire import retry_after

    assert retry_after({"Retry-After": "7"}) == 7
    assert 3 < retry_after({"Retry-After": formatdate(time.time() + 5, usegmt=True)}) <= 5
    assert retry_after({"Retry-After": "soon"}) is None


@pytest.mark.parametrize("bad", ["www.example.org", "http://[bad", "javascript:alert(1)"])
def test_malformed_url_from_the_registry_is_reported_not_raised(settings, bad):
    [report] = check_urls([bad], settings=settings)
    assert report.verdict == "fail"
    assert report.liveness.detail.startswith("not a URL the checker can fetch")

"""App-store links: listed, removed (404, 410, the store's own "not available" page), blocked,
unreachable, and what each does to the verdict; against HTTPS servers standing in for the stores."""

from types import SimpleNamespace

import pytest

import checks
from checks import Target, check_target, check_url

APPLE = "apps.apple.test"
PLAY = "play.google.test"
ENTRY = "https://entry.test/"
STORE_KEYS = {"store", "url", "status", "http_status", "last_updated", "version", "detail"}
LISTING = (
    "<title>Calm Mind on the App Store</title><h1>Calm Mind</h1>"
    "<p>Breathing exercises for anxious moments.</p>"
    # A real listing may say such things in its reviews: they must not read as "removed".
    + "<p>Review: the old sleep sounds are no longer available, sadly. Not found a better app.</p>"
    * 60
)


@pytest.fixture
def store(web):
    """Start HTTPS servers for both stores and a healthy entry site; return the store servers."""
    apple = web.site(tls=web.tls_context(APPLE))
    play = web.site(tls=web.tls_context(PLAY))
    web.host(APPLE, https=apple)
    web.host(PLAY, https=play)
    web.healthy("entry.test")
    return SimpleNamespace(apple=apple, play=play)


def _apple(path="/gb/app/calm-mind/id123456789"):
    return f"https://{APPLE}{path}"


def _play(path="/store/apps/details"):
    return f"https://{PLAY}{path}?id=org.calm"


def test_an_entry_whose_apps_are_listed_passes_with_a_store_line_each(web, store, settings):
    store.apple.routes["/gb/app/calm-mind/id123456789"] = web.page(body=LISTING)
    store.play.routes["/store/apps/details"] = web.page(body=LISTING.replace("App Store", "Play"))
    report = check_target(Target(ENTRY, ios_url=_apple(), android_url=_play()), settings=settings)
    assert report.verdict == "pass", report.to_dict()
    got = report.to_dict()["stores"]
    assert got == [
        {
            "store": "app_store",
            "url": _apple(),
            "status": "listed",
            "http_status": 200,
            "last_updated": None,
            "version": None,
            "detail": "",
        },
        {
            "store": "google_play",
            "url": _play(),
            "status": "listed",
            "http_status": 200,
            "last_updated": None,
            "version": None,
            "detail": "",
        },
    ]
    assert all(set(s) == STORE_KEYS for s in got)


def test_an_entry_without_store_links_reports_an_empty_list(store, settings):
    report = check_url(ENTRY, settings=settings)
    assert report.to_dict()["stores"] == []
    assert report.verdict == "pass"


def test_the_store_comes_from_the_field_not_the_host(web, store, settings):
    store.play.routes["/app"] = web.page(body=LISTING)
    store.apple.routes["/app"] = web.page(body=LISTING)
    ios_on_play, android_on_apple = f"https://{PLAY}/app", f"https://{APPLE}/app"
    report = check_url(ENTRY, settings=settings, ios_url=ios_on_play, android_url=android_on_apple)
    assert [(s.store, s.url) for s in report.stores] == [
        ("app_store", ios_on_play),
        ("google_play", android_on_apple),
    ]


@pytest.mark.parametrize("status", [404, 410])
def test_a_listing_that_answers_gone_is_removed_and_fails_the_entry(web, store, settings, status):
    store.apple.routes["/gb/app/calm-mind/id123456789"] = web.page(body=LISTING)
    store.play.fallback = web.page(status, "<title>Not Found</title>")
    report = check_target(Target(ENTRY, ios_url=_apple(), android_url=_play()), settings=settings)
    apple, play = report.stores
    assert apple.status == "listed"
    assert (play.status, play.http_status) == ("removed", status)
    assert play.detail == f"the listing answers {status}"
    assert report.verdict == "fail"


@pytest.mark.parametrize(
    "body",
    [
        "<title>App Store</title><h1>This app is currently not available in your country or "
        "region.</h1>",
        "<title>Calm Mind</title><p>This app is no longer available on the App Store.</p>",
        "<title>Not Found</title><p>We’re sorry, the requested URL was not found on this "
        "server.</p>",
        "<title>Google Play</title><h1>Item not found.</h1>",
        "<title>Google Play</title><p>We're sorry, the requested URL was not found on this "
        "server.</p>",
    ],
)
def test_the_stores_own_not_available_page_answering_200_is_removed(web, store, settings, body):
    store.apple.fallback = web.page(body=body)
    store.play.fallback = web.page(body=body)
    report = check_url(ENTRY, settings=settings, ios_url=_apple(), android_url=_play())
    assert [s.status for s in report.stores] == ["removed", "removed"]
    assert all(s.http_status == 200 and "the store says" in s.detail for s in report.stores)
    assert report.verdict == "fail"


@pytest.mark.parametrize(
    "status, headers, body, says",
    [
        (403, {}, "Forbidden", "the store refused the checker (HTTP 403)"),
        (429, {"Retry-After": "0"}, "Slow down", "kept answering 429 Too Many Requests"),
        (403, {}, "<title>Just a moment...</title>", "the store challenged the checker"),
        (200, {"cf-mitigated": "challenge"}, "<title>Calm</title>", "challenged the checker"),
    ],
)
def test_a_store_that_refuses_the_checker_is_blocked_and_only_warns(
    web, store, settings, status, headers, body, says
):
    store.play.fallback = web.page(status, body, headers)
    report = check_url(ENTRY, settings=settings, android_url=_play())
    [play] = report.stores
    assert (play.status, play.http_status) == ("blocked", status)
    assert says in play.detail
    assert report.verdict == "warn"


def test_a_store_that_keeps_failing_is_unreachable_and_only_warns(web, store, settings):
    store.apple.fallback = web.page(503, "<title>Service Unavailable</title>")
    report = check_url(ENTRY, settings=settings, ios_url=_apple())
    [apple] = report.stores
    assert (apple.status, apple.http_status) == ("unreachable", 503)
    assert "after 3 attempts" in apple.detail
    assert report.verdict == "warn"


def test_a_store_slower_than_the_deadline_is_unreachable(web, store, settings):
    store.apple.fallback = web.page(body=LISTING, delay=2.5)
    report = check_url(ENTRY, settings=settings.with_(deadline=1.0), ios_url=_apple())
    [apple] = report.stores
    assert apple.status == "unreachable"
    assert "deadline" in apple.detail
    assert report.liveness.status == "up"  # the page had a deadline of its own
    assert report.verdict == "warn"


def test_a_store_link_that_does_not_resolve_is_unreachable(store, settings):
    report = check_url(ENTRY, settings=settings, ios_url="https://no-such-store.test/app")
    [apple] = report.stores
    assert (apple.status, apple.http_status) == ("unreachable", None)
    assert report.verdict == "warn"


def test_a_store_link_on_a_private_network_is_refused_by_the_guard(web, store, ca_bundle):
    web.host("store.internal", https=store.apple)
    strict = checks.CheckSettings(ca_bundle=ca_bundle, resolver=web.resolve, deadline=3)
    [apple] = check_url("https://store.internal/", settings=strict, ios_url=_apple()).stores
    assert apple.status == "unreachable"
    assert store.apple.requests == []


def test_a_removed_app_fails_even_a_blocked_page(web, store, settings):
    web.healthy("guarded.test")[1].routes["/"] = web.page(403, "Forbidden")
    store.play.fallback = web.page(404, "gone")
    report = check_url("https://guarded.test/", settings=settings, android_url=_play())
    assert report.liveness.status == "blocked"
    assert report.verdict == "fail"


def test_a_store_check_that_crashes_fails_the_entry_and_says_so(store, settings, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("store parser bug")

    monkeypatch.setattr(checks.stores, "check", crash)
    report = check_url(ENTRY, settings=settings, ios_url=_apple())
    [apple] = report.stores
    assert apple.detail == "the checker failed: RuntimeError: store parser bug"
    assert report.liveness.status == "up"
    assert report.verdict == "fail"


def test_a_target_carries_its_phone_numbers_without_a_contacts_section(store, settings):
    target = Target(ENTRY, phone_numbers=["116 123"])
    assert target.phone_numbers == ("116 123",)
    assert "contacts" not in check_target(target, settings=settings).to_dict()

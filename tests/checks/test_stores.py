"""App-store links: listed, removed (404, 410, the store's own "not available" page), blocked,
unreachable, and what each does to the verdict; against HTTPS servers standing in for the stores."""

import json
import time
from types import SimpleNamespace

import pytest

import checks
from checks import CheckSettings, SettingsError, Target, check_target, check_url

APPLE = "apps.apple.test"
PLAY = "play.google.test"
LOOKUP = "lookup.apple.test"
ENTRY = "https://entry.test/"
STORE_KEYS = {"store", "url", "status", "http_status", "last_updated", "version", "detail"}
LISTING = (
    "<title>Calm Mind on the App Store</title><h1>Calm Mind</h1>"
    "<p>Breathing exercises for anxious moments.</p>"
    # A real listing may say such things in its reviews: they must not read as "removed".
    + "<p>Review: the old sleep sounds are no longer available, sadly. Not found a better app.</p>"
    * 60
)


def _lookup_answer(version="3.2", released="2026-08-01T07:00:00Z", track=123456789) -> str:
    """Answer as Apple's lookup service does for one app."""
    app = {"trackId": track, "trackName": "Calm Mind", "version": version}
    if released is not None:
        app["currentVersionReleaseDate"] = released
    return json.dumps({"resultCount": 1, "results": [app]})


def _play_listing(updated="Nov 12, 2025", version="3.2.1", stamp=1762905600) -> str:
    """A Google Play listing: the About section's text and the app's data, as Play embeds it."""
    details: list = [None] * 146
    details[140] = [[[version]], [[[34]], [[[24, "7.0"]]]]]
    details[145] = [[updated or "", [stamp, 0] if stamp else None]]
    data = json.dumps([None, [None, None, details]])
    about = f"<div>Updated on</div><div>{updated}</div>" if updated else ""
    return (
        "<title>Calm Mind - Apps on Google Play</title><h1>Calm Mind</h1>"
        "<section><h2>About this app</h2><div>Breathing exercises for anxious moments. "
        f"Updated on Jan 3, 2020 with sleep sounds.</div>{about}</section>"
        "<section><h2>Ratings and reviews</h2><p>Updated on and on, then stopped.</p></section>"
        "<script>AF_initDataCallback({key: 'ds:1', hash: '1', data:[[1,2,[3]]], sideChannel: {}});"
        "</script><script class=\"ds:5\">AF_initDataCallback({key: 'ds:5', hash: '7', data:"
        f"{data}, sideChannel: {{}}}});</script>"
    )


@pytest.fixture
def store(web):
    """Start HTTPS servers for both stores, Apple's lookup and a healthy entry site."""
    apple = web.site(tls=web.tls_context(APPLE))
    play = web.site(tls=web.tls_context(PLAY))
    lookup = web.site(tls=web.tls_context(LOOKUP))
    web.host(APPLE, https=apple)
    web.host(PLAY, https=play)
    web.host(LOOKUP, https=lookup)
    web.healthy("entry.test")
    return SimpleNamespace(apple=apple, play=play, lookup=lookup)


@pytest.fixture
def settings(settings):
    """The loopback settings, with Apple's lookup on its loopback server."""
    return settings.with_(app_store_lookup=f"https://{LOOKUP}/lookup")


def _apple(path="/gb/app/calm-mind/id123456789"):
    return f"https://{APPLE}{path}"


def _play(path="/store/apps/details"):
    return f"https://{PLAY}{path}?id=org.calm"


def test_an_entry_whose_apps_are_listed_passes_with_a_store_line_each(web, store, settings):
    store.apple.routes["/gb/app/calm-mind/id123456789"] = web.page(body=LISTING)
    store.lookup.routes["/lookup"] = web.page(body=_lookup_answer(), content_type="text/javascript")
    store.play.routes["/store/apps/details"] = web.page(body=_play_listing())
    report = check_target(Target(ENTRY, ios_url=_apple(), android_url=_play()), settings=settings)
    assert report.verdict == "pass", report.to_dict()
    got = report.to_dict()["stores"]
    assert got == [
        {
            "store": "app_store",
            "url": _apple(),
            "status": "listed",
            "http_status": 200,
            "last_updated": "2026-08-01",
            "version": "3.2",
            "detail": "",
        },
        {
            "store": "google_play",
            "url": _play(),
            "status": "listed",
            "http_status": 200,
            "last_updated": "2025-11-12",
            "version": "3.2.1",
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


def test_a_target_given_numbers_reports_one_contact_each(store, settings):
    target = Target(ENTRY, phone_numbers=["116 123"])
    assert target.phone_numbers == ("116 123",)
    contacts = check_target(target, settings=settings).to_dict()["contacts"]
    assert [(c["number"], c["status"]) for c in contacts] == [("116 123", "missing")]


def _listed_on_the_app_store(web, store, path="/gb/app/calm-mind/id123456789"):
    store.apple.routes[path] = web.page(body=LISTING)
    return f"https://{APPLE}{path}"


def test_an_app_store_listing_is_looked_up_once_in_its_own_country(web, store, settings):
    gb = _listed_on_the_app_store(web, store)
    anywhere = _listed_on_the_app_store(web, store, "/app/calm-mind/id987654321")
    answers = {"123456789": _lookup_answer(), "987654321": _lookup_answer("1.0", track=987654321)}
    store.lookup.routes["/lookup"] = lambda h: web.page(body=answers[h.path.split("id=")[1][:9]])
    first = check_url(ENTRY, settings=settings, ios_url=gb).stores[0]
    second = check_url(ENTRY, settings=settings, ios_url=anywhere).stores[0]
    assert (first.status, first.version, first.last_updated) == ("listed", "3.2", "2026-08-01")
    assert (second.status, second.version) == ("listed", "1.0")
    assert store.lookup.requests == ["/lookup?id=123456789&country=gb", "/lookup?id=987654321"]
    assert "SMIResourceRegistry" in store.lookup.user_agents[0]  # the checker's own fetcher


def test_the_lookup_date_is_the_current_versions_day_in_utc(web, store, settings):
    ios = _listed_on_the_app_store(web, store)
    late = _lookup_answer("4.0.1", released="2026-07-31T23:30:00-08:00")
    store.lookup.routes["/lookup"] = web.page(body=late)
    [apple] = check_url(ENTRY, settings=settings, ios_url=ios).stores
    assert (apple.version, apple.last_updated, apple.detail) == ("4.0.1", "2026-08-01", "")


def test_an_app_the_lookup_does_not_know_stays_listed_and_says_so(web, store, settings):
    ios = _listed_on_the_app_store(web, store)
    store.lookup.routes["/lookup"] = web.page(body='{"resultCount": 0, "results": []}')
    report = check_url(ENTRY, settings=settings, ios_url=ios)
    [apple] = report.stores
    assert (apple.status, apple.version, apple.last_updated) == ("listed", None, None)
    assert apple.detail == "the App Store lookup knows no app 123456789 in the GB store"
    assert report.verdict == "pass"  # the listing page decides
    assert len(store.lookup.requests) == 1


NOT_JSON = "did not answer with JSON the checker could read"


@pytest.mark.parametrize(
    "answer, says, known",
    [
        (dict(status=503, body="Service Unavailable"), "answered HTTP 503 after 3 attempts", None),
        (dict(status=404, body="Not Found"), "answered HTTP 404", None),
        (dict(body="<html>Down for maintenance</html>"), NOT_JSON, None),
        (dict(body='{"resultCount": 1, "results": "many"}'), NOT_JSON, None),
        (dict(body="[" * 100_000 + "]" * 100_000), NOT_JSON, None),
        (dict(body=" " * (600 * 1024) + _lookup_answer()), "more than the 512 KB", None),
        (dict(body=_lookup_answer(track=1)), "did not answer for app 123456789", None),
        (dict(body=_lookup_answer(["3"], "last week")), "gave no current version or date", None),
        (dict(body=_lookup_answer(released=None)), "gave no current date", "3.2"),
    ],
)
def test_a_lookup_that_is_down_or_answers_garbage_leaves_the_listing_listed(
    web, store, settings, answer, says, known
):
    ios = _listed_on_the_app_store(web, store)
    store.lookup.routes["/lookup"] = web.page(**answer)
    report = check_url(ENTRY, settings=settings, ios_url=ios)
    [apple] = report.stores
    assert (apple.status, apple.http_status) == ("listed", 200)
    assert apple.detail.startswith("the App Store lookup") and says in apple.detail
    assert (apple.version, apple.last_updated) == (known, None)
    assert report.verdict == "pass"


def test_a_lookup_that_does_not_answer_leaves_the_listing_listed(web, store, settings):
    ios = _listed_on_the_app_store(web, store)
    nowhere = settings.with_(app_store_lookup="https://no-lookup.test/lookup")
    [apple] = check_url(ENTRY, settings=nowhere, ios_url=ios).stores
    assert (apple.status, apple.version, apple.last_updated) == ("listed", None, None)
    assert apple.detail == "the App Store lookup failed (the name no-lookup.test does not resolve)"


def test_a_lookup_slower_than_the_deadline_leaves_the_listing_listed(web, store, settings):
    ios = _listed_on_the_app_store(web, store)
    store.lookup.routes["/lookup"] = web.page(body=_lookup_answer(), delay=2.0)
    started = time.monotonic()
    [apple] = check_url(ENTRY, settings=settings.with_(deadline=1.0), ios_url=ios).stores
    assert time.monotonic() - started < 4  # the page's deadline, then the store's: not more
    assert (apple.status, apple.version) == ("listed", None)
    assert "the App Store lookup failed" in apple.detail and "deadline" in apple.detail


@pytest.mark.parametrize(
    "status, body",
    [
        (404, "<title>Not Found</title>"),
        (
            200,
            "<title>App Store</title><h1>This app is currently not available in your country or "
            "region.</h1>",
        ),  # fmt: skip
        (403, "Forbidden"),
        (503, "Service Unavailable"),
    ],
)
def test_a_listing_that_is_not_shown_is_never_looked_up(web, store, settings, status, body):
    store.apple.fallback = web.page(status, body)
    store.lookup.routes["/lookup"] = web.page(body=_lookup_answer())
    [apple] = check_url(ENTRY, settings=settings, ios_url=_apple()).stores
    assert apple.status in ("removed", "blocked", "unreachable")
    assert (apple.version, apple.last_updated) == (None, None)
    assert "lookup" not in apple.detail
    assert store.lookup.requests == []


def test_an_app_store_link_without_an_app_id_is_not_looked_up(web, store, settings):
    ios = _listed_on_the_app_store(web, store, "/gb/app/calm-mind")
    store.lookup.routes["/lookup"] = web.page(body=_lookup_answer())
    [apple] = check_url(ENTRY, settings=settings, ios_url=ios).stores
    assert (apple.status, apple.version) == ("listed", None)
    assert "no App Store id" in apple.detail
    assert store.lookup.requests == []


def test_a_short_app_store_link_is_looked_up_by_the_listing_it_leads_to(web, store, settings):
    ios = _listed_on_the_app_store(web, store)
    store.apple.routes["/calm"] = web.page(301, headers={"Location": ios})
    store.lookup.routes["/lookup"] = web.page(body=_lookup_answer())
    [apple] = check_url(ENTRY, settings=settings, ios_url=f"https://{APPLE}/calm").stores
    assert (apple.status, apple.version) == ("listed", "3.2")
    assert store.lookup.requests == ["/lookup?id=123456789&country=gb"]


def test_the_lookup_is_refused_by_the_guard_when_its_address_is_not_allowed(
    web, store, settings, connect_log
):
    ios = _listed_on_the_app_store(web, store)
    inside = web.site("127.0.0.2", tls=web.tls_context("lookup.internal"))
    inside.routes["/lookup"] = web.page(body=_lookup_answer())
    web.host("lookup.internal", https=inside)
    only_one = settings.with_(
        allow_networks="127.0.0.1/32", app_store_lookup="https://lookup.internal/lookup"
    )
    [apple] = check_url(ENTRY, settings=only_one, ios_url=ios).stores
    assert (apple.status, apple.version, apple.last_updated) == ("listed", None, None)
    assert apple.detail.startswith("the App Store lookup failed (refused by the network guard")
    assert (inside.requests, inside.connections) == ([], 0)
    assert not [a for a in connect_log if a[0] == "127.0.0.2"]
    assert store.apple.requests == ["/gb/app/calm-mind/id123456789"]


def test_a_google_play_listing_gives_its_update_date_and_version(web, store, settings):
    store.play.routes["/store/apps/details"] = web.page(body=_play_listing())
    [play] = check_url(ENTRY, settings=settings, android_url=_play()).stores
    assert (play.status, play.last_updated, play.version) == ("listed", "2025-11-12", "3.2.1")
    assert play.detail == ""
    assert store.play.requests == ["/store/apps/details?id=org.calm"]  # no request but the page
    assert store.lookup.requests == []


@pytest.mark.parametrize(
    "about, expected",
    [
        ("<div>Updated on</div><div>12 Nov 2025</div>", "2025-11-12"),
        (
            "<div><span>Updated on</span></div><div><span>November 3, 2025</span></div>",
            "2025-11-03",
        ),
        ("<p>Updated on: Sept 9, 2024</p>", "2024-09-09"),
        ("<div>Updated on</div><div>Feb 30, 2025</div>", None),
        ("<div>Updated on</div><div>Nov 12, 2999</div>", None),
        ("<p>Updated on Nov 12, 2025 with new sleep sounds.</p>", None),  # the description's
    ],
)
def test_the_google_play_date_is_read_from_the_about_section(web, store, settings, about, expected):
    page = f"<title>Calm Mind</title><h2>About this app</h2>{about}<h2>Data safety</h2>"
    store.play.routes["/store/apps/details"] = web.page(body=page)
    [play] = check_url(ENTRY, settings=settings, android_url=_play()).stores
    assert (play.status, play.last_updated, play.version) == ("listed", expected, None)


def test_google_play_data_alone_gives_the_version_and_date(web, store, settings):
    page = _play_listing(updated=None, version="2024.11.05 (1234)", stamp=1731024000)
    store.play.routes["/store/apps/details"] = web.page(body=page)
    [play] = check_url(ENTRY, settings=settings, android_url=_play()).stores
    assert (play.status, play.last_updated, play.version) == (
        "listed",
        "2024-11-08",
        "2024.11.05 (1234)",
    )


def test_a_google_play_listing_without_them_leaves_both_null(web, store, settings):
    page = _play_listing(updated=None, version="Varies with device", stamp=None)
    store.play.routes["/store/apps/details"] = web.page(body=page)
    store.apple.routes["/x"] = web.page(body=LISTING)  # the listing of the first test, too
    report = check_url(ENTRY, settings=settings, android_url=_play(), ios_url=f"https://{APPLE}/x")
    apple, play = report.stores
    assert (play.status, play.last_updated, play.version, play.detail) == ("listed", None, None, "")
    assert (apple.status, apple.last_updated, apple.version) == ("listed", None, None)
    assert report.verdict == "pass"
    assert store.lookup.requests == []


def test_a_google_play_page_built_to_be_slow_to_read_is_read_quickly(web, store, settings):
    hostile = (
        ">Updated on " + "<b>" * 20 + "Nov 12, " + "<i>" * 5000
        + ("AF_initDataCallback({key: 'ds:5', data:[\"" + "x" * 20_000) * 40
        + ">Version " + "<p " * 10_000
    )  # fmt: skip
    store.play.routes["/store/apps/details"] = web.page(body=hostile * 3)
    started = time.monotonic()
    [play] = check_url(ENTRY, settings=settings, android_url=_play()).stores
    assert time.monotonic() - started < 3
    assert (play.status, play.last_updated, play.version) == ("listed", None, None)


def test_the_lookup_address_is_read_from_its_variable():
    assert CheckSettings.from_env({}).app_store_lookup == "https://itunes.apple.com/lookup"
    env = {"REGISTRY_CHECK_APP_STORE_LOOKUP": " https://mirror.example/lookup "}
    assert CheckSettings.from_env(env).app_store_lookup == "https://mirror.example/lookup"
    changed = CheckSettings().with_(app_store_lookup="http://127.0.0.1:8080/lookup")
    assert changed.app_store_lookup == "http://127.0.0.1:8080/lookup"


@pytest.mark.parametrize("bad", ["itunes.apple.com/lookup", "ftp://x/lookup", "https://x:99999/"])
def test_a_bad_lookup_address_gives_a_message_naming_the_setting(bad):
    with pytest.raises(SettingsError) as err:
        CheckSettings.from_env({"REGISTRY_CHECK_APP_STORE_LOOKUP": bad})
    assert "REGISTRY_CHECK_APP_STORE_LOOKUP" in str(err.value) and repr(bad) in str(err.value)
    with pytest.raises(SettingsError, match="app_store_lookup"):
        CheckSettings(app_store_lookup=bad)

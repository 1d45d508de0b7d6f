"""Third-party trackers: what an entry's page and its policy load, named from the tracker list."""

from checks import check_url
from checks import trackers as tracking
from checks.report import Tracker

# Hosts of real trackers, pointed at a loopback server that records any request: the checker
# must name them from the page, never load them.
TRACKER_HOSTS = (
    "www.google-analytics.com",
    "www.facebook.com",
    "connect.facebook.net",
    "td.doubleclick.net",
    "static.hotjar.com",
)
GTM = "www.googletagmanager.com"


def _trackers_site(web):
    site = web.site(tls=web.tls_context(*TRACKER_HOSTS))
    site.fallback = web.page(body="tracked", content_type="application/javascript")
    for host in TRACKER_HOSTS:
        web.host(host, https=site)
    return site


def _tag_manager(web, script: str):
    site = web.site(tls=web.tls_context(GTM))
    site.routes["/gtm.js"] = web.page(body=script, content_type="application/javascript")
    web.host(GTM, https=site)
    return site


def _check(web, settings, name, home, policy="<h1>Privacy policy</h1><p>We keep little.</p>"):
    page = f'<title>Home</title>{home}<a href="/privacy">Privacy policy</a>'
    web.healthy(name, home=page, policy=policy)
    return check_url(f"https://{name}/", settings=settings)


def test_clinician_sees_the_trackers_a_page_loads_directly(web, settings):
    trackers_site = _trackers_site(web)
    home = (
        '<script async src="https://www.google-analytics.com/analytics.js"></script>'
        '<noscript><img height="1" width="1" style="display:none"'
        ' src="https://www.facebook.com/tr?id=123&ev=PageView&noscript=1"></noscript>'
        '<iframe src="https://td.doubleclick.net/activity;src=1;type=x" hidden></iframe>'
        '<script src="https://www.google-analytics.com/analytics.js?again"></script>'
    )
    report = _check(web, settings, "direct.test", home)
    assert report.privacy.trackers == [
        Tracker("Google Analytics", "www.google-analytics.com"),
        Tracker("Facebook", "www.facebook.com"),
        Tracker("Google Marketing Platform", "td.doubleclick.net"),
    ]
    assert report.to_dict()["privacy"]["trackers"][0] == {
        "name": "Google Analytics",
        "host": "www.google-analytics.com",
    }
    assert trackers_site.requests == []  # named from the page, never loaded


def test_trackers_a_tag_manager_loads_are_named_from_its_script(web, settings):
    trackers_site = _trackers_site(web)
    # A GTM container spells out its tags' addresses, escaped as JSON strings are.
    gtm = _tag_manager(
        web,
        'var data={"resource":{"tags":[{"function":"__ua","vtp_url":"https:\\/\\/'
        'www.google-analytics.com\\/analytics.js"},{"function":"__html","vtp_html":'
        '"<script src=\\"https://connect.facebook.net/en_US/fbevents.js\\"></script>"}]}};'
        'var own="https://tagged.test/thanks";var docs="https://example.org/";t.co(1);',
    )
    home = f'<script async src="https://{GTM}/gtm.js?id=GTM-ABC123"></script>'
    policy = f'<script src="https://{GTM}/gtm.js?id=GTM-ABC123"></script><h1>Privacy</h1>'
    report = _check(web, settings, "tagged.test", home, policy)
    assert report.privacy.trackers == [
        Tracker("Google Tag", GTM),
        Tracker("Google Analytics", "www.google-analytics.com"),
        Tracker("Facebook", "connect.facebook.net"),
    ]
    assert gtm.requests == ["/gtm.js?id=GTM-ABC123"]  # once, for the page and its policy
    assert trackers_site.requests == []


def test_at_most_two_tag_manager_scripts_are_read_for_a_page(web, settings):
    gtm = _tag_manager(web, 'x="https://www.google-analytics.com/collect";')
    home = "".join(f'<script src="https://{GTM}/gtm.js?id=GTM-{i}"></script>' for i in range(4))
    report = _check(web, settings, "many.test", home)
    assert [t.name for t in report.privacy.trackers] == ["Google Tag", "Google Analytics"]
    assert gtm.requests == ["/gtm.js?id=GTM-0", "/gtm.js?id=GTM-1"]


def test_a_tag_manager_that_cannot_be_read_still_leaves_the_page_checked(web, settings):
    gtm = _tag_manager(web, "")
    gtm.routes["/gtm.js"] = web.page(404, "not found")
    home = f'<script src="https://{GTM}/gtm.js?id=GTM-GONE"></script>'
    report = _check(web, settings, "tagless.test", home)
    assert report.privacy.status == "found"
    assert report.privacy.trackers == [Tracker("Google Tag", GTM)]


def test_a_page_loading_nothing_from_trackers_has_none(web, settings):
    home = (
        '<script src="/static/app.js"></script><img src="https://cdn.jsdelivr.net/x.png">'
        '<script src="https://fonts.googleapis.com/css2?family=Inter"></script>'
    )
    report = _check(web, settings, "clean.test", home)
    assert report.privacy.trackers == []
    assert report.to_dict()["privacy"]["trackers"] == []


def test_a_trackers_own_site_loading_its_own_scripts_is_not_named(web, settings):
    home = (
        '<script src="https://static.hotjar.com/c/hotjar.js"></script>'
        '<script src="https://www.google-analytics.com/analytics.js"></script>'
    )
    report = _check(web, settings, "www.hotjar.com", home)
    assert report.privacy.trackers == [Tracker("Google Analytics", "www.google-analytics.com")]


def test_trackers_on_the_policy_page_are_counted_too(web, settings):
    policy = (
        '<script src="https://static.hotjar.com/c/hotjar-1.js"></script>'
        '<script src="https://www.google-analytics.com/analytics.js"></script>'
        "<main><h1>Privacy policy</h1><p>We use Hotjar.</p></main>"
    )
    home = '<script src="https://www.google-analytics.com/analytics.js"></script>'
    report = _check(web, settings, "policytracks.test", home, policy)
    assert report.privacy.trackers == [
        Tracker("Google Analytics", "www.google-analytics.com"),
        Tracker("Hotjar", "static.hotjar.com"),
    ]


def test_trackers_are_unknown_when_the_page_cannot_be_read(settings):
    report = check_url("http://127.0.0.1:9/", settings=settings)
    assert report.privacy.trackers is None
    assert report.to_dict()["privacy"]["trackers"] is None


def test_a_host_is_named_by_its_most_specific_domain_in_the_list():
    assert tracking.name("region1.google-analytics.com") == "Google Analytics"
    assert tracking.name("ads.g.doubleclick.net") == "Google Marketing Platform"
    assert tracking.name("maps.google.com") is None  # a utility, not the Google advertising entry
    assert tracking.name("google-analytics.com.example.org") is None
    assert tracking.name("com") is None


def test_a_tag_manager_script_is_read_only_up_to_the_body_cap(web, settings):
    filler = "/* " + "x" * 6000 + " */"
    gtm = _tag_manager(
        web, f'a="https://www.google-analytics.com/g";{filler}b="https://connect.facebook.net/";'
    )
    home = f'<script src="https://{GTM}/gtm.js?id=GTM-BIG"></script>'
    web.healthy("capped.test", home=f'{home}<a href="/privacy">Privacy policy</a>')
    report = check_url("https://capped.test/", settings=settings.with_(max_body_bytes=4000))
    assert [t.name for t in report.privacy.trackers] == ["Google Tag", "Google Analytics"]
    assert gtm.requests == ["/gtm.js?id=GTM-BIG"]

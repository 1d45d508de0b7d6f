"""Settings from the environment, and politeness: requests in flight overall and per host."""

import threading
import time

import pytest

import checks
from checks import CheckSettings, SettingsError, check_urls
from checks.settings import ENV_VARS, USER_AGENT


def test_defaults_are_safe_for_the_nightly_job():
    s = CheckSettings.from_env({})
    assert s.deadline == 30
    assert s.max_body_bytes == 5 * 1024 * 1024
    assert s.max_redirects == 10
    assert s.max_concurrency == 32
    assert s.max_per_host == 2
    assert s.user_agent == USER_AGENT
    assert s.allow_networks == ()


def test_every_setting_is_read_from_its_variable():
    env = {
        "REGISTRY_CHECK_DEADLINE": "12.5",
        "REGISTRY_CHECK_CONNECT_TIMEOUT": "3",
        "REGISTRY_CHECK_READ_TIMEOUT": "4",
        "REGISTRY_CHECK_MAX_BODY_BYTES": "1000",
        "REGISTRY_CHECK_MAX_REDIRECTS": "4",
        "REGISTRY_CHECK_RETRIES": "0",
        "REGISTRY_CHECK_BACKOFF": "0.1",
        "REGISTRY_CHECK_MAX_RETRY_AFTER": "7",
        "REGISTRY_CHECK_CONCURRENCY": "8",
        "REGISTRY_CHECK_PER_HOST": "1",
        "REGISTRY_CHECK_CERT_WARN_DAYS": "30",
        "REGISTRY_CHECK_USER_AGENT": "Test/1.0",
        "REGISTRY_CHECK_WORKERS": "3",
    }
    s = CheckSettings.from_env(env)
    assert (s.deadline, s.connect_timeout, s.read_timeout) == (12.5, 3, 4)
    assert (s.max_body_bytes, s.max_redirects, s.retries, s.backoff) == (1000, 4, 0, 0.1)
    assert (s.max_retry_after, s.max_concurrency, s.max_per_host) == (7, 8, 1)
    assert (s.cert_warn_days, s.user_agent) == (30, "Test/1.0")
    assert s.workers == s.processes == 3
    assert set(env) == {var for var, _, _ in ENV_VARS.values()}


@pytest.mark.parametrize(
    "var, value",
    [
        ("REGISTRY_CHECK_DEADLINE", "soon"),
        ("REGISTRY_CHECK_DEADLINE", "0"),
        ("REGISTRY_CHECK_CONCURRENCY", "-1"),
        ("REGISTRY_CHECK_MAX_BODY_BYTES", "5MB"),
        ("REGISTRY_CHECK_PER_HOST", "1.5"),
    ],
)
def test_bad_value_gives_a_message_naming_the_variable(var, value):
    with pytest.raises(SettingsError) as err:
        CheckSettings.from_env({var: value})
    assert var in str(err.value)
    assert repr(value) in str(err.value)


class _Gauge:
    """Count requests in flight across servers."""

    def __init__(self):
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def route(self, web):
        def slow(handler):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            time.sleep(0.2)
            with self.lock:
                self.now -= 1
            return web.page(body='<a href="/privacy">Privacy</a>')

        return slow


def test_no_more_than_the_per_host_limit_is_in_flight_to_one_host(web, settings):
    gauge = _Gauge()
    _, secure = web.healthy("busy.test")
    urls = []
    for i in range(6):
        secure.routes[f"/page{i}"] = gauge.route(web)
        urls.append(f"https://busy.test/page{i}")
    reports = check_urls(urls, settings=settings.with_(max_per_host=2))
    assert [r.url for r in reports] == urls
    assert all(r.liveness.status == "up" for r in reports)
    assert gauge.peak == 2


def test_no_more_than_the_overall_limit_is_in_flight(web, settings):
    gauge = _Gauge()
    urls = []
    for i in range(6):
        _, secure = web.healthy(f"site{i}.test")
        secure.routes["/"] = gauge.route(web)
        urls.append(f"https://site{i}.test/")
    reports = check_urls(urls, settings=settings.with_(max_concurrency=3))
    assert all(r.verdict in ("pass", "warn") for r in reports)
    assert gauge.peak == 3


def test_many_urls_on_one_host_do_not_time_out_waiting_for_their_turn(web, settings):
    _, secure = web.healthy("appstore.test")
    urls = []
    for i in range(8):
        secure.routes[f"/app/{i}"] = web.page(
            body=f'<title>App {i}</title><a href="/privacy">Privacy</a>', delay=0.3
        )
        urls.append(f"https://appstore.test/app/{i}")
    started = time.monotonic()
    reports = check_urls(urls, settings=settings.with_(max_per_host=1, deadline=1.5))
    assert time.monotonic() - started > 2.4  # one at a time: longer than any URL's deadline
    assert [r.liveness.status for r in reports] == ["up"] * 8


class _SlowHost:
    """Count requests in flight to one host whose every answer takes `delay` seconds."""

    def __init__(self, web, name: str, delay: float):
        self.gauge, self.delay, self.web = _Gauge(), delay, web
        self.plain, self.secure = web.healthy(name)
        self.name, self.served = name, 0
        for site in (self.plain, self.secure):
            routes = site.routes
            for path, page in list(routes.items()):
                routes[path] = self._slow(page)
            site.fallback = self._slow(site.fallback)

    def _slow(self, route):
        def answer(handler):
            g = self.gauge
            with g.lock:
                g.now += 1
                g.peak = max(g.peak, g.now)
            time.sleep(self.delay)
            with g.lock:
                g.now -= 1
                self.served += 1
            return route(handler) if callable(route) else route

        return answer

    def add(self, path: str, body: str) -> str:
        self.secure.routes[path] = self._slow(self.web.page(body=body))
        return f"https://{self.name}{path}"


def _pages(host: _SlowHost) -> set[str]:
    return {p for p in host.secure.requests if p.startswith("/p/") and p[3:].isdigit()}


def test_many_entries_on_one_slow_host_all_come_back_up_in_order(web, settings):
    host = _SlowHost(web, "big.test", delay=0.3)  # four requests a check: 1.2 s each
    urls = [host.add(f"/service/{i}", '<a href="/privacy">Privacy</a>') for i in range(10)]
    quick = settings.with_(max_per_host=2, deadline=2.5)
    started = time.monotonic()
    reports = list(checks.iter_check_targets([checks.Target(u) for u in urls], settings=quick))
    assert time.monotonic() - started > 5  # far longer than any check's deadline
    assert [r.url for r in reports] == urls
    assert [r.liveness.status for r in reports] == ["up"] * 10
    assert host.gauge.peak == 2


def test_the_nightly_batch_hands_out_reports_as_they_finish_and_wakes_on_time(web, settings):
    entries = _SlowHost(web, "entries.test", delay=0.0)
    store = _SlowHost(web, "apps.store.test", delay=0.5)  # one slow host for every app
    targets = [
        checks.Target(
            entries.add(f"/e/{i}", '<a href="/privacy">P</a>'),
            ios_url=store.add(f"/app/{i}", "<title>App</title>"),
        )
        for i in range(12)
    ]
    quick = settings.with_(max_per_host=2, deadline=1.5)
    got, wakes = {}, 0
    with checks.CheckBatch(targets, settings=quick) as batch:
        assert batch.wait(timeout=0.1) == []  # no listing answers that soon
        while not batch.done:
            wakes += 1
            for index, report in batch.wait(timeout=0.25):
                assert index not in got
                got[index] = report
    assert sorted(got) == list(range(12))
    assert wakes > 12  # three seconds of store answers, woken every quarter second or sooner
    for index, report in got.items():
        assert report.url == targets[index].url
        assert [s.status for s in report.stores] == ["listed"], report.stores
        assert report.verdict == "pass"
    assert store.gauge.peak == 2
    assert entries.gauge.peak <= 2


def test_leaving_a_batch_early_stops_handing_out_work(web, settings):
    host = _SlowHost(web, "slow.test", delay=0.5)
    urls = [host.add(f"/p/{i}", "<p>hello</p>") for i in range(12)]
    one_at_a_time = settings.with_(max_per_host=1, deadline=1.5)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with checks.CheckBatch(urls, settings=one_at_a_time) as batch:
            batch.wait(timeout=0.2)
            raise KeyboardInterrupt
    assert time.monotonic() - started < 1.0  # did not wait for the check under way
    time.sleep(3.0)  # the check under way reaches its deadline; had work gone on, more began
    assert _pages(host) == {"/p/0"}


def test_reports_stop_when_the_reader_stops_reading(web, settings):
    host = _SlowHost(web, "reader.test", delay=0.2)
    urls = [host.add(f"/p/{i}", "<p>hello</p>") for i in range(10)]
    one_at_a_time = settings.with_(max_per_host=1, deadline=1.5)
    for report in checks.iter_check_urls(urls, settings=one_at_a_time):
        assert report.url == urls[0]
        break
    time.sleep(2.0)  # the check under way ends; no other begins
    assert _pages(host) <= {"/p/0", "/p/1"}

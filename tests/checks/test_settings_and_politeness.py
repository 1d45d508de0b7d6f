"""Settings from the environment, and politeness: requests in flight overall and per host."""

import threading
import time

import pytest

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
    }
    s = CheckSettings.from_env(env)
    assert (s.deadline, s.connect_timeout, s.read_timeout) == (12.5, 3, 4)
    assert (s.max_body_bytes, s.max_redirects, s.retries, s.backoff) == (1000, 4, 0, 0.1)
    assert (s.max_retry_after, s.max_concurrency, s.max_per_host) == (7, 8, 1)
    assert (s.cert_warn_days, s.user_agent) == (30, "Test/1.0")
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

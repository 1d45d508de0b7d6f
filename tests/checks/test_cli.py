"""`registry check-url`: output in input order, JSON lines, a summary, and its exit codes."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from checks.cli import check_url

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRACT_KEYS = {
    "url",
    "final_url",
    "checked_at",
    "verdict",
    "liveness",
    "https",
    "privacy",
    "stores",
    "contacts",
}
LIVENESS_KEYS = {"status", "http_status", "redirects", "elapsed_ms", "detail"}
HTTPS_KEYS = {"status", "redirects_http_to_https", "hsts", "cert_days_left", "detail"}
STORE_KEYS = {"store", "url", "status", "http_status", "last_updated", "version", "detail"}


@pytest.fixture
def env(ca_bundle):
    return {
        "REGISTRY_CHECK_ALLOW_NETWORKS": "127.0.0.0/8",
        "REQUESTS_CA_BUNDLE": ca_bundle,
        "REGISTRY_CHECK_DEADLINE": "5",
        "REGISTRY_CHECK_BACKOFF": "0.05",
    }


@pytest.fixture
def good_url(web):
    """A site on bare loopback addresses (the command has no resolver hook): it passes."""
    secure = web.site(tls=web.tls_context("127.0.0.1"))
    secure.routes["/"] = web.page(
        body='<a href="/privacy">Privacy</a>', headers={"Strict-Transport-Security": "max-age=9"}
    )
    secure.routes["/privacy"] = web.page(body="policy")
    secure.routes["/slow"] = web.page(body='<a href="/privacy">Privacy</a>', delay=0.5)
    plain = web.site()
    plain.fallback = lambda h: web.page(301, headers={"Location": secure.url(h.path)})
    return plain.url("/")


def test_json_reports_follow_the_contract_in_input_order(good_url, env):
    slow = good_url + "slow"  # answers last, is printed first
    urls = [slow, good_url, "http://127.0.0.1:9/"]
    result = CliRunner().invoke(check_url, ["--json", *urls], env=env)
    lines = result.stdout.strip().splitlines()
    reports = [json.loads(line) for line in lines]
    assert [r["url"] for r in reports] == urls
    assert all(set(r) == CONTRACT_KEYS for r in reports)
    assert set(reports[0]["liveness"]) == {
        "status",
        "http_status",
        "redirects",
        "elapsed_ms",
        "detail",
    }
    assert set(reports[0]["https"]) == {
        "status",
        "redirects_http_to_https",
        "hsts",
        "cert_days_left",
        "detail",
    }
    assert set(reports[0]["privacy"]) >= {"status", "policy_url", "detail"}
    assert [r["verdict"] for r in reports] == ["pass", "pass", "fail"]
    assert result.exit_code == 1
    assert "checked 3 URLs" in result.stderr
    assert "2 passed, 0 warned, 1 failed" in result.stderr


def test_all_passing_exits_zero_with_readable_text(good_url, env):
    result = CliRunner().invoke(check_url, [good_url], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"PASS  {good_url}")
    assert "liveness: up" in result.stdout
    assert "privacy: found" in result.stdout


def test_urls_are_read_from_a_file(good_url, env, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# resources\n{good_url}\n\n{good_url}privacy\n")
    result = CliRunner().invoke(check_url, ["--json", "--from", str(listing)], env=env)
    assert [json.loads(x)["url"] for x in result.stdout.splitlines()] == [
        good_url,
        good_url + "privacy",
    ]


def test_urls_are_read_from_standard_input(good_url, env):
    result = CliRunner().invoke(
        check_url, ["--json", "--from", "-"], input=good_url + "\n", env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verdict"] == "pass"


def test_no_urls_is_bad_usage(env):
    result = CliRunner().invoke(check_url, [], env=env)
    assert result.exit_code == 2
    assert "give at least one URL" in result.output


@pytest.mark.parametrize(
    "bad",
    ["ht!tp://", "example.org", "ftp://example.org/", "http://", "http://[bad", "http://x:99999/"],
)
def test_malformed_url_is_bad_usage_with_a_clear_message(env, bad):
    result = CliRunner().invoke(check_url, [bad], env=env)
    assert result.exit_code == 2
    assert f"cannot check {bad!r}" in result.output
    assert "Traceback" not in result.output


def test_bad_setting_names_the_variable(env):
    result = CliRunner().invoke(
        check_url, ["http://127.0.0.1:9/"], env={**env, "REGISTRY_CHECK_DEADLINE": "soon"}
    )
    assert result.exit_code == 2
    assert "REGISTRY_CHECK_DEADLINE" in result.output
    assert "'soon'" in result.output


def _run(args, env, stdin=None):
    return subprocess.run(
        [sys.executable, "-c", "from checks.cli import check_url; check_url()", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exit_codes_seen_by_a_shell(good_url, env):
    passing = _run([good_url], env)
    assert passing.returncode == 0, passing.stderr
    failing = _run([good_url, "http://127.0.0.1:9/"], env)
    assert failing.returncode == 1
    assert "1 passed, 0 warned, 1 failed" in failing.stderr
    usage = _run(["ht!tp://"], env)
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr
    missing = _run(["--from", "/no/such/file"], env)
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr


def test_bad_ca_bundle_path_is_bad_usage(env):
    result = _run(["http://127.0.0.1:9/"], {**env, "REQUESTS_CA_BUNDLE": "/no/such/ca.pem"})
    assert result.returncode == 2
    assert "REQUESTS_CA_BUNDLE" in result.stderr


@pytest.fixture
def store_url(web):
    """Make a store on loopback that lists /app/1 and has nothing else; return its URL maker."""
    store = web.site(tls=web.tls_context("127.0.0.1"))
    store.routes["/app/1"] = web.page(body="<title>Calm Mind on the App Store</title>")
    return store.url


def test_entries_with_store_links_are_read_from_json_lines(good_url, store_url, env, tmp_path):
    entry = {
        "url": good_url,
        "ios_url": store_url("/app/1"),
        "android_url": store_url("/details?id=org.gone"),
        "phone_numbers": ["116 123"],
    }
    listing = tmp_path / "entries.txt"
    listing.write_text(
        "# entries, as the nightly job sees them\n"
        f"{json.dumps(entry)}\n"
        f"{good_url}\n"
        f"{json.dumps({'url': good_url, 'android_url': store_url('/app/1')})}\n"
    )
    result = _run(["--json", "--from", str(listing)], env)
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["url"] for r in reports] == [good_url] * 3
    for r in reports:
        assert set(r) == CONTRACT_KEYS
        assert set(r["liveness"]) == LIVENESS_KEYS
        assert set(r["https"]) == HTTPS_KEYS
        assert set(r["privacy"]) >= {"status", "policy_url", "detail", "trackers"}
        assert r["privacy"]["trackers"] == []  # the page loads nothing from another site
        assert all(set(s) == STORE_KEYS for s in r["stores"])
    first, plain, android = reports
    assert [(s["store"], s["status"], s["http_status"]) for s in first["stores"]] == [
        ("app_store", "listed", 200),
        ("google_play", "removed", 404),
    ]
    assert first["stores"][1]["url"] == entry["android_url"]
    assert plain["stores"] == []
    assert [(s["store"], s["status"]) for s in android["stores"]] == [("google_play", "listed")]
    assert [r["verdict"] for r in reports] == ["fail", "pass", "pass"]
    assert first["contacts"] == [
        {
            "number": "116 123",
            "status": "missing",
            "detail": "the number is no longer on the entry's page",
        }
    ]
    assert plain["contacts"] == [] and android["contacts"] == []
    assert result.returncode == 1
    assert "1 failed" in result.stderr


def test_the_text_report_has_a_line_per_store(good_url, store_url, env):
    line = json.dumps({"url": good_url, "ios_url": store_url("/app/1")})
    result = CliRunner().invoke(check_url, ["--from", "-"], input=line + "\n", env=env)
    assert result.exit_code == 0, result.output
    assert f"app_store: listed {store_url('/app/1')} (HTTP 200)" in result.stdout


@pytest.mark.parametrize(
    "line, says",
    [
        ('{"url": "https://example.org/",}', "not valid JSON"),
        ('{"ios_url": "https://apps.apple.com/app/id1"}', 'give the entry\'s address as "url"'),
        ('{"url": 7}', 'as "url", a string'),
        ('{"url": "https://example.org/", "iosurl": "x"}', "unknown key 'iosurl'"),
        ('{"url": "https://example.org/", "ios_url": "apps.apple.com/x"}', "cannot check ios_url"),
        ('{"url": "https://example.org/", "android_url": 5}', '"android_url" must be a string'),
        ('{"url": "https://example.org/", "phone_numbers": "116 123"}', "list of strings"),
        ('{"url": "https://example.org/", "phone_numbers": [116123]}', "list of strings"),
        ('{"url": "https://example.org/", "phone_numbers": ["call us"]}', "not a phone number"),
        ("example.org", "cannot check 'example.org'"),
    ],
)
def test_a_bad_line_is_bad_usage_naming_the_line(env, tmp_path, line, says):
    listing = tmp_path / "entries.txt"
    listing.write_text(f"# first\nhttps://example.org/\n\n{line}\n")
    result = CliRunner().invoke(check_url, ["--from", str(listing)], env=env)
    assert result.exit_code == 2
    assert f"line 4 of {listing}:" in result.output
    assert says in result.output
    assert "Traceback" not in result.output


def test_a_bad_line_seen_by_a_shell_exits_2_before_any_check(env):
    result = _run(["--json", "--from", "-"], env, stdin='{"url": "https://example.org/"\n')
    assert result.returncode == 2
    assert "line 1 of standard input: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_registry_check_url_loads_neither_the_web_app_nor_the_database_layer():
    # Its worker processes get the memory: `registry check-url` needs checks/ alone.
    code = (
        "import sys\n"
        "from registry.cli import main\n"
        "try:\n"
        "    main(['check-url', '--json', 'http://127.0.0.1:9/'])\n"
        "except SystemExit as exc:\n"
        "    loaded = sorted(m for m in ('flask', 'sqlalchemy', 'sqlmodel') if m in sys.modules)\n"
        "    print('loaded:', loaded, 'exit:', exc.code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "loaded: [] exit: 1" in done.stdout, done.stdout + done.stderr


def test_a_json_line_entry_gets_its_stores_contacts_and_trackers_in_the_report(
    web, store_url, env, tmp_path
):
    secure = web.site(tls=web.tls_context("127.0.0.1"))
    secure.routes["/"] = web.page(
        body='<p>Call 116 123.</p><a href="/privacy">Privacy</a>'
        '<script src="https://www.google-analytics.com/analytics.js"></script>',
        headers={"Strict-Transport-Security": "max-age=9"},
    )
    secure.routes["/privacy"] = web.page(body="policy")
    entry = {
        "url": secure.url("/"),
        "ios_url": store_url("/app/1"),
        "phone_numbers": ["116 123", "text 85258"],
    }
    result = _run(["--json", "--from", "-"], env, stdin=json.dumps(entry) + "\n")
    [report] = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(s["store"], s["status"]) for s in report["stores"]] == [("app_store", "listed")]
    assert [(c["number"], c["status"]) for c in report["contacts"]] == [
        ("116 123", "found"),
        ("text 85258", "missing"),
    ]
    assert report["privacy"]["trackers"] == [
        {"name": "Google Analytics", "host": "www.google-analytics.com"}
    ]
    assert report["verdict"] == "fail" and result.returncode == 1  # a number is missing

"""What the nightly job now watches on apps and helplines: numbers, store versions, upkeep."""

import http.server
import json
import ssl
import threading

import pytest
from bs4 import BeautifulSoup
from conftest import signed_in_reviewer
from sqlmodel import select

from registry.entries.schemas import url_key
from registry.jobs.scheduler import run_job
from registry.models import Resource, User
from registry.review import lifecycle as review
from registry.review.rubric import ITEMS


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        routes = self.server.routes  # type: ignore[attr-defined]
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        status, kind, body = routes.get(self.path.split("?")[0], (404, "text/html", "Not found"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


class Places:
    """One HTTPS server on loopback standing in for a helpline's site and both app stores."""

    def __init__(self, ca):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.routes, self.server.seen = {}, []  # type: ignore[attr-defined]
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def page(self, path: str, body: str, kind: str = "text/html", status: int = 200) -> str:
        self.server.routes[path] = (status, kind, body)  # type: ignore[attr-defined]
        return self.base + path

    def site(self, path: str, body: str) -> str:
        self.page(path + "privacy", "<main><h1>Privacy</h1><p>We keep your data safe.</p></main>")
        return self.page(path, f'<title>Site</title>{body}<a href="{path}privacy">Privacy</a>')

    def lookup(self, version: str, released: str) -> None:
        answer = {"resultCount": 1, "results": [
            {"trackId": 123456789, "version": version, "currentVersionReleaseDate": released}
        ]}  # fmt: skip
        self.page("/lookup", json.dumps(answer), kind="application/json")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def places(ca_file):
    found = Places(ca_file[0])
    yield found
    found.close()


@pytest.fixture
def job_app(mail_app):
    return mail_app


def _add(registry, **facts) -> int:
    with registry.session() as session:
        entry = Resource(url_key=url_key(facts["url"]), state="recommended",
                         decision="recommended", **facts)  # fmt: skip
        session.add(entry)
        session.commit()
        return entry.id


def _decide(registry, resource_id: int) -> None:
    """Record a reviewer's decision through the lifecycle, as the review form does."""
    with registry.session() as session:
        reviewer = User(email="rita@trust.test", password_hash="x", role="reviewer")
        session.add(reviewer)
        session.flush()
        review.decide(
            session, session.get(Resource, resource_id), user=reviewer,
            decision=review.Decision("recommended"), rationale="Kept up to date and safe.",
            cautions=None, answers={item.key: {"answer": "yes"} for item in ITEMS},
        )  # fmt: skip
        session.commit()


def _text(browser, path: str, selector: str) -> list[str]:
    soup = BeautifulSoup(browser.get(path).get_data(as_text=True), "html.parser")
    return [" ".join(node.get_text(" ", strip=True).split()) for node in soup.select(selector)]


def test_a_helpline_number_gone_from_its_page_is_a_caution_at_once_and_sends_it_back(
    registry, places, check_settings
):
    url = places.site("/line/", "<p>Call free on 0800-068-4141, or text SHOUT to 85258.</p>")
    line = _add(registry, name="Crisis Line", url=url, kind="helpline",
                phone_numbers=["0800 068 4141", "text 85258"])  # fmt: skip
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    [result] = registry.results_of(line)
    assert result.verdict == "pass"
    assert [c["status"] for c in result.report["contacts"]] == ["found", "found"]
    reviewer = signed_in_reviewer(registry.app)
    page = BeautifulSoup(reviewer.get(f"/resources/{line}").get_data(as_text=True), "html.parser")
    assert [(a["href"], a.get_text(strip=True)) for a in page.select(".registry-number")] == [
        ("tel:+448000684141", "Call 0800 068 4141"),
        ("sms:85258", "Text 85258"),
    ]

    places.site("/line/", "<p>Our new number is 0800 111 2222. Text SHOUT to 85258.</p>")
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    [caution] = _text(reviewer, f"/resources/{line}", ".registry-caution p")
    assert "0800 068 4141 is no longer on its page" in caution
    assert registry.state_of(line) == "recommended"  # one night: a caution, not yet re-review

    for _ in range(2):
        run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(line) == "needs_rereview"
    [raised] = [e.reason for e in registry.audit_of(line) if e.action == "state_changed"]
    assert raised == (
        "Its checks failed on 3 nights in a row (0800 068 4141 is no longer on its page)."
    )


def test_an_app_shows_its_upkeep_and_a_new_version_since_its_review(
    registry, places, check_settings, smtp
):
    site = places.site("/calm/", "<p>Calm Mind helps you track your mood.</p>")
    ios = places.page("/gb/app/calm-mind/id123456789", "<title>Calm Mind on the App Store</title>")
    android = places.page(
        "/store/apps/details",
        "<title>Calm Mind - Apps on Google Play</title><h2>About this app</h2>"
        "<div>Updated on</div><div>Nov 12, 2026</div>",
    )
    places.lookup("3.2", "2024-01-15T08:00:00Z")
    settings = check_settings.with_(app_store_lookup=places.base + "/lookup")
    app = _add(registry, name="Calm Mind", url=site, kind="app", ios_url=ios,
               android_url=android + "?id=org.calm")  # fmt: skip
    run_job(registry.app, trigger="scheduled", settings=settings)
    reviewer = signed_in_reviewer(registry.app)
    checks = _text(reviewer, f"/resources/{app}", ".registry-check")
    assert "Listed on the App Store (version 3.2, updated 15 January 2024)" in checks[3]
    assert "Listed on Google Play (updated 12 November 2026)" in checks[4]
    [caution] = _text(reviewer, f"/resources/{app}", ".registry-caution p")
    assert "the app has not been updated on the App Store since 15 January 2024" in caution
    assert "more than 12 months ago" in caution
    assert "Google Play" not in caution

    upkeep = _text(reviewer, f"/resources/{app}/review", ".registry-store-upkeep li")
    assert upkeep == [
        "App Store: version 3.2, updated 15 January 2024",
        "Google Play: updated 12 November 2026",
    ]  # beside the rubric's upkeep question
    _decide(registry, app)  # the reviewer judged version 3.2
    assert _text(reviewer, f"/resources/{app}", ".registry-new-version") == []
    places.lookup("4.0", "2026-11-20T08:00:00Z")
    smtp.messages.clear()
    run_job(registry.app, trigger="scheduled", settings=settings)
    mail = smtp.messages[0]  # the reviewers' digest, one to each reviewer, says so too
    text = mail.get_body(("plain",)).get_content()
    assert "New since the last check (1)" in text
    assert "- Calm Mind: Was version 3.2; the App Store now offers 4.0" in text
    assert _text(reviewer, f"/resources/{app}", ".registry-new-version") == [
        "New version since the review: reviewed version 3.2; the App Store now offers 4.0."
    ]
    assert _text(reviewer, f"/resources/{app}", ".registry-caution p") == []  # updated now
    queue = _text(reviewer, "/review?kind=version", ".registry-queue-item")
    assert len(queue) == 1 and "Calm Mind" in queue[0]
    assert (
        "New version since review: reviewed version 3.2; the App Store now offers 4.0" in queue[0]
    )
    with registry.session() as session:
        assert session.exec(select(Resource.state).where(Resource.id == app)).one() == (
            "recommended"
        )

"""What sends a decided entry back to reviewers, through the real job: expiry, nights, moves."""

import glob
import http.server
import ssl
import subprocess
import threading
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from conftest import DOWN, HEALTHY, Registry, signed_in_reviewer, start_registry
from sqlmodel import select

import checks
from registry.db import utcnow
from registry.jobs.scheduler import _scheduled, run_job
from registry.models import AuditEvent, CheckResult, PolicyText, Resource, User
from registry.review import lifecycle as review
from registry.review import transitions
from registry.review.rubric import ITEMS

FAKETIME = next(iter(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")), "libfaketime missing")
ANSWERS = {item.key: {"answer": "yes"} for item in ITEMS}


@pytest.fixture
def job_app(mail_app):
    return mail_app


def _decide(registry: Registry, resource_id: int, *, today=None, decision="recommended") -> None:
    """Record a reviewer's decision through the lifecycle, as the review form does."""
    with registry.session() as session:
        reviewer = session.exec(select(User).where(User.email == "rita@trust.test")).first()
        if reviewer is None:
            reviewer = User(email="rita@trust.test", password_hash="x", role="reviewer")
            session.add(reviewer)
            session.flush()
        entry = session.get(Resource, resource_id)
        review.decide(
            session, entry, user=reviewer, decision=review.Decision(decision),
            rationale="Clear, safe and kept up to date.", cautions=None, answers=ANSWERS,
            today=today,
        )  # fmt: skip
        session.commit()


def _reasons(registry: Registry, resource_id: int) -> list[str]:
    return [e.reason for e in registry.audit_of(resource_id) if e.action == "state_changed"]


def test_a_review_expires_when_registry_check_runs_a_year_later(
    sites, registry, cli_env, smtp, tmp_path
):
    resource_id = registry.add_entry("Calm Harbour", sites.add("calm"))
    _decide(registry, resource_id)
    with registry.session() as session:
        due = session.get(Resource, resource_id).review_due
    clock = tmp_path / "clock"
    clock.write_text("+400d")
    env = {
        **cli_env,
        "LD_PRELOAD": FAKETIME,
        "FAKETIME_TIMESTAMP_FILE": str(clock),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "REGISTRY_SMTP_HOST": "127.0.0.1",
        "REGISTRY_SMTP_PORT": str(smtp.port),
        "REGISTRY_SMTP_STARTTLS": "0",
    }
    process = start_registry(env, "check", "--no-progress")
    out, err = process.communicate(timeout=120)

    assert process.returncode == 0, out + err
    assert registry.state_of(resource_id) == "needs_rereview"
    [event] = [e for e in registry.audit_of(resource_id) if e.actor_label == "review expiry"]
    assert event.changes == {"state": ["recommended", "needs_rereview"]}
    assert f"Its review expired on {due.day} {due:%B %Y}" in event.reason
    assert len(smtp.messages) == 1, out + err
    text = smtp.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "Sent back to reviewers (1)" in text and "Calm Harbour: Its review expired" in text


def test_the_scheduled_job_sends_back_an_expired_review_and_leaves_a_current_one(
    sites, registry, smtp
):
    registry.add_reviewer("rob@trust.test")
    old = registry.add_entry("Old Review", sites.add("old"))
    fresh = registry.add_entry("Fresh Review", sites.add("fresh"))
    _decide(registry, old, today=utcnow().date() - timedelta(days=400))
    _decide(registry, fresh)

    _scheduled(registry.app, "scheduled")  # what APScheduler calls at 02:30

    assert registry.state_of(old) == "needs_rereview"
    assert registry.state_of(fresh) == "recommended"
    assert any("review expired" in reason for reason in _reasons(registry, old))
    _scheduled(registry.app, "scheduled")  # raised once, not every night
    assert len(_reasons(registry, old)) == 2  # the decision, then the expiry
    assert len(smtp.messages) == 2  # one digest to each reviewer, from the first night only


def test_hand_checks_inform_but_only_nights_count_toward_sending_an_entry_back(
    sites, registry, check_settings
):
    resource_id = registry.add_entry("Short Outage", sites.add("short", DOWN))
    for _ in range(3):  # `registry check --resource ID`, three times during an outage
        run_job(registry.app, trigger="manual", resource_id=resource_id, settings=check_settings)
    assert [r.verdict for r in registry.results_of(resource_id)] == ["fail"] * 3
    assert registry.state_of(resource_id) == "recommended"  # the caution shows; no night counted

    for night in range(3):
        run_job(registry.app, trigger="scheduled", settings=check_settings)
        expected = "needs_rereview" if night == 2 else "recommended"
        assert registry.state_of(resource_id) == expected
    assert "failed on 3 nights in a row" in _reasons(registry, resource_id)[-1]


def test_a_passing_hand_check_does_not_break_a_streak_of_failing_nights(
    sites, registry, check_settings
):
    resource_id = registry.add_entry("Still Down", sites.add("still", DOWN))
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    sites.mode["still"] = HEALTHY
    run_job(registry.app, trigger="manual", resource_id=resource_id, settings=check_settings)
    sites.mode["still"] = DOWN
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(resource_id) == "needs_rereview"


@pytest.mark.parametrize(
    ("address", "site"),
    [
        ("https://www.nhs.uk/conditions/psychosis/", "nhs.uk"),
        ("https://nhs.uk/", "nhs.uk"),
        ("https://www.mind.org.uk/", "mind.org.uk"),
        ("https://forum.mind.org.uk/", "mind.org.uk"),
        ("https://www.slam.nhs.uk/", "slam.nhs.uk"),
        ("https://a.github.io/app/", "a.github.io"),
        ("https://127.0.0.2:8443/", "127.0.0.2"),
    ],
)
def test_a_site_is_its_registrable_domain_by_the_public_suffix_list(address, site):
    assert transitions.site_of(address) == site


class _Names(http.server.BaseHTTPRequestHandler):
    """Sites by host name: some redirect to another name, the others answer with a page."""

    protocol_version = "HTTP/1.1"
    redirects = {"www.nhs.uk": "nhs.uk", "a.github.io": "b.github.io"}

    def do_GET(self) -> None:
        host = self.headers["Host"].split(":")[0]
        port = self.server.server_address[1]  # type: ignore[attr-defined]
        if host in self.redirects:
            self.send_response(301)
            self.send_header("Location", f"https://{self.redirects[host]}:{port}{self.path}")
            body = b""
        else:
            self.send_response(200)
            body = b"<!doctype html><title>Psychosis</title><h1>Psychosis</h1><p>Help.</p>"
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def named_sites(ca_file, check_settings):
    """HTTPS sites for real-looking names, reached on loopback through the checker's resolver."""
    ca, _path = ca_file
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("nhs.uk", "www.nhs.uk", "a.github.io", "b.github.io").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Names)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    port = server.server_address[1]
    settings = check_settings.with_(resolver=lambda host, _port: [("127.0.0.1", port)])
    yield port, settings
    server.shutdown()
    server.server_close()


def test_www_leading_to_the_bare_name_is_not_a_move_but_another_github_site_is(
    registry, named_sites
):
    port, settings = named_sites
    nhs = registry.add_entry("NHS: Psychosis", f"https://www.nhs.uk:{port}/conditions/psychosis/")
    pages = registry.add_entry("Peer App", f"https://a.github.io:{port}/app/")

    run_job(registry.app, trigger="scheduled", settings=settings)

    assert registry.results_of(nhs)[-1].final_url.startswith("https://nhs.uk:")
    assert registry.state_of(nhs) == "recommended"
    assert registry.state_of(pages) == "needs_rereview"
    assert (
        "moved to another site: a.github.io now leads to https://b.github.io"
        in (_reasons(registry, pages)[-1])
    )


def test_a_reviewer_who_corrects_the_address_is_not_told_the_entry_moved(
    sites, registry, check_settings
):
    resource_id = registry.add_entry("Moving House", sites.add("moving"))
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    _decide(
        registry, resource_id
    )  # the reviewer's account, and a decision resting on the old address
    with registry.session() as session:
        reviewer = session.exec(select(User).where(User.email == "rita@trust.test")).one()
        entry = session.get(Resource, resource_id)
        data = review.ResourceCreate(name=entry.name, url=sites.new_home("moving"), kind="website")
        review.edit(session, entry, data=data, user=reviewer, expected_version=entry.version)
        session.commit()
    _decide(registry, resource_id)

    run_job(registry.app, trigger="scheduled", settings=check_settings)

    assert registry.results_of(resource_id)[-1].final_url == sites.new_home("moving")
    assert registry.state_of(resource_id) == "recommended"
    with registry.session() as session:
        moved = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_id == resource_id, AuditEvent.actor_label == "nightly check"
            )
        ).all()
    assert moved == []


def _policy(body: str, year: int, banner: str = "We use cookies.") -> str:
    """A policy page's content inside the test sites' page: chrome around the policy's main text."""
    return (
        f'<div class="cookie-banner">{banner}</div><nav><a href="/">Home</a></nav>'
        f"<main><h1>Privacy policy</h1><p>{body}</p><p>Last updated 3 March {year}.</p></main>"
        f"<footer>© {year} Example Charity</footer>"
    )


def test_a_new_year_in_the_footer_is_not_a_policy_change_but_a_new_sentence_is(
    sites, registry, check_settings
):
    resource_id = registry.add_entry("Careful Data", sites.add("careful"))
    words = "We keep your personal data safe and never sell it."
    sites.policy["careful"] = _policy(words, 2025)
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    sites.policy["careful"] = _policy(words, 2026, banner="We use cookies to improve the site.")
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(resource_id) == "recommended"

    sites.policy["careful"] = _policy(words + " We share your data with advertisers.", 2026)
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(resource_id) == "needs_rereview"
    assert "privacy policy changed" in _reasons(registry, resource_id)[-1]

    # The reviewer is shown what changed, on the review page and the history page.
    reviewer = signed_in_reviewer(registry.app)
    for page in (f"/resources/{resource_id}/review", f"/resources/{resource_id}/history"):
        soup = BeautifulSoup(reviewer.get(page).get_data(as_text=True), "html.parser")
        [change] = soup.select(".registry-policy-change")
        added = [li.get_text(" ", strip=True) for li in change.select(".registry-diff--added li")]
        assert added == ["we share your data with advertisers."], page
        # Nothing else: not the footer's year, the "last updated" date nor the cookie banner.
        assert [li.get_text(" ", strip=True) for li in change.select(".registry-diff li")] == added


def test_a_policy_read_cut_short_is_not_a_change(sites, registry, check_settings):
    resource_id = registry.add_entry("Long Policy", sites.add("long"))
    sites.policy["long"] = _policy("We keep your data safe. " * 800, 2026)
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    cut_short = check_settings.with_(max_body_bytes=6000)
    run_job(registry.app, trigger="scheduled", settings=cut_short)
    first, second = registry.results_of(resource_id)
    assert first.policy_fingerprint is not None and second.policy_fingerprint is None
    assert second.privacy_status == "found"
    assert registry.state_of(resource_id) == "recommended"
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.results_of(resource_id)[-1].policy_fingerprint == first.policy_fingerprint
    assert registry.state_of(resource_id) == "recommended"


def test_the_first_check_after_the_policy_reader_changed_is_a_baseline_not_a_change(
    sites, registry, check_settings
):
    # A registry upgraded from a release whose parser read this broken markup differently: its
    # last result (scheme 1, as migration 0010 marks every earlier row) has another fingerprint.
    url = sites.add("broken")
    resource_id = registry.add_entry("Broken Markup", url)
    words = "We keep your data safe.</div><td>We never sell it.<p>Ask us."
    sites.policy["broken"] = _policy(words, 2026)
    with registry.session() as session:
        session.add(PolicyText(fingerprint="0" * 64, text="we keep your data safe.we never"))
        session.add(
            CheckResult(
                resource_id=resource_id, url=url, verdict="pass", liveness_status="up",
                https_status="ok", privacy_status="found", policy_fingerprint="0" * 64,
                policy_scheme=1, report={},
            )
        )  # fmt: skip
        session.commit()
    reviewer = signed_in_reviewer(registry.app)

    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.results_of(resource_id)[-1].policy_scheme == checks.FINGERPRINT_SCHEME
    assert registry.state_of(resource_id) == "recommended"
    history = reviewer.get(f"/resources/{resource_id}/history").get_data(as_text=True)
    assert "registry-policy-change" not in history  # no "change" across the two schemes either

    sites.policy["broken"] = _policy(words + " We share it with advertisers.", 2026)
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(resource_id) == "needs_rereview"
    assert "privacy policy changed" in _reasons(registry, resource_id)[-1]
    soup = BeautifulSoup(
        reviewer.get(f"/resources/{resource_id}/history").get_data(as_text=True), "html.parser"
    )
    [change] = soup.select(".registry-policy-change")
    assert [li.get_text(" ", strip=True) for li in change.select(".registry-diff li")] == [
        "we share it with advertisers."
    ]


def test_a_policy_made_much_harder_to_read_since_the_decision_sends_the_entry_back(
    sites, registry, check_settings
):
    resource_id = registry.add_entry("Plain Words", sites.add("plain"))
    sites.policy["plain"] = (
        "We keep your data safe. We do not sell it. Ask us and we delete it. " * 3
    )
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    _decide(registry, resource_id)  # the decision rests on the plain policy
    reviewer = signed_in_reviewer(registry.app)
    soup = BeautifulSoup(
        reviewer.get(f"/resources/{resource_id}/review").get_data(as_text=True), "html.parser"
    )
    [ease] = soup.select(".registry-reading-ease")
    assert "plain English" in ease.get_text() or "easy" in ease.get_text()
    [trackers] = soup.select(".registry-trackers")
    assert trackers.get_text(strip=True) == "No third-party trackers found on its pages"

    sites.policy["plain"] = (
        "Notwithstanding the foregoing provisions, personally identifiable information may "
        "additionally be processed by affiliated organisations in accordance with applicable "
        "legislative requirements and legitimate institutional interests. "
    ) * 2
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(resource_id) == "needs_rereview"
    reason = _reasons(registry, resource_id)[-1]
    assert reason.startswith("Its privacy policy changed; ")
    assert "its privacy policy became harder to read (reading ease" in reason


def test_registry_check_without_faketime_keeps_a_current_review(sites, registry, cli_env):
    resource_id = registry.add_entry("Current", sites.add("current"))
    _decide(registry, resource_id)
    done = subprocess.run(
        start_registry(cli_env, "check", "--no-progress").args,
        env=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert registry.state_of(resource_id) == "recommended"


def test_a_re_review_opens_prefilled_with_why_it_came_back_and_what_changed(
    sites, registry, check_settings
):
    resource_id = registry.add_entry("Came Back", sites.add("back"))
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    with registry.session() as session:
        reviewer = User(email="rita@trust.test", password_hash="x", role="reviewer")
        session.add(reviewer)
        session.flush()
        answers = {**ANSWERS, "works_offline": {"answer": "no", "note": "Needs a connection."}}
        review.decide(
            session, session.get(Resource, resource_id), user=reviewer,
            decision=review.Decision("recommended"), rationale="Safe and useful.",
            cautions=None, answers=answers,
        )  # fmt: skip
        session.commit()
    sites.mode["back"] = DOWN
    for _ in range(3):
        run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(resource_id) == "needs_rereview"
    lead = signed_in_reviewer(registry.app)

    page = f"/resources/{resource_id}/review"
    soup = BeautifulSoup(lead.get(page).get_data(as_text=True), "html.parser")
    why = soup.select_one(".registry-why-back p").get_text(" ", strip=True)
    assert why.startswith("Its checks failed on 3 nights in a row")
    checks = soup.select_one(".registry-since__checks").get_text(" ", strip=True)
    assert checks.startswith("Automatic checks since then: 3 failed.")
    assert "Failed the automatic check" in checks
    moved = [li.get_text(" ", strip=True) for li in soup.select(".registry-since__happening")]
    assert len(moved) == 1 and "Moved it from “Recommended” to “Due for re-review”" in moved[0]
    assert soup.select_one(".registry-prefilled") is not None
    checked = {i["name"]: i["value"] for i in soup.select("input.nhsuk-radios__input[checked]")}
    assert checked["rubric-works_offline"] == "no" and checked["rubric-privacy_policy"] == "yes"
    assert soup.select_one("#note-works_offline")["value"] == "Needs a connection."

    # The reviewer confirms the answers as they stand and decides again.
    form = {name: value for name, value in checked.items()}
    form.update(
        seen=soup.select_one("form input[name=seen]")["value"],
        decision="not_recommended",
        rationale="The site has been down for three nights.",
    )
    response = lead.post(page, form, page=page)
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    assert registry.state_of(resource_id) == "not_recommended"

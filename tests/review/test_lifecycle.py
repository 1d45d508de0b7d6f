"""The review lifecycle through the web pages: suggestion, review, report, re-review, retirement."""

import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from registry.jobs import background
from registry.models import AuditEvent, CheckResult, ProblemReport, Resource, Review, User
from registry.review import lifecycle as review
from registry.review.rubric import ITEMS


def _answers(value: str = "yes") -> dict[str, str]:
    return {f"rubric-{item.key}": value for item in ITEMS}


def _decision(
    decision: str, rationale: str = "Run by a national charity; clear privacy policy.", **extra
):
    return {**_answers(), "decision": decision, "rationale": rationale, **extra}


def form_values(html: str, action: str) -> dict[str, list[str]]:
    """Return what a browser would send of the page's form for action, as it stands."""
    form = BeautifulSoup(html, "html.parser").find("form", action=action)
    assert form is not None, f"no form posting to {action}"
    values: dict[str, list[str]] = {}
    for control in form.find_all(["input", "textarea", "select"]):
        name, kind = control.get("name"), control.get("type", "text")
        if not name or kind in ("submit", "button", "reset", "file", "image"):
            continue
        if control.name == "textarea":
            value = control.get_text()
        elif control.name == "select":
            chosen = control.find("option", selected=True) or control.find("option")
            value = chosen.get("value", chosen.get_text()) if chosen else ""
        elif kind in ("radio", "checkbox") and not control.has_attr("checked"):
            continue
        else:
            value = control.get("value", "on")
        values.setdefault(name, []).append(value)
    return values


def send(browser, page: str, action: str, data: dict | None = None, **kwargs):
    """Open page and send its form for action as a browser does, with data typed over it."""
    html = browser.get(page, follow_redirects=True).get_data(as_text=True)
    return browser.client.post(action, data={**form_values(html, action), **(data or {})}, **kwargs)


def review_form(browser, entry_id: int, data: dict, **kwargs):
    """Open an entry's review page and send the rubric form with data."""
    path = f"/resources/{entry_id}/review"
    return send(browser, path, path, data, **kwargs)


def _entry(session, name: str) -> Resource:
    session.expire_all()
    return session.exec(select(Resource).where(Resource.name == name)).one()


@pytest.fixture
def site(monkeypatch):
    """A small real website on loopback that the background check can reach."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<html><body><h1>Peer support</h1><a href='/privacy'>Privacy policy</a></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("REGISTRY_CHECK_ALLOW_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("REGISTRY_CHECK_DEADLINE", "5")
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_whole_lifecycle_from_suggestion_to_retirement(app, session, people, as_role, site):
    clinician, reviewer, reviewer2 = as_role("clinician"), as_role("reviewer"), as_role("reviewer2")

    # A clinician suggests a resource; its URL is checked in the background at once.
    response = clinician.post("/suggest", {"name": "Peer Space", "url": site, "kind": "forum",
                                           "conditions": ["psychosis"], "moderation": "peer"},
                              page="/suggest")  # fmt: skip
    assert response.status_code == 302
    background.drain(app)
    entry = _entry(session, "Peer Space")
    assert (entry.state, entry.suggested_by_id) == ("suggested", people["clinician"])
    check = session.exec(select(CheckResult).where(CheckResult.resource_id == entry.id)).one()
    assert check.liveness_status == "up" and check.run_id is None

    # The reviewer finds it in the queue and sees the check beside the rubric.
    queue = BeautifulSoup(reviewer.get("/review?kind=suggestion").data, "html.parser")
    assert "Peer Space" in queue.get_text()
    page = reviewer.get(f"/resources/{entry.id}/review").get_data(as_text=True)
    assert "secure connection: no https" in page and "online: up" in page

    review_page = f"/resources/{entry.id}/review"
    send(reviewer, review_page, f"/resources/{entry.id}/start-review")
    assert _entry(session, "Peer Space").state == "in_review"

    # A decision with cautions needs the cautions; then it is recorded.
    missing = review_form(reviewer, entry.id, _decision("recommended_with_cautions"))
    assert missing.status_code == 400 and "Say what the cautions are" in missing.get_data(
        as_text=True
    )
    done = review_form(reviewer, entry.id,
                       _decision("recommended_with_cautions", cautions="Peer moderated only."))  # fmt: skip
    assert done.status_code == 302
    entry = _entry(session, "Peer Space")
    assert (entry.state, entry.decision) == (
        "recommended_with_cautions",
        "recommended_with_cautions",
    )
    assert entry.review_due.year == date.today().year + 1
    shown = clinician.get(f"/resources/{entry.id}").get_data(as_text=True)
    assert (
        "Run by a national charity; clear privacy policy." in shown
        and "Peer moderated only." in shown
    )

    # A clinician reports a problem: the entry goes back for re-review, and the queue says why.
    report_page = f"/resources/{entry.id}/report"
    send(
        clinician,
        report_page,
        report_page,
        {"reason": "moderation", "note": "Abusive posts stay up"},
    )
    assert _entry(session, "Peer Space").state == "needs_rereview"
    queue_text = BeautifulSoup(reviewer.get("/review").data, "html.parser").get_text(" ")
    assert "Abusive posts stay up" in queue_text and "a clinician reported a problem" in queue_text

    # A second review supersedes the first; reviews are kept, never edited.
    review_form(
        reviewer2, entry.id, _decision("not_recommended", rationale="Moderation is not adequate.")
    )
    reviews = session.exec(
        select(Review).where(Review.resource_id == entry.id).order_by(Review.id)
    ).all()
    assert [r.decision for r in reviews] == ["recommended_with_cautions", "not_recommended"]
    assert reviews[1].supersedes_id == reviews[0].id
    assert _entry(session, "Peer Space").state == "not_recommended"

    # The report is closed with what was done.
    report = session.exec(select(ProblemReport).where(ProblemReport.resource_id == entry.id)).one()
    reviewer.post(f"/reports/{report.id}/close", {"resolution": "Re-reviewed: not recommended", "outcome": "resolved"},
                  page="/review")  # fmt: skip
    session.refresh(report)
    assert (report.status, report.resolved_by_id) == ("resolved", people["reviewer"])

    # Retired for good, with its history kept; a reason is required.
    entry_page, retire = f"/resources/{entry.id}", f"/resources/{entry.id}/retire"
    refused = send(reviewer, entry_page, retire, {"reason": ""}, follow_redirects=True)
    assert "Give a reason" in refused.get_data(as_text=True)
    send(reviewer, entry_page, retire, {"reason": "The forum has closed."})
    assert _entry(session, "Peer Space").state == "retired"

    history = BeautifulSoup(
        clinician.get(f"/resources/{entry.id}/history").data, "html.parser"
    ).get_text(" ")
    for expected in ("Created", "review started", "Reviewed", "Reported", "Abusive posts stay up",
                     "Report closed", "The forum has closed.", "Moderation is not adequate."):  # fmt: skip
        assert expected in history, expected
    assert (
        history.index("Created")
        < history.index("review started")
        < history.index("The forum has closed.")
    )


def test_every_change_of_state_records_who_when_and_why(app, session, people, as_role, site):
    test_a_whole_lifecycle_from_suggestion_to_retirement(app, session, people, as_role, site)
    changes = session.exec(select(AuditEvent).where(AuditEvent.action == "state_changed")).all()
    assert [c.changes["state"] for c in changes] == [
        ["suggested", "in_review"],
        ["in_review", "recommended_with_cautions"],
        ["recommended_with_cautions", "needs_rereview"],
        ["needs_rereview", "not_recommended"],
        ["not_recommended", "retired"],
    ]
    for change in changes:
        assert change.actor_id or change.actor_label, change
        assert change.at is not None and change.reason, change
        assert set(change.changes) == {"state"} and len(change.changes["state"]) == 2


def test_whoever_suggested_an_entry_cannot_approve_it(app, session, people, as_role):
    reviewer = as_role("reviewer")
    reviewer.post("/suggest", {"name": "My Own App", "url": "https://own.example.org/", "kind": "app"},
                  page="/suggest")  # fmt: skip
    background.drain(app)  # its first check is in before anyone opens a form on it
    entry = _entry(session, "My Own App")
    page = reviewer.get(f"/resources/{entry.id}/review").get_data(as_text=True)
    assert "You suggested this resource" in page
    refused = review_form(reviewer, entry.id, _decision("recommended"))
    assert refused.status_code == 403
    assert "another reviewer must decide" in refused.get_data(as_text=True)
    assert _entry(session, "My Own App").state == "suggested"
    assert review_form(as_role("reviewer2"), entry.id, _decision("recommended")).status_code == 302
    assert _entry(session, "My Own App").state == "recommended"


def test_a_decision_needs_a_rationale_and_every_rubric_answer(session, as_role):
    reviewer = as_role("reviewer")
    entry = _entry(session, "Mood Diary App")
    no_reason = review_form(reviewer, entry.id, _decision("recommended", rationale=" "))
    assert no_reason.status_code == 400 and "Give the rationale" in no_reason.get_data(as_text=True)
    partial = {**_decision("recommended"), "rubric-evidence": ""}
    unanswered = review_form(reviewer, entry.id, partial)
    assert unanswered.status_code == 400 and "Is there evidence it helps" in unanswered.get_data(
        as_text=True
    )
    assert _entry(session, "Mood Diary App").decision is None


def test_two_reviewers_editing_at_once_the_second_gets_a_conflict_and_loses_nothing(
    session, as_role
):
    first, second = as_role("reviewer"), as_role("reviewer2")
    entry = _entry(session, "Mood Diary App")
    form = {"name": "Mood Diary App", "url": "https://mood.example.org/", "kind": "app", "version": entry.version,
            "conditions": ["bipolar"], "platforms": ["ios", "android"], "cost": "freemium"}  # fmt: skip
    assert first.post(f"/resources/{entry.id}/edit", {**form, "provider": "First Provider"},
                      page="/").status_code == 302  # fmt: skip
    clash = second.post(
        f"/resources/{entry.id}/edit", {**form, "provider": "Second Provider"}, page="/"
    )
    assert clash.status_code == 409
    text = clash.get_data(as_text=True)
    assert "Someone else changed this entry" in text
    soup = BeautifulSoup(text, "html.parser")
    assert (
        soup.select_one("#provider")["value"] == "Second Provider"
    )  # their work is still in the form
    assert "First Provider" in soup.select_one(".registry-conflict").get_text()
    assert _entry(session, "Mood Diary App").provider == "First Provider"
    edits = session.exec(select(AuditEvent).where(AuditEvent.action == "edited")).all()
    assert [e.changes["provider"] for e in edits] == [["Example Health", "First Provider"]]


def test_an_edit_is_audited_field_by_field(session, people, as_role):
    reviewer = as_role("reviewer")
    entry = _entry(session, "Carers Helpline")
    reviewer.post(f"/resources/{entry.id}/edit", {
        "name": "Carers Helpline", "url": "https://carers.example.org/helpline", "kind": "helpline",
        "version": entry.version, "conditions": ["psychosis", "bipolar", "smi"], "audience": ["carers"],
        "cost": "free", "languages": "en; cy", "crisis_signposting": "yes", "source": "Fixture data for tests",
        "provider": "Example Carers",
        "description": "Telephone support for family and friends of people with psychosis.",
    }, page="/")  # fmt: skip
    edit = session.exec(select(AuditEvent).where(AuditEvent.action == "edited")).one()
    assert edit.actor_id == people["reviewer"]
    assert edit.changes == {
        "conditions": [["psychosis", "smi"], ["bipolar", "psychosis", "smi"]],
        "languages": [["en"], ["en", "cy"]],
    }


def test_a_suggestion_already_in_the_registry_is_refused_plainly(as_role):
    response = as_role("clinician").post(
        "/suggest",
        {"name": "Dup", "url": "http://www.mood.example.org", "kind": "app"},
        page="/suggest",
    )
    assert response.status_code == 400
    assert "“Mood Diary App” is in the registry already" in response.get_data(as_text=True)


def test_a_bad_suggestion_names_each_problem_and_keeps_what_was_typed(as_role):
    response = as_role("clinician").post(
        "/suggest",
        {"name": "Half typed", "url": "not a url", "kind": "", "languages": "english"},
        page="/suggest",
    )
    soup = BeautifulSoup(response.data, "html.parser")
    assert response.status_code == 400
    problems = soup.select_one(".nhsuk-error-summary").get_text(" ")
    assert "Web address" in problems and "Kind" in problems and "Languages" in problems
    assert soup.select_one("#name")["value"] == "Half typed"


def test_an_expired_review_raises_the_entry_for_rereview(session, people):
    entry = _entry(session, "Voices Together")
    reviewer = session.get(User, people["reviewer"])
    review.decide(session, entry, user=reviewer, decision=review.Decision.RECOMMENDED,
                  rationale="Good", cautions=None,
                  answers={i.key: {"answer": "yes"} for i in ITEMS})  # fmt: skip
    session.commit()
    raised = review.raise_expired_reviews(session, today=entry.review_due + timedelta(days=1))
    session.commit()
    assert [r.id for r in raised] == [entry.id]
    assert _entry(session, "Voices Together").state == "needs_rereview"
    last = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.actor_label == "review expiry" and "expired" in last.reason


def test_reviews_cannot_be_edited_after_the_fact(session, people):
    from registry.audit import HistoryIsImmutable

    entry = _entry(session, "Voices Together")
    made = review.decide(session, entry, user=session.get(User, people["reviewer"]),
                         decision=review.Decision.RECOMMENDED, rationale="Good", cautions=None,
                         answers={i.key: {"answer": "yes"} for i in ITEMS})  # fmt: skip
    session.commit()
    made.rationale = "Rewritten later"
    with pytest.raises(HistoryIsImmutable):
        session.commit()

"""No decision on a stale page: every form that changes an entry says what its person saw.

The entries live on the loopback sites of tests/jobs, so that a real check run (the nightly
job's own function, threshold 1) can raise one while a reviewer has a form open.
"""

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event
from sqlmodel import Session, func, select

from registry.db import get_engine
from registry.entries import status
from registry.entries.schemas import ResourceCreate
from registry.entries.services import snapshot
from registry.models import ProblemReport, Resource, Review, User
from registry.review import lifecycle as review
from registry.review.rubric import ITEMS
from tests.jobs import conftest as jobs
from tests.review.test_lifecycle import _decision, form_values, send

# The nightly job's real components: switchable HTTPS sites on loopback, their CA, the settings.
ca_file, sites, check_settings = jobs.ca_file, jobs.sites, jobs.check_settings
CSV_HEADER, DOWN = jobs.CSV_HEADER, jobs.DOWN

RATIONALE = "Still the best moderated forum we know; the privacy policy is plain English."


@pytest.fixture
def app(make_app, tmp_path, sites):
    """A registry of two seeded entries on the loopback sites; one failing check raises an entry."""
    seed = tmp_path / "sites.csv"
    seed.write_text(
        CSV_HEADER
        + f"Fading Forum,{sites.add('fading')},forum,,,psychosis,,free,,,,,,en,peer,,,Test sites\n"
        + f"Steady Site,{sites.add('steady')},website,,,bipolar,,free,,,,,,en,,,,Test sites\n",
        encoding="utf-8",
    )
    return make_app(seed=seed, REGISTRY_CHECK_FAILURE_THRESHOLD=1)


@pytest.fixture
def run(app, check_settings):
    """Do one whole check run, as the nightly job does."""
    from registry.jobs.scheduler import run_job

    return lambda: run_job(app, trigger="manual", settings=check_settings)


def _id(app, name: str) -> int:
    with Session(get_engine(app)) as session:
        return session.exec(select(Resource.id).where(Resource.name == name)).one()


def _entry(app, name: str) -> Resource:
    with Session(get_engine(app)) as session:
        return session.exec(select(Resource).where(Resource.name == name)).one()


def _count(app, model, **where) -> int:
    with Session(get_engine(app)) as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.exec(query).one()


@pytest.fixture
def decided(app, people):
    """Fading Forum recommended by the second reviewer (a decision that rests on its site)."""
    with Session(get_engine(app)) as session:
        entry = session.exec(select(Resource).where(Resource.name == "Fading Forum")).one()
        entry_id = entry.id
        review.decide(
            session, entry, user=session.get(User, people["reviewer2"]),
            decision=review.Decision.RECOMMENDED, rationale="Well moderated.", cautions=None,
            answers={item.key: {"answer": "yes"} for item in ITEMS},
        )  # fmt: skip
        session.commit()
    return entry_id


def _open(browser, page: str) -> str:
    response = browser.get(page)
    assert response.status_code == 200, page
    return response.get_data(as_text=True)


def _text(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ")


def _filled_in(html: str, action: str, typed: dict) -> dict:
    """The form as the page drew it, with what the person typed over it."""
    return {**form_values(html, action), **typed}


def _resend(response, action: str) -> dict:
    """Everything the conflict page's form holds, sent again unchanged (its fresh token too)."""
    return form_values(response.get_data(as_text=True), action)


def test_a_decision_on_an_entry_the_nightly_check_raised_meanwhile_waits_for_the_reviewer(
    app, decided, as_role, sites, run
):
    reviewer = as_role("reviewer")
    page = f"/resources/{decided}/review"
    opened = _open(reviewer, page)
    typed = {**_decision("recommended", rationale=RATIONALE), "note-evidence": "Two trials, 2024.",
             "rubric-privacy_policy": "unclear"}  # fmt: skip

    sites.mode["fading"] = DOWN  # the forum goes down while the reviewer fills in the rubric
    run()
    assert _entry(app, "Fading Forum").state == "needs_rereview"

    clash = reviewer.client.post(page, data=_filled_in(opened, page, typed))

    assert clash.status_code == 409
    text = _text(clash)
    assert "This entry changed after you opened the page" in text
    assert "Nothing has been saved" in text
    assert "Moved it from “Recommended” to “Due for re-review”. Its checks failed" in text
    assert "checks failed" in text  # the reason the check job gave
    assert "Failed the automatic check" in text and "HTTP 410" in text  # the new result in words
    kept = form_values(clash.get_data(as_text=True), page)
    assert kept["rationale"] == [RATIONALE]
    assert kept["rubric-privacy_policy"] == ["unclear"] and kept["note-evidence"] == [
        "Two trials, 2024."
    ]
    assert kept["decision"] == ["recommended"]
    assert _count(app, Review, resource_id=decided) == 1  # only the second reviewer's

    again = reviewer.client.post(page, data=_resend(clash, page))

    assert again.status_code == 302
    entry = _entry(app, "Fading Forum")
    assert entry.state == "recommended"
    with Session(get_engine(app)) as session:
        latest = status.latest_review(session, decided)
        assert (
            latest.rationale == RATIONALE and latest.rubric["privacy_policy"]["answer"] == "unclear"
        )


def test_a_second_reviewer_sees_the_first_reviewers_decision_before_theirs_is_recorded(
    app, people, as_role
):
    first, second = as_role("reviewer"), as_role("reviewer2")
    entry_id = _id(app, "Steady Site")
    page = f"/resources/{entry_id}/review"
    opened = _open(second, page)

    decided = send(first, page, page, _decision("not_recommended", rationale="Adverts everywhere."))
    assert decided.status_code == 302
    assert _entry(app, "Steady Site").state == "not_recommended"
    clash = second.client.post(page, data=_filled_in(opened, page, _decision("recommended",
                                                                              rationale=RATIONALE)))  # fmt: skip

    assert clash.status_code == 409
    text = _text(clash)
    assert "reviewer@example.org" in text
    assert "Recorded a decision, “Not recommended”. Adverts everywhere." in text
    assert _entry(app, "Steady Site").decision == "not_recommended"

    assert second.client.post(page, data=_resend(clash, page)).status_code == 302
    assert _entry(app, "Steady Site").decision == "recommended"


def test_mark_as_in_review_after_a_report_arrived_shows_the_report_first(app, people, as_role):
    reviewer, clinician = as_role("reviewer"), as_role("clinician")
    entry_id = _id(app, "Steady Site")
    page, start = f"/resources/{entry_id}/review", f"/resources/{entry_id}/start-review"
    opened = _open(reviewer, page)

    report = f"/resources/{entry_id}/report"
    send(clinician, report, report, {"reason": "cost", "note": "Now asks for a subscription."})
    clash = reviewer.client.post(start, data=form_values(opened, start))

    assert clash.status_code == 409
    assert (
        "Reported a problem: It now costs money, or has hidden costs: Now asks for a subscription."
        in _text(clash)
    )
    assert _entry(app, "Steady Site").state == "suggested"

    assert reviewer.client.post(start, data=_resend(clash, start)).status_code == 302
    assert _entry(app, "Steady Site").state == "in_review"


def test_retiring_an_entry_another_reviewer_just_decided_asks_again_and_keeps_the_reason(
    app, decided, as_role
):
    reviewer, other = as_role("reviewer"), as_role("reviewer2")
    page, retire = f"/resources/{decided}", f"/resources/{decided}/retire"
    opened = _open(reviewer, page)

    review_page = f"/resources/{decided}/review"
    send(other, review_page, review_page,
         _decision("recommended_with_cautions", rationale="Fine.", cautions="Peer moderated."))  # fmt: skip
    clash = reviewer.client.post(retire, data=_filled_in(opened, retire, {"reason": "The forum is closing."}))  # fmt: skip

    assert clash.status_code == 409
    text = _text(clash)
    assert "second.reviewer@example.org" in text and "“Recommended with cautions”" in text
    assert form_values(clash.get_data(as_text=True), retire)["reason"] == ["The forum is closing."]
    assert _entry(app, "Fading Forum").state == "recommended_with_cautions"

    assert reviewer.client.post(retire, data=_resend(clash, retire)).status_code == 302
    assert _entry(app, "Fading Forum").state == "retired"


def test_reinstating_an_entry_reported_meanwhile_shows_the_report_and_keeps_the_reason(
    app, people, as_role
):
    reviewer, clinician = as_role("reviewer"), as_role("clinician")
    entry_id = _id(app, "Steady Site")
    page = f"/resources/{entry_id}"
    send(reviewer, page, f"{page}/retire", {"reason": "Gone."})
    assert _entry(app, "Steady Site").state == "retired"
    opened = _open(reviewer, page)
    reinstate = f"{page}/reinstate"

    send(clinician, f"{page}/report", f"{page}/report", {"reason": "wrong", "note": "It is back, at a new address."})  # fmt: skip
    clash = reviewer.client.post(reinstate, data=_filled_in(opened, reinstate, {"reason": "It is back."}))  # fmt: skip

    assert clash.status_code == 409
    assert "It is back, at a new address." in _text(clash)
    assert form_values(clash.get_data(as_text=True), reinstate)["reason"] == ["It is back."]
    assert _entry(app, "Steady Site").state == "retired"

    assert reviewer.client.post(reinstate, data=_resend(clash, reinstate)).status_code == 302
    assert _entry(app, "Steady Site").state == "suggested"


def test_a_report_written_while_the_check_raised_the_entry_is_kept_and_sent_after_reading(
    app, decided, as_role, sites, run
):
    clinician = as_role("clinician")
    page = f"/resources/{decided}/report"
    opened = _open(clinician, page)
    typed = {"reason": "moderation", "note": "Posts about stopping medication stay up for days."}

    sites.mode["fading"] = DOWN
    run()
    clash = clinician.client.post(page, data=_filled_in(opened, page, typed))

    assert clash.status_code == 409
    assert "Moved it from “Recommended” to “Due for re-review”. Its checks failed" in _text(clash)
    kept = form_values(clash.get_data(as_text=True), page)
    assert kept["reason"] == ["moderation"] and kept["note"] == [typed["note"]]
    assert _count(app, ProblemReport) == 0

    assert clinician.client.post(page, data=_resend(clash, page)).status_code == 302
    with Session(get_engine(app)) as session:
        (report,) = session.exec(select(ProblemReport)).all()
        assert report.note == typed["note"]


def test_a_write_landing_in_the_same_instant_is_a_conflict_page_not_a_server_error(
    app, decided, people, as_role
):
    reviewer = as_role("reviewer")
    page = f"/resources/{decided}/review"
    opened = _open(reviewer, page)
    engine, fired = get_engine(app), []

    def someone_else_saves_first(session, _context, _instances):
        """Between the request's read of the entry and its write, another reviewer's edit lands."""
        if fired or not any(isinstance(obj, Review) for obj in session.new):
            return  # only the request's own write, the review, and only once
        fired.append(True)
        with Session(engine) as other:
            entry = other.get(Resource, decided)
            facts = {k: v for k, v in snapshot(entry).items() if k != "state"}
            data = ResourceCreate.model_validate({**facts, "provider": "A new provider"})
            review.edit(other, entry, data=data, user=other.get(User, people["reviewer2"]),
                        expected_version=entry.version)  # fmt: skip
            other.commit()

    event.listen(Session, "before_flush", someone_else_saves_first)
    try:
        clash = reviewer.client.post(
            page, data=_filled_in(opened, page, _decision("not_recommended", rationale=RATIONALE))
        )
    finally:
        event.remove(Session, "before_flush", someone_else_saves_first)

    assert fired and clash.status_code == 409
    assert "Changed provider from nothing to “A new provider”. Facts edited." in _text(clash)
    assert form_values(clash.get_data(as_text=True), page)["rationale"] == [RATIONALE]
    assert _count(app, Review, resource_id=decided) == 1
    assert _entry(app, "Fading Forum").state == "recommended"


def test_any_page_whose_write_loses_a_race_answers_409_saying_nothing_was_saved(
    app, make_user, web
):
    from sqlalchemy.orm.exc import StaleDataError

    def racing_write():
        raise StaleDataError("UPDATE statement on table 'resource' expected to update 1 row")

    app.add_url_rule("/racing-write", view_func=racing_write)  # a page no handler guards
    make_user("someone@example.org", "reviewer")
    web.sign_in("someone@example.org")
    response = web.get("/racing-write")

    assert response.status_code == 409
    text = _text(response)
    assert "Someone changed this at the same moment" in text and "nothing was saved" in text


def test_a_form_without_what_its_person_saw_is_not_recorded_blind(app, people, as_role):
    reviewer = as_role("reviewer")
    entry_id = _id(app, "Steady Site")
    blind = reviewer.post(f"/resources/{entry_id}/review", _decision("recommended"), page="/")
    assert blind.status_code == 409
    assert "This entry changed after you opened the page" in _text(blind)
    assert _entry(app, "Steady Site").decision is None

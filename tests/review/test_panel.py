"""Two-person decisions through the web forms: propose, confirm, disagree, settle, withdraw.

With REGISTRY_DECISION_REVIEWERS at 2, a first reviewer's decision waits for a second; clinicians,
the public and the API without a token see only decisions that stand. The suite's two passes
run every test on SQLite and on PostgreSQL.
"""

import json

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session, select

from registry.accounts import services as accounts
from registry.accounts import tokens as api_tokens
from registry.db import get_engine
from registry.jobs import background
from registry.models import AuditEvent, Resource, Review
from tests.conftest import PASSWORD, Web
from tests.review.test_lifecycle import _answers, form_values, review_form

# Three reviewers with names, as a panel has; the public sees names, never addresses.
PANEL = {
    "asha": ("asha.patel@example.org", "Asha Patel"),
    "ben": ("ben.okafor@example.org", "Ben Okafor"),
    "cara": ("cara.jones@example.org", "Cara Jones"),
}


@pytest.fixture
def panel(app, people):
    """The app with two reviewers deciding, and three named reviewers: {key: (id, Web)}."""
    app.config["REGISTRY_DECISION_REVIEWERS"] = 2
    ids = {}
    with Session(get_engine(app)) as session:
        for key, (email, name) in PANEL.items():
            user = accounts.create(
                session, email=email, role="reviewer", password=PASSWORD, name=name, one_time=False
            )
            session.flush()
            ids[key] = user.id
        session.commit()
    browsers = {}
    for key, (email, _name) in PANEL.items():
        browsers[key] = Web(app.test_client())
        browsers[key].sign_in(email)
    return {key: (ids[key], browsers[key]) for key in PANEL}


def _entry(app, name: str) -> Resource:
    with Session(get_engine(app)) as session:
        return session.exec(select(Resource).where(Resource.name == name)).one()


def _steps(app, entry_id: int) -> list[Review]:
    with Session(get_engine(app)) as session:
        return list(
            session.exec(select(Review).where(Review.resource_id == entry_id).order_by(Review.id))
        )


def _text(response) -> str:
    return " ".join(
        BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ").split()
    )


def _flash(browser, response) -> str:
    assert response.status_code == 302, _text(response)[:800]
    return _text(browser.get(response.headers["Location"]))


def _decide(browser, entry_id: int, decision: str, rationale: str, **extra):
    return review_form(
        browser, entry_id, {**_answers(), "decision": decision, "rationale": rationale, **extra}
    )


def _post_decision(browser, entry_id: int, decision: str, rationale: str):
    """Send a decision as a browser whose page offers no form would have to: by hand."""
    path = f"/resources/{entry_id}/review"
    data = {**_answers(), "decision": decision, "rationale": rationale}
    return browser.post(path, data, page=path)


def _queue(browser) -> str:
    return _text(browser.get("/review"))


def _queued(browser, name: str) -> list[str]:
    """Return the kinds of queue item the browser's reviewer sees for the entry called name."""
    page = BeautifulSoup(browser.get("/review").get_data(as_text=True), "html.parser")
    return [row["data-kind"] for row in page.select("tr.registry-queue-item") if name in row.text]


def test_a_proposal_stands_only_when_a_second_reviewer_confirms_it(app, panel, client):
    (asha_id, asha), (ben_id, ben) = panel["asha"], panel["ben"]
    forum = _entry(app, "Bipolar Peer Forum")

    page = _text(asha.get(f"/resources/{forum.id}/review"))
    assert "Two reviewers decide" in page
    proposed = _decide(asha, forum.id, "recommended", "Active moderators; a clear privacy policy.")
    assert "is proposed: it stands when a second reviewer confirms it" in _flash(asha, proposed)
    assert (_entry(app, "Bipolar Peer Forum").decision, _entry(app, forum.name).state) == (
        None,
        "suggested",
    )
    assert client.get(f"/resources/{forum.id}").status_code == 404  # nothing stands yet

    # The proposer does not see it in the queue; any other reviewer sees it waiting for them.
    assert _queued(asha, "Bipolar Peer Forum") == []
    queue = _queue(ben)
    assert "Awaiting a second reviewer: Proposed recommended" in queue
    assert _queued(ben, "Bipolar Peer Forum") == ["panel"]  # once, not also as a suggestion

    # The second reviewer's form opens with the proposal: its decision, rationale and answers.
    path = f"/resources/{forum.id}/review"
    html = ben.get(path).get_data(as_text=True)
    sent = form_values(html, path)
    assert sent["decision"] == ["recommended"]
    assert sent["rationale"] == ["Active moderators; a clear privacy policy."]
    assert "Proposed by Asha Patel" in _text(ben.get(path))
    confirmed = review_form(ben, forum.id, {"rubric-evidence": "unclear"})  # they differ on one
    assert "You confirmed the decision" in _flash(ben, confirmed)

    entry = _entry(app, forum.name)
    assert (entry.state, entry.decision) == ("recommended", "recommended")
    proposal, confirmation = _steps(app, forum.id)
    assert (proposal.stage, proposal.reviewer_id) == ("proposal", asha_id)
    assert (confirmation.stage, confirmation.reviewer_id) == ("confirmation", ben_id)
    assert confirmation.responds_to_id == proposal.id
    assert confirmation.rubric["evidence"]["answer"] == "unclear"
    assert proposal.rubric["evidence"]["answer"] == "yes"

    public = _text(client.get(f"/resources/{forum.id}"))
    assert "Reviewer's decision: Recommended" in public
    assert "by Asha Patel, who proposed it, and Ben Okafor, who confirmed it" in public
    assert "@example.org" not in public
    assert "Bipolar Peer Forum" not in _queue(ben)


def test_neither_the_suggester_nor_the_proposer_can_confirm(app, panel, as_role, people):
    (_asha_id, asha), (_ben_id, ben) = panel["asha"], panel["ben"]
    suggester = as_role("reviewer")
    suggester.post(
        "/suggest", {"name": "Own App", "url": "https://own.example.org/", "kind": "app"},
        page="/suggest",
    )  # fmt: skip
    background.drain(app)  # its first check is in before anyone opens a form on it
    entry = _entry(app, "Own App")
    assert _decide(suggester, entry.id, "recommended", "Mine.").status_code == 403

    _decide(asha, entry.id, "recommended", "Plain, private, free.")
    assert _queued(suggester, "Own App") == []  # the suggester may not answer it either
    for barred, words in ((asha, "You proposed the decision"), (suggester, "You suggested")):
        refused = _post_decision(barred, entry.id, "recommended", "Plain, private, free.")
        assert refused.status_code == 403 and words in _text(refused)
    assert "You proposed this decision, so another reviewer must confirm it" in _text(
        asha.get(f"/resources/{entry.id}/review")
    )
    assert _entry(app, "Own App").decision is None
    assert [s.stage for s in _steps(app, entry.id)] == ["proposal"]

    assert "You confirmed" in _flash(ben, review_form(ben, entry.id, {}))
    assert _entry(app, "Own App").state == "recommended"


def test_a_disagreement_goes_to_a_third_reviewer_whose_decision_settles_it(app, panel, client):
    (asha_id, asha), (ben_id, ben), (cara_id, cara) = panel["asha"], panel["ben"], panel["cara"]
    forum = _entry(app, "Bipolar Peer Forum")
    _decide(asha, forum.id, "recommended", "Active moderators.")

    # A disagreement needs the second reviewer's own rationale, not the proposer's.
    same_words = review_form(ben, forum.id, {"decision": "not_recommended"})
    assert same_words.status_code == 400 and "in your own words" in _text(same_words)
    disagreed = _decide(
        ben, forum.id, "not_recommended", "Posts about stopping medication stay up."
    )
    assert "a third reviewer settles it" in _flash(ben, disagreed)
    assert _entry(app, forum.name).decision is None

    # Neither of the two may settle it; the queue offers it to the third, with both positions.
    assert _queued(asha, forum.name) == _queued(ben, forum.name) == []
    assert (
        "Disagreements to settle: One reviewer proposed recommended, a second would decide "
        "not recommended: a third settles it" in _queue(cara)
    )
    for barred in (asha, ben):
        refused = _post_decision(barred, forum.id, "recommended", "Settled my way.")
        assert refused.status_code == 403
    page = _text(cara.get(f"/resources/{forum.id}/review"))
    assert "Proposed by Asha Patel" in page and "Active moderators." in page
    assert "Disagreed by Ben Okafor" in page and "Posts about stopping medication" in page
    assert (
        form_values(
            cara.get(f"/resources/{forum.id}/review").get_data(as_text=True),
            f"/resources/{forum.id}/review",
        ).get("decision")
        is None
    )  # the third reviewer chooses afresh

    settled = _decide(
        cara, forum.id, "recommended_with_cautions", "Good moderation; warn about medication posts.",
        cautions="Some posts discuss stopping medication.",
    )  # fmt: skip
    assert "settles the disagreement" in _flash(cara, settled)
    entry = _entry(app, forum.name)
    assert entry.state == entry.decision == "recommended_with_cautions"
    steps = _steps(app, forum.id)
    assert [(s.stage, s.reviewer_id) for s in steps] == [
        ("proposal", asha_id), ("disagreement", ben_id), ("settlement", cara_id),
    ]  # fmt: skip
    assert {s.responds_to_id for s in steps[1:]} == {steps[0].id}

    public = _text(client.get(f"/resources/{forum.id}"))
    assert "by Cara Jones, settling a disagreement between Asha Patel and Ben Okafor" in public
    assert "Posts about stopping medication" not in public  # the public sees what stands
    staff = _text(asha.get(f"/resources/{forum.id}"))
    assert "Disagreed, would decide: Not recommended" in staff
    assert "Posts about stopping medication stay up." in staff
    assert "Settled: Recommended with cautions (stands)" in staff

    # The audit log records each step, and the history page tells it.
    with Session(get_engine(app)) as session:
        actions = session.exec(
            select(AuditEvent.action, AuditEvent.actor_id)
            .where(AuditEvent.entity == "resource", AuditEvent.entity_id == forum.id)
            .where(AuditEvent.action.in_(["proposed", "disagreed", "reviewed"]))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("proposed", asha_id), ("disagreed", ben_id), ("reviewed", cara_id),
    ]  # fmt: skip
    history = _text(asha.get(f"/resources/{forum.id}/history"))
    first, second, third = (s.id for s in steps)
    assert f"Review {first}: Recommended (proposed, for a second reviewer)" in history
    assert f"Review {second}: Not recommended (disagrees with review {first})" in history
    assert (
        f"Review {third}: Recommended with cautions (settles the disagreement on review {first})"
        in history
    )


def test_a_proposal_is_invisible_to_the_public_clinicians_and_the_api_without_a_token(
    reviewed, panel, client, as_role
):
    (_asha_id, asha) = panel["asha"]
    mood = _entry(reviewed, "Mood Diary App")  # recommended by one reviewer before the panel
    _decide(asha, mood.id, "not_recommended", "It now sells mood data to advertisers.")

    public = _text(client.get(f"/resources/{mood.id}"))
    assert "Reviewer's decision: Recommended" in public
    assert "sells mood data" not in public and "Awaiting" not in public
    assert "Mood Diary App" in _text(client.get("/?status=recommended"))
    open_api = client.get(f"/api/v1/entries/{mood.id}").get_json()
    assert open_api["decision"]["decision"] == "recommended" and "proposal" not in open_api
    assert open_api["decision"]["reviewers"] == [{"name": "a registry reviewer", "role": "decided"}]
    listed = client.get("/api/v1/entries?q=mood").get_json()["items"]
    assert listed and all("proposal" not in item for item in listed)
    public_export = json.loads(client.get("/export.json").get_data(as_text=True))
    assert "sells mood data" not in json.dumps(public_export)

    with Session(get_engine(reviewed)) as session:
        tokens = {
            who: api_tokens.create(session, email=email, name="t")[1]
            for who, email in (
                ("clinician", "clinician@example.org"),
                ("reviewer", PANEL["ben"][0]),
            )
        }
        session.commit()

    def api(who: str) -> dict:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return client.get(f"/api/v1/entries/{mood.id}", headers=headers).get_json()

    # Clinicians, like the public, see only what stands: by token, page and download.
    assert api("clinician")["decision"]["decision"] == "recommended"
    assert "proposal" not in api("clinician")
    clinician = as_role("clinician")
    assert "sells mood data" not in _text(clinician.get(f"/resources/{mood.id}"))
    assert "Awaiting" not in _text(clinician.get(f"/resources/{mood.id}"))
    assert "sells mood data" not in clinician.get("/export.json?all=1").get_data(as_text=True)

    staff_api = api("reviewer")
    assert staff_api["decision"]["decision"] == "recommended"
    proposal = staff_api["proposal"]
    assert (proposal["status"], proposal["awaiting"], proposal["decision"]) == (
        "proposed", "second_reviewer", "not_recommended",
    )  # fmt: skip
    assert proposal["by"] == "Asha Patel" and proposal["disagreement"] is None
    everything = json.loads(asha.get("/export.json?all=1").get_data(as_text=True))
    row = next(e for e in everything if e["name"] == "Mood Diary App")
    assert row["decision"] == "recommended" and row["proposal"]["decision"] == "not_recommended"
    assert row["decided_by"] == ["reviewer@example.org"]

    # Another reviewer's page tells the step among what happened since the standing decision.
    since = _text(panel["ben"][1].get(f"/resources/{mood.id}/review"))
    assert (
        "Asha Patel (asha.patel@example.org) : Proposed a decision, for a second reviewer to "
        "confirm, “Not recommended”. It now sells mood data to advertisers." in since
    )
    staff_page = _text(asha.get(f"/resources/{mood.id}"))
    assert "Awaiting a second reviewer." in staff_page
    assert "Asha Patel proposed not recommended" in staff_page


def test_lowering_the_setting_to_one_leaves_proposals_waiting(app, panel, make_app):
    asha = panel["asha"][1]
    forum = _entry(app, "Bipolar Peer Forum")
    helpline = _entry(app, "Carers Helpline")
    _decide(asha, forum.id, "recommended", "Active moderators.")
    _decide(asha, helpline.id, "recommended", "Answers out of hours.")

    # The registry restarts with one reviewer deciding: nothing waiting is confirmed by that.
    single = make_app(REGISTRY_DECISION_REVIEWERS=1)
    asha1, ben1 = Web(single.test_client()), Web(single.test_client())
    asha1.sign_in(PANEL["asha"][0])
    ben1.sign_in(PANEL["ben"][0])
    assert _entry(single, forum.name).decision is None
    assert "Awaiting a second reviewer: Proposed recommended" in _queue(ben1)
    refused = _post_decision(asha1, forum.id, "recommended", "Active moderators.")
    assert refused.status_code == 403 and _entry(single, forum.name).decision is None

    # A second reviewer's confirmation makes it stand, as before; a different decision stands
    # alone now, and closes the proposal.
    assert "You confirmed" in _flash(ben1, review_form(ben1, forum.id, {}))
    assert _entry(single, forum.name).state == "recommended"
    own = _decide(ben1, helpline.id, "not_recommended", "The line closed in October.")
    assert "Your decision on “Carers Helpline” has been recorded" in _flash(ben1, own)
    assert _entry(single, helpline.name).decision == "not_recommended"
    assert [s.stage for s in _steps(single, helpline.id)] == ["proposal", "decision"]
    assert _queued(ben1, "Carers Helpline") == []


def test_a_proposer_may_withdraw_and_retiring_an_entry_lapses_its_proposal(app, panel):
    (_asha_id, asha), (_ben_id, ben) = panel["asha"], panel["ben"]
    forum = _entry(app, "Bipolar Peer Forum")
    path = f"/resources/{forum.id}/review"
    _decide(asha, forum.id, "recommended", "Active moderators.")

    assert ben.post(f"/resources/{forum.id}/withdraw-proposal", {"reason": "x"}, page=path)
    assert [s.stage for s in _steps(app, forum.id)] == ["proposal"]  # only its proposer may
    action = f"/resources/{forum.id}/withdraw-proposal"
    html = asha.get(path).get_data(as_text=True)
    withdrawn = asha.client.post(
        action, data={**form_values(html, action), "reason": "Wrong entry."}
    )
    assert "has been withdrawn" in _flash(asha, withdrawn)
    assert [s.stage for s in _steps(app, forum.id)] == ["proposal", "withdrawn"]
    assert "panel" not in _queued(ben, forum.name)

    _decide(ben, forum.id, "recommended", "Moderated well.")
    html = ben.get(f"/resources/{forum.id}").get_data(as_text=True)
    retire = f"/resources/{forum.id}/retire"
    ben.client.post(retire, data={**form_values(html, retire), "reason": "The forum closed."})
    assert _entry(app, forum.name).state == "retired"
    steps = _steps(app, forum.id)
    assert [s.stage for s in steps] == ["proposal", "withdrawn", "proposal", "withdrawn"]
    assert steps[-1].rationale == "The entry was retired: The forum closed."

"""Who sees what: the public sees decided entries, staff see everything, in every view alike."""

import itertools
from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session, select

from registry import config, create_app
from registry.catalogue import facets, ranking
from registry.catalogue.search import Filters
from registry.db import get_engine
from registry.entries import visibility
from registry.entries.schemas import ResourceCreate
from registry.entries.services import create_resource
from registry.entries.visibility import Audience
from registry.models import Resource, User
from registry.vocab import State
from tests.api.conftest import add_check, store
from tests.conftest import BOTH_BACKENDS

# One entry in each state, each with a name found nowhere else.
NAMES = {
    "suggested": "Suggested Sparrow",
    "in_review": "Inreview Ibis",  # decided once, now being reviewed again
    "recommended": "Recommended Robin",
    "recommended_with_cautions": "Cautioned Crane",
    "not_recommended": "Declined Dodo",
    "rereview_recommended": "Rereviewed Raven",
    "rereview_not_recommended": "Rereviewed Rook",
    "retired": "Retired Rhea",  # recommended once, then retired
}
HIDDEN = {NAMES[k] for k in ("suggested", "in_review", "retired")}
PUBLIC_DEFAULT = {NAMES[k] for k in ("recommended", "recommended_with_cautions",
                                     "rereview_recommended")}  # fmt: skip
NOT_RECOMMENDED = {NAMES["not_recommended"], NAMES["rereview_not_recommended"]}
PUBLIC_ALL = PUBLIC_DEFAULT | NOT_RECOMMENDED
EVERYONE = set(NAMES.values())
CAUTIONS = "Meets weekly in person too; check the times first."


def add_every_state(app, reviewer_id: int) -> dict[str, int]:
    """Add one entry in each state through the lifecycle; return their ids by NAMES key."""
    from registry.review import lifecycle as review
    from registry.review.rubric import ITEMS

    answers = {item.key: {"answer": "yes"} for item in ITEMS}
    decisions = {
        "in_review": "recommended", "recommended": "recommended",
        "recommended_with_cautions": "recommended_with_cautions",
        "not_recommended": "not_recommended", "rereview_recommended": "recommended",
        "rereview_not_recommended": "not_recommended", "retired": "recommended",
    }  # fmt: skip
    ids = {}
    with Session(get_engine(app)) as session:
        reviewer = session.get(User, reviewer_id)
        for key, name in NAMES.items():
            entry = create_resource(
                session, actor_label="test", suggested_by_label="visibility tests",
                data=ResourceCreate(name=name, url=f"https://{key.replace('_', '-')}.example.org/",
                                    kind="website", description="Kept for the visibility tests."),
            )  # fmt: skip
            if key in decisions:
                cautions = CAUTIONS if decisions[key] == "recommended_with_cautions" else None
                review.decide(
                    session, entry, user=reviewer, decision=review.Decision(decisions[key]),
                    rationale=f"Rationale for {name}.", cautions=cautions, answers=answers,
                )  # fmt: skip
            if key.startswith("rereview"):
                review.change_state(session, entry, State.NEEDS_REREVIEW,
                                    reason="a check failed three nights running",
                                    actor_label="test")  # fmt: skip
            if key == "in_review":
                review.start_review(session, entry, user=reviewer)
            if key == "retired":
                review.retire(session, entry, user=reviewer, reason="gone for good")
            ids[key] = entry.id
        session.commit()
    return ids


@pytest.fixture
def every_state(app, people) -> dict[str, int]:
    return add_every_state(app, people["reviewer"])


def _names_in(body: str) -> set[str]:
    return {name for name in EVERYONE if name in body}


def _listed(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    soup = BeautifulSoup(response.data, "html.parser")
    return {a.get_text(strip=True) for a in soup.select(".registry-result .nhsuk-card__link")}


# The policy itself: one rule, read alike as SQL and over the filter-count bitmaps.

RULES = [
    (who, frozenset(statuses))
    for who in Audience
    for n in range(1, 3)
    for statuses in itertools.combinations(visibility.STATUSES, n)
]


@BOTH_BACKENDS
def test_search_and_filter_counts_apply_the_same_rule_to_every_state(app, every_state):
    with Session(get_engine(app)) as session:
        rows = session.exec(select(Resource.id, Resource.state, Resource.decision)).all()
        for who, statuses in RULES:
            rule = visibility.shown_rule(who, statuses)
            expected = {i for i, state, decision in rows if rule(state, decision)}
            filters = Filters(statuses=statuses, audience=who)
            tally = facets.tally(session, "", filters)
            found = {r.id for r in ranking.page(session, tally, offset=0, limit=len(rows) + 1)}
            assert found == expected, (who, statuses)
            assert facets.counts(session, "", filters)["total"]["results"] == len(expected)


def test_the_public_sees_decided_entries_and_staff_see_every_one(every_state):
    entry = Resource(state="needs_rereview", decision="not_recommended")
    assert visibility.may_open(Audience.PUBLIC, entry)
    assert not visibility.may_hand_out(entry)
    for state in ("suggested", "in_review", "retired"):
        hidden = Resource(state=state, decision="recommended")
        assert not visibility.may_open(Audience.PUBLIC, hidden)
        assert visibility.may_open(Audience.STAFF, hidden)


# Pages.


def test_an_anonymous_visitor_cannot_walk_the_entry_pages_to_unreviewed_ones(app, every_state):
    client = app.test_client()
    top = max(every_state.values()) + 2
    shown = set()
    for resource_id in range(1, top):
        response = client.get(f"/resources/{resource_id}")
        assert response.status_code in (200, 404), resource_id
        body = response.get_data(as_text=True)
        assert not _names_in(body) & HIDDEN, resource_id
        shown |= _names_in(body)
    assert shown == PUBLIC_ALL
    # Not public and not there at all answer alike, with a way for staff to sign in and come back.
    hidden = client.get(f"/resources/{every_state['suggested']}").get_data(as_text=True)
    missing = client.get("/resources/99999").get_data(as_text=True)
    assert hidden.replace(f"/resources/{every_state['suggested']}", "/resources/N") == (
        missing.replace("/resources/99999", "/resources/N")
    )
    link = BeautifulSoup(hidden, "html.parser").find("a", string="sign in")
    assert link["href"] == f"/sign-in?next=/resources/{every_state['suggested']}"


def test_staff_open_every_entry_and_see_which_are_not_public(app, every_state, as_role):
    clinician = as_role("clinician")
    for key, resource_id in every_state.items():
        soup = BeautifulSoup(clinician.get(f"/resources/{resource_id}").data, "html.parser")
        assert soup.h1.get_text(strip=True) == NAMES[key]
        staff_only = soup.select_one(".registry-staff-only")
        assert (staff_only is not None) == (NAMES[key] in HIDDEN), key


def test_entries_under_rereview_keep_their_decision_in_the_results(app, every_state):
    client = app.test_client()
    assert _listed(client, "/") == PUBLIC_DEFAULT
    soup = BeautifulSoup(client.get("/").data, "html.parser")
    raven = next(
        r for r in soup.select(".registry-result") if NAMES["rereview_recommended"] in r.get_text()
    )
    text = raven.get_text(" ", strip=True)
    assert "Due for re-review" in text and "last decision: Recommended" in text
    assert "Due for re-review: something has changed" in text
    # A standing "not recommended" is shown only when not recommended is asked for.
    assert _listed(client, "/?status=needs_rereview") == {NAMES["rereview_recommended"]}
    assert _listed(client, "/?status=not_recommended") == NOT_RECOMMENDED
    assert _listed(client, "/?status=not_recommended&status=needs_rereview") == NOT_RECOMMENDED | {
        NAMES["rereview_recommended"]
    }
    assert _listed(client, "/?show=all") == PUBLIC_ALL


def test_the_public_filter_counts_count_only_what_the_public_may_see(app, every_state, as_role):
    def counts(client, url):
        soup = BeautifulSoup(client.get(url).data, "html.parser")
        found = {label["for"]: label.select_one(".registry-count").get_text(strip=True)
                 for label in soup.select("label[for]") if label.select_one(".registry-count")}  # fmt: skip
        return found, soup.select_one("#results-heading").get_text(strip=True)

    public, heading = counts(app.test_client(), "/")
    assert heading == "3 resources"
    assert public["kind-website"] == "(3)"  # the fixture's four unreviewed entries are not counted
    assert {k: v for k, v in public.items() if k.startswith("status-")} == {
        "status-recommended": "(2)", "status-recommended_with_cautions": "(1)",
        "status-not_recommended": "(2)", "status-needs_rereview": "(1)",
    }  # fmt: skip
    everything, heading = counts(app.test_client(), "/?show=all")
    assert heading == "5 resources" and everything["kind-website"] == "(5)"
    staff, heading = counts(as_role("clinician").client, "/?show=all")
    assert (
        staff["status-unreviewed"] == "(6)"
    )  # with the fixture's four and staff["status-retired"] == "(1)"
    assert staff["status-needs_rereview"] == "(2)"


def test_review_overdue_shows_on_the_results_and_the_entry_page(app, every_state):
    with Session(get_engine(app)) as session:
        for key in ("recommended", "rereview_recommended"):
            entry = session.get(Resource, every_state[key])
            entry.review_due = date(2020, 3, 1)
            session.add(entry)
        session.commit()
    client = app.test_client()
    soup = BeautifulSoup(client.get("/").data, "html.parser")
    overdue = {r.select_one(".nhsuk-card__link").get_text(strip=True)
               for r in soup.select(".registry-result") if r.select_one(".registry-overdue")}  # fmt: skip
    assert overdue == {NAMES["recommended"], NAMES["rereview_recommended"]}
    page = client.get(f"/resources/{every_state['recommended']}").get_data(as_text=True)
    assert "Review overdue" in page and "1 March 2020 (review overdue)" in page


def test_a_store_listing_that_is_gone_is_a_caution_on_the_entry(reviewed, session):
    add_check(reviewed, "Mood Diary App", "fail", stores=[
        store("app_store", "https://apps.apple.com/app/id000000001", "removed", 404),
        store("google_play", "https://play.google.com/store/apps/details?id=org.example.mood",
              "blocked", 403),
    ])  # fmt: skip
    mood = session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
    soup = BeautifulSoup(reviewed.test_client().get(f"/resources/{mood.id}").data, "html.parser")
    banner = soup.select_one(".registry-caution").get_text(" ", strip=True)
    assert "the App Store listing is gone (HTTP 404)" in banner
    checks = soup.select_one(".registry-checks").get_text(" ", strip=True)
    assert "Google Play turned the automatic check away" in checks


def test_store_findings_in_words():
    from registry.entries.status import caution, lines, problems
    from registry.models import CheckResult

    def result(verdict, *stores):
        return CheckResult(resource_id=1, url="https://x.example.org/", verdict=verdict,
                           liveness_status="up", https_status="ok", privacy_status="found",
                           report={"stores": list(stores)})  # fmt: skip

    gone = result("fail", store("app_store", "https://apps.apple.com/app/id1", "removed", 410))
    assert problems(gone) == ["The App Store listing is gone (HTTP 410)"]
    assert "the App Store listing is gone (HTTP 410)" in caution(gone)
    slow = result("warn", store("google_play", "https://play.google.com/x", "unreachable", 0))
    assert problems(slow) == ["The Google Play listing could not be reached"]
    assert caution(slow) is None  # a warning, not a caution
    listed = result("pass", store("app_store", "https://apps.apple.com/app/id1"))
    assert [(line.topic, line.ok) for line in lines(listed)][-1] == ("App Store", True)
    assert problems(listed) == [] and caution(listed) is None
    # Older reports have no stores section: nothing is said of stores.
    assert [line.topic for line in lines(result("pass"))] == ["Online", "Secure", "Privacy"]


# Exports and the API.


def test_the_open_data_holds_what_the_public_sees_by_default(app, every_state, as_role):
    anonymous = app.test_client()
    for path in ("/export.csv", "/export.json", "/export.hsds.json"):
        assert _names_in(anonymous.get(path).get_data(as_text=True)) == PUBLIC_DEFAULT, path
        everything = anonymous.get(path + "?all=1")
        assert everything.status_code == 302 and "/sign-in" in everything.headers["Location"]
    staff = as_role("clinician")
    assert _names_in(staff.get("/export.json?all=1").get_data(as_text=True)) == EVERYONE


def test_the_api_answers_the_public_as_the_pages_do(app, every_state):
    client = app.test_client()

    def names(query=""):
        response = client.get(f"/api/v1/entries?per_page=100{query}")
        assert response.status_code == 200, response.get_json()
        return {item["name"] for item in response.get_json()["items"]} & EVERYONE

    assert names() == PUBLIC_DEFAULT
    assert names("&status=not_recommended") == NOT_RECOMMENDED
    assert names("&show=all") == PUBLIC_ALL
    for key, resource_id in every_state.items():
        response = client.get(f"/api/v1/entries/{resource_id}")
        if NAMES[key] in HIDDEN:
            assert response.status_code == 401, key
            assert response.get_json()["error"]["code"] == "token_required"
        else:
            assert response.status_code == 200 and response.get_json()["name"] == NAMES[key]


# The setting.


@pytest.mark.parametrize("value", ["public", "NONE ", "", "all"])
def test_an_unknown_public_access_setting_stops_start_up_naming_its_values(tmp_path, value):
    settings = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
                "SECRET_KEY": "x", "REGISTRY_PUBLIC_ACCESS": value}  # fmt: skip
    if value.strip().lower() == "none":
        assert create_app(settings).config["REGISTRY_PUBLIC_ACCESS"] == "none"
        return
    with pytest.raises(config.SettingError) as refused:
        create_app(settings)
    message = str(refused.value)
    assert "REGISTRY_PUBLIC_ACCESS" in message and "decided" in message and "none" in message

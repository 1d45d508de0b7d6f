"""Search that finds: ranking, every filter with its counts, recommended first, hostile input."""

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session, select

from registry.catalogue import ranking
from registry.catalogue.facets import counts as facet_counts
from registry.catalogue.facets import tally
from registry.catalogue.search import Filters
from registry.db import get_engine
from registry.entries.schemas import ResourceCreate
from registry.entries.services import create_resource
from registry.entries.visibility import Audience
from registry.models import Resource, User
from registry.review.lifecycle import edit
from registry.vocab import State
from tests.conftest import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS


def _names(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    soup = BeautifulSoup(response.data, "html.parser")
    return [a.get_text(strip=True) for a in soup.select(".registry-result .nhsuk-card__link")]


@pytest.fixture
def staff(as_role):
    """A clinician signed in: staff may filter by every status, unreviewed and retired too."""
    return as_role("clinician").client


def _add(session, name: str, url: str, state: str = "recommended", **fields) -> Resource:
    entry = create_resource(
        session, data=ResourceCreate(name=name, url=url, kind=fields.pop("kind", "website"), **fields),
        actor_label="test",
    )  # fmt: skip
    entry.state = state
    session.commit()
    return entry


def test_clinicians_see_recommended_entries_unless_they_ask_for_more(reviewed, staff):
    client = staff
    assert _names(client, "/") == ["Mood Diary App", "Voices Together"]
    page = client.get("/").get_data(as_text=True)
    assert "Show all 4, including 1 not yet reviewed" in page
    everything = client.get("/?show=all")
    soup = BeautifulSoup(everything.data, "html.parser")
    assert len(soup.select(".registry-result")) == 4
    assert "You are also seeing resources that are" in soup.get_text(" ")
    marked = {r.select_one(".nhsuk-card__link").get_text(strip=True): r.select_one(".nhsuk-tag").get_text(strip=True)
              for r in soup.select(".registry-result")}  # fmt: skip
    assert marked == {"Bipolar Peer Forum": "Not yet reviewed", "Carers Helpline": "Not recommended",
                      "Mood Diary App": "Recommended", "Voices Together": "Recommended with cautions"}  # fmt: skip


def test_a_result_shows_the_decision_its_date_rationale_and_cautions(reviewed):
    soup = BeautifulSoup(reviewed.test_client().get("/?q=voices").data, "html.parser")
    result = soup.select_one(".registry-result").get_text(" ", strip=True)
    assert "Recommended with cautions" in result
    assert "Rationale for Voices Together." in result
    assert "Groups meet in person too; check times." in result
    assert "Not checked automatically yet." in result


def test_a_name_match_ranks_first(app, session):
    _add(session, "Daily Journal", "https://journal.example.org/",
         description="A journal app for people living with bipolar disorder, psychosis and more.")  # fmt: skip
    _add(session, "Bipolar Buddy", "https://buddy.example.org/", description="Peer chat.")
    names = _names(app.test_client(), "/?q=bipolar")
    assert names[0] == "Bipolar Buddy"
    assert "Daily Journal" in names


def test_an_exact_name_outranks_everything(app, session):
    _add(session, "Mood", "https://mood-only.example.org/", description="Mood mood mood tracker.")
    _add(session, "Mood Tracker Mood", "https://mt.example.org/", description="mood mood mood mood")
    assert _names(app.test_client(), "/?q=Mood")[0] == "Mood"


def test_search_finds_words_by_their_beginning_and_ignores_accents(app, session):
    _add(
        session,
        "Café Santé Mentale",
        "https://cafe.example.org/",
        description="Soutien entre pairs.",
    )
    client = app.test_client()
    assert _names(client, "/?q=cafe+sante") == ["Café Santé Mentale"]
    assert _names(client, "/?q=soutie") == ["Café Santé Mentale"]


def test_show_all_says_what_its_link_adds_whatever_the_filters(reviewed):
    # "Show all" drops the filters, so its figures are those of the page it leads to.
    client = reviewed.test_client()
    soup = BeautifulSoup(client.get("/?kind=app").data, "html.parser")
    link = next(a for a in soup.select("a") if a.get_text(strip=True).startswith("Show all"))
    assert link.get_text(" ", strip=True) == "Show all 3, including 1 not recommended"
    shown = BeautifulSoup(client.get(link["href"]).data, "html.parser")
    assert len(shown.select(".registry-result")) == 3
    assert "Carers Helpline" in shown.get_text(" ")


def test_every_field_is_searched_word_by_word_whatever_the_punctuation(app, session):
    _add(session, "Steady", "https://steady.example.org/", provider="Mind (Cymru)",
         description="Self-help for ÉARLY warning signs; e-mail support.", conditions=["bipolar"])  # fmt: skip
    _add(session, "Other", "https://other.example.org/", description="Helps nobody in particular.")
    client = app.test_client()
    for query in ("cymru", "help early", "warn sign", "mail", "bipol", "steady self"):
        assert _names(client, f"/?q={query}") == ["Steady"], query
    # Each word must begin a word: inside one it finds nothing; every word must be found.
    assert _names(client, "/?q=elp") == []
    assert _names(client, "/?q=steady+nobody") == []


def test_the_index_follows_edits(reviewed, people):
    with Session(get_engine(reviewed)) as session:
        entry = session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
        data = ResourceCreate(
            name="Sleep And Mood Log", url=entry.url, kind="app", conditions=["bipolar"]
        )
        edit(
            session,
            entry,
            data=data,
            user=session.get(User, people["reviewer"]),
            expected_version=entry.version,
        )
        session.commit()
    client = reviewed.test_client()
    assert _names(client, "/?q=sleep+log") == ["Sleep And Mood Log"]
    assert _names(client, "/?q=diary") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("condition=bipolar", ["Mood Diary App"]),
        ("condition=psychosis", ["Voices Together"]),
        ("condition=psychosis&condition=bipolar", ["Mood Diary App", "Voices Together"]),
        ("kind=app", ["Mood Diary App"]),
        ("kind=website&kind=app", ["Mood Diary App", "Voices Together"]),
        ("cost=freemium", ["Mood Diary App"]),
        ("cost=free", ["Voices Together"]),
        ("platform=ios", ["Mood Diary App"]),
        ("platform=web", ["Voices Together"]),
        ("language=cy", ["Mood Diary App"]),
        ("offline=1", ["Mood Diary App"]),
        ("low_data=1", ["Mood Diary App"]),
        ("moderated=1", []),
        ("status=not_recommended", ["Carers Helpline"]),
        ("status=unreviewed", ["Bipolar Peer Forum"]),
        ("status=unreviewed&moderated=1", ["Bipolar Peer Forum"]),
        ("show=all&kind=helpline", ["Carers Helpline"]),
        ("kind=nonsense", ["Mood Diary App", "Voices Together"]),
    ],
)
def test_every_filter_narrows_the_results(reviewed, staff, query, expected):
    assert _names(staff, f"/?{query}") == expected


def test_each_filter_option_shows_how_many_results_choosing_it_would_give(reviewed, staff):
    soup = BeautifulSoup(staff.get("/?kind=app").data, "html.parser")

    def count(input_id: str) -> str:
        return soup.select_one(f'label[for="{input_id}"] .registry-count').get_text(strip=True)

    assert (
        count("kind-app") == "(1)" and count("kind-website") == "(1)"
    )  # other kinds stay countable
    assert count("condition-bipolar") == "(1)" and count("condition-psychosis") == "(0)"
    assert count("status-unreviewed") == "(0)" and count("status-recommended") == "(1)"
    assert count("flag-offline") == "(1)"
    language = {o["value"]: o.get_text(strip=True) for o in soup.select("#language option")}
    assert language["cy"] == "Welsh (1)"


def _chosen(session, filters: Filters) -> set[int]:
    """Return the entries that filters pick, worked out in Python, apart from the index."""
    rule = filters.rule()
    picked = set()
    for resource in session.exec(select(Resource)).all():
        if not rule(resource.state, resource.decision):
            continue
        conditions = filters.values.get("condition")
        kinds = filters.values.get("kind")
        if conditions and not conditions & set(resource.values("condition")):
            continue
        if kinds and resource.kind not in kinds:
            continue
        picked.add(resource.id)
    return picked


@pytest.mark.parametrize("audience", list(Audience))
def test_facet_counts_match_what_choosing_the_option_returns(reviewed, audience):
    with Session(get_engine(reviewed)) as session:
        base = Filters(
            statuses=frozenset(
                {"recommended", "recommended_with_cautions", "not_recommended", "unreviewed"}
            ),
            audience=audience,
        )
        counts = facet_counts(session, "", base)
        assert counts["condition"], "the fixture has conditions to count"
        choices = [
            *(({"condition": frozenset({c})}, base.statuses, n) for c, n in counts["condition"].items()),
            *(({"kind": frozenset({k})}, base.statuses, n) for k, n in counts["kind"].items()),
            *(({}, frozenset({s}), n) for s, n in counts["status"].items()),
        ]  # fmt: skip
        for values, statuses, n in choices:
            chosen = Filters(values=values, statuses=statuses, audience=audience)
            # What the page lists when the option is chosen: as many as its count said, the
            # very entries the option's rule picks.
            listed = ranking.page(session, tally(session, "", chosen), offset=0, limit=1000)
            assert {r.id for r in listed} == _chosen(session, chosen), (values, statuses)
            assert len(listed) == n, (values, statuses)


HOSTILE = ['"unclosed', "(bipolar", "bipolar)", "bipolar AND OR NOT", "NEAR(a b)", "*", "c++", "-", "^",
           "name:bipolar", "🙂 mood", "' OR 1=1 --", "x" * 2000, "\x00", "a" * 60 + "b", "mood " * 400,
           "{}[]", "\\", "%", "_"]  # fmt: skip


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_fail(reviewed, query):
    from urllib.parse import urlencode

    response = reviewed.test_client().get("/?" + urlencode({"q": query, "show": "all"}))
    assert response.status_code == 200
    with Session(get_engine(reviewed)) as session:
        found = tally(session, query, Filters())
        ranking.page(session, found, offset=0, limit=20)


def test_a_helpline_with_a_failing_check_shows_a_caution_at_once(reviewed, session):
    from registry.models import CheckResult

    entry = session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
    session.add(CheckResult(resource_id=entry.id, url=entry.url, verdict="fail", liveness_status="down",
                            https_status="ok", privacy_status="found",
                            report={"https": {"cert_days_left": 80}}))  # fmt: skip
    session.commit()
    client = reviewed.test_client()
    for page in ("/?q=mood", f"/resources/{entry.id}"):
        soup = BeautifulSoup(client.get(page).data, "html.parser")
        banner = soup.select_one(".registry-caution").get_text(" ", strip=True)
        assert "not working: the site answers with an error" in banner
        checks = soup.select_one(".registry-checks").get_text(" ", strip=True)
        assert "Secure connection (HTTPS)" in checks and "Has a privacy policy" in checks


def test_an_entry_that_passed_shows_its_checks_without_a_caution(reviewed, session):
    from registry.models import CheckResult

    entry = session.exec(select(Resource).where(Resource.name == "Voices Together")).one()
    session.add(CheckResult(resource_id=entry.id, url=entry.url, verdict="pass", liveness_status="up",
                            https_status="ok", privacy_status="found", report={}))  # fmt: skip
    session.commit()
    soup = BeautifulSoup(reviewed.test_client().get(f"/resources/{entry.id}").data, "html.parser")
    assert soup.select_one(".registry-caution") is None
    assert "Online" in soup.select_one(".registry-checks").get_text()


def test_unrecommended_states_stay_out_of_the_default_view(app, session, staff):
    for state in State:
        _add(
            session,
            f"Entry {state.value}",
            f"https://{state.value.replace('_', '-')}.example.org/",
            state=state.value,
        )
    names = _names(staff, "/?q=entry")
    assert names == ["Entry recommended", "Entry recommended_with_cautions"]
    assert "Entry retired" not in _names(staff, "/?q=entry&show=all")
    assert _names(staff, "/?q=entry&status=retired") == ["Entry retired"]


def test_filter_counts_follow_every_change_at_once(reviewed, people):
    client = reviewed.test_client()

    def app_count() -> str:
        soup = BeautifulSoup(client.get("/").data, "html.parser")
        return soup.select_one('label[for="kind-app"] .registry-count').get_text(strip=True)

    assert app_count() == "(1)"
    with Session(get_engine(reviewed)) as session:
        _add(session, "Second App", "https://second.example.org/", kind="app")
    assert app_count() == "(2)"
    with Session(get_engine(reviewed)) as session:
        entry = session.exec(select(Resource).where(Resource.name == "Second App")).one()
        entry.state = State.RETIRED.value
        session.commit()
    assert app_count() == "(1)"


def test_once_anything_is_recommended_the_default_is_recommended_only(reviewed):
    soup = BeautifulSoup(reviewed.test_client().get("/?q=bipolar").data, "html.parser")
    assert soup.select_one(".registry-unreviewed-registry") is None
    assert [a.get_text(strip=True) for a in soup.select(".registry-result .nhsuk-card__link")] == [
        "Mood Diary App"
    ]

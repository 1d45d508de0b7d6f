"""The catalogue and entry pages: search, filters, every field shown, everything escaped.

The small fixture registry has nothing reviewed, so most of these look as staff do (signed in):
the public sees only decided entries (tests/entries/test_visibility.py).
"""

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from registry.entries.schemas import ResourceCreate
from registry.entries.services import create_resource
from registry.models import Resource
from tests.conftest import Web


def _page(client, url: str, status: int = 200) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    return BeautifulSoup(response.data, "html.parser")


def _names(soup: BeautifulSoup) -> list[str]:
    return [a.get_text(strip=True) for a in soup.select(".registry-result .nhsuk-card__link")]


@pytest.fixture
def client(as_role):
    """A clinician's browser, signed in: staff see every entry, marked."""
    return as_role("clinician").client


def test_the_catalogue_lists_every_entry_with_its_review_status(client):
    soup = _page(client, "/?show=all")
    assert _names(soup) == [
        "Bipolar Peer Forum",
        "Carers Helpline",
        "Mood Diary App",
        "Voices Together",
    ]
    assert soup.select_one("#results-heading").get_text(strip=True) == "4 resources"
    assert {t.get_text(strip=True) for t in soup.select(".registry-status .nhsuk-tag")} == {
        "Not yet reviewed"
    }


def test_searching_bipolar_finds_the_bipolar_entries_name_matches_first(client):
    soup = _page(client, "/?show=all&q=bipolar")
    assert _names(soup) == ["Bipolar Peer Forum", "Mood Diary App"]
    assert soup.select_one("#q")["value"] == "bipolar"


def test_every_word_of_a_search_must_match(client):
    assert _names(_page(client, "/?show=all&q=bipolar+sleep")) == ["Mood Diary App"]
    assert _names(_page(client, "/?show=all&q=bipolar+helpline")) == []


def test_search_matches_the_provider_and_the_conditions(client):
    assert _names(_page(client, "/?show=all&q=example+health")) == ["Mood Diary App"]
    assert _names(_page(client, "/?show=all&q=schizophrenia")) == ["Voices Together"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=helpline", ["Carers Helpline"]),
        ("condition=psychosis", ["Carers Helpline", "Voices Together"]),
        ("condition=bipolar&kind=app", ["Mood Diary App"]),
        ("kind=forum&condition=psychosis", []),
        (
            "kind=not-a-kind",
            ["Bipolar Peer Forum", "Carers Helpline", "Mood Diary App", "Voices Together"],
        ),
    ],
)
def test_the_kind_and_condition_filters_narrow_the_results(client, query, expected):
    soup = _page(client, f"/?show=all&{query}")
    assert _names(soup) == expected


def test_the_chosen_filters_stay_selected(client):
    soup = _page(client, "/?show=all&kind=app&condition=bipolar")
    assert soup.select_one("#kind-app").has_attr("checked")
    assert soup.select_one("#condition-bipolar").has_attr("checked")
    assert not soup.select_one("#kind-forum").has_attr("checked")


@pytest.mark.parametrize(
    "query",
    [
        '"unclosed',
        "(bipolar",
        "bipolar AND OR NOT",
        "*",
        "c++",
        "100%",
        "_",
        "\\",
        "🙂 mood",
        "' OR 1=1 --",
        "x" * 2000,
        "%00",
        "<b>bold</b>",
    ],  # fmt: skip
)
def test_whatever_is_typed_in_the_search_box_never_breaks_the_page(client, query):
    soup = _page(client, "/?show=all&" + __import__("urllib.parse").parse.urlencode({"q": query}))
    assert soup.select_one("#results-heading") is not None


def test_punctuation_alone_is_no_search_at_all(client):
    everything = _names(_page(client, "/?show=all"))
    for query in ("%25", "_", "*", "%22%22", "()"):
        assert _names(_page(client, f"/?show=all&q={query}")) == everything


def test_the_entry_page_shows_every_field(client, session):
    entry = session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
    soup = _page(client, f"/resources/{entry.id}")
    assert soup.h1.get_text(strip=True) == "Mood Diary App"
    rows = {
        row.dt.get_text(strip=True): row.dd.get_text(" ", strip=True)
        for row in soup.select(".nhsuk-summary-list__row")
    }
    assert rows["Web address"] == "https://mood.example.org/"
    assert rows["Kind"] == "App"
    assert rows["Provider"] == "Example Health"
    assert rows["Conditions"] == "Bipolar disorder"
    assert rows["For"] == "People with severe mental illness"
    assert rows["Cost"] == "Free, with paid extras"
    assert rows["Platforms"] == "Android, iPhone and iPad (iOS)"
    assert rows["App Store (iPhone)"] == "https://apps.apple.com/app/id000000001"
    assert (
        rows["Google Play (Android)"]
        == "https://play.google.com/store/apps/details?id=org.example.mood"
    )
    assert rows["Works offline"] == "Yes"
    assert rows["Low data use"] == "Yes"
    assert rows["Languages"] == "English, Welsh"
    assert rows["Signposts crisis help"] == "Not known"
    assert rows["Evidence"] == "Pilot study, 2020"
    assert rows["Where these facts came from"] == "Fixture data for tests"
    assert rows["Review due"] == "Not reviewed yet"
    assert "No reviewer has assessed this resource yet" in soup.get_text()


def test_a_forum_entry_shows_its_moderation(client, session):
    forum = session.exec(select(Resource).where(Resource.kind == "forum")).one()
    soup = _page(client, f"/resources/{forum.id}")
    assert "Moderated by professionals" in soup.get_text()


def test_an_unknown_entry_is_a_plain_not_found_page(client):
    soup = _page(client, "/resources/99999", status=404)
    assert soup.h1.get_text(strip=True) == "Page not found"


def test_an_entry_named_like_a_script_shows_as_text(client, session):
    hostile = "<script>alert(1)</script>"
    entry = create_resource(
        session,
        data=ResourceCreate(name=hostile, url="https://x.example.org/", kind="website",
                            description='"><img src=x onerror=alert(2)>', provider="<b>bold</b>"),
        actor_label="test",
    )  # fmt: skip
    session.commit()
    for url in ("/?show=all", f"/resources/{entry.id}", "/?show=all&q=%3Cscript%3E"):
        html = client.get(url).get_data(as_text=True)
        assert hostile not in html and "<img src=x" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_results_are_paged(make_app, make_user):
    make_user("pager@example.org")  # on the same database as the app below
    app = make_app(REGISTRY_PAGE_SIZE=3)
    web = Web(app.test_client())
    web.sign_in("pager@example.org")
    client = web.client
    first, second = _page(client, "/?show=all"), _page(client, "/?show=all&page=2")
    assert len(_names(first)) == 3 and len(_names(second)) == 1
    assert first.select_one(".nhsuk-pagination__link--next")["href"] == "/?show=all&page=2"
    assert _names(_page(client, "/?show=all&page=999")) == _names(second)
    assert _names(_page(client, "/?show=all&page=abc")) == _names(first)


def test_pages_have_a_language_a_skip_link_labelled_fields_and_one_main(client):
    soup = _page(client, "/?show=all")
    assert soup.html["lang"] == "en-GB"
    assert soup.select_one("a.nhsuk-skip-link")["href"] == "#main-content"
    assert len(soup.find_all("main")) == 1 and soup.main["id"] == "main-content"
    for field in soup.select("input:not([type=hidden]), select"):
        assert soup.select_one(f'label[for="{field["id"]}"]'), field
    assert len(soup.find_all("h1")) == 1


def test_the_stylesheet_is_served_from_the_registry_itself(client):
    soup = _page(client, "/?show=all")
    hrefs = [link["href"] for link in soup.find_all("link", rel="stylesheet")]
    assert all(href.startswith("/static/") for href in hrefs)
    css = client.get(hrefs[0])
    assert css.status_code == 200 and b"nhsuk" in css.data and b"assets.nhs.uk" not in css.data


def test_a_registry_with_nothing_reviewed_shows_everything_marked_unreviewed(client):
    soup = _page(client, "/?q=bipolar")
    assert _names(soup) == ["Bipolar Peer Forum", "Mood Diary App"]
    notice = soup.select_one(".registry-unreviewed-registry").get_text(" ", strip=True)
    assert "No resource in this registry has been reviewed" in notice
    assert {t.get_text(strip=True) for t in soup.select(".registry-status .nhsuk-tag")} == {
        "Not yet reviewed"
    }


def test_staff_see_every_decision_newest_first_and_the_public_who_decided_without_an_email(
    reviewed, session, as_role, people
):
    from registry.models import User
    from registry.review import lifecycle as review
    from registry.review.rubric import ITEMS

    entry = session.exec(select(Resource).where(Resource.name == "Voices Together")).one()
    second = session.get(User, people["reviewer2"])
    second.name = "Sam Second"
    session.add(second)
    answers = {item.key: {"answer": "yes", "note": ""} for item in ITEMS}
    answers["evidence"] = {"answer": "unclear", "note": "Only a pilot."}
    review.decide(
        session, entry, user=second, decision=review.Decision("recommended"),
        rationale="Groups now run online too.", cautions=None, answers=answers,
    )  # fmt: skip
    session.commit()
    path = f"/resources/{entry.id}"

    staff = BeautifulSoup(as_role("clinician").get(path).data, "html.parser")
    past = staff.select(".registry-past-decision")
    assert [p.h3.get_text(strip=True) for p in past] == [
        "Recommended (stands)",
        "Recommended with cautions",
    ]
    assert "Sam Second" in past[0].get_text() and "reviewer@example.org" in past[1].get_text()
    assert "Groups meet in person too; check times." in past[1].get_text()
    assert "Unclear: Only a pilot." in past[0].select_one("details").get_text(" ", strip=True)

    public = BeautifulSoup(Web(reviewed.test_client()).get(path).data, "html.parser")
    assert public.select(".registry-past-decision") == []
    assert "by Sam Second" in public.select_one(".registry-decided-by").get_text()
    assert "@example.org" not in public.get_text()

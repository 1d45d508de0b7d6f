"""Pages that cost little to serve: 304s for public pages that did not change, versioned static.

A browser keeps a public page and asks again with If-None-Match; the registry answers 304
until anything on the page changes (a decision, a check result, an edit), then the new page.
"""

import re
from datetime import timedelta

from bs4 import BeautifulSoup
from sqlmodel import Session, select

from registry import db
from registry.db import get_engine, utcnow
from registry.entries import status
from registry.jobs.checkrun import result_row
from registry.models import Resource
from tests.api.conftest import report
from tests.catalogue.test_search_queries import _rows_loaded, _statements
from tests.conftest import Web
from tests.review.test_lifecycle import _decision, review_form


def _entry(app, name: str) -> Resource:
    with Session(get_engine(app)) as session:
        return session.exec(select(Resource).where(Resource.name == name)).one()


def _again(client, path: str, response):
    """Ask for path again as a browser that kept response does."""
    return client.get(path, headers={"If-None-Match": response.headers["ETag"]})


def test_an_unchanged_public_page_is_answered_304_and_a_decision_shows_at_once(
    reviewed, client, as_role
):
    mood = _entry(reviewed, "Mood Diary App")
    paths = ["/", "/?q=mood", f"/resources/{mood.id}", "/guidance", "/handout"]
    first = {path: client.get(path) for path in paths}
    for path, response in first.items():
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "private, no-cache", path
        assert response.headers["ETag"].startswith('W/"'), path
        unchanged = _again(client, path, response)
        assert (unchanged.status_code, unchanged.data) == (304, b""), path

    # A reviewer's decision changes what the public sees: every page is sent afresh.
    reviewer = as_role("reviewer2")
    sent = review_form(reviewer, mood.id, _decision("not_recommended", rationale="It sells data."))
    assert sent.status_code == 302
    entry_page = _again(client, f"/resources/{mood.id}", first[f"/resources/{mood.id}"])
    assert entry_page.status_code == 200 and b"It sells data." in entry_page.data
    assert _again(client, "/", first["/"]).status_code == 200


def test_a_new_check_result_changes_the_entry_page(reviewed, client):
    mood = _entry(reviewed, "Mood Diary App")
    path = f"/resources/{mood.id}"
    kept = client.get(path)
    with Session(get_engine(reviewed)) as session:
        session.add(result_row(report(mood.url, "fail", "down"), resource_id=mood.id, run_id=None))
        session.commit()
    fresh = _again(client, path, kept)
    assert fresh.status_code == 200 and fresh.headers["ETag"] != kept.headers["ETag"]
    assert _again(client, path, fresh).status_code == 304


def test_what_a_browser_adds_to_its_handout_changes_its_own_pages_only(reviewed, client, session):
    mood = _entry(reviewed, "Mood Diary App")
    path = f"/resources/{mood.id}"
    kept = client.get(path)
    visitor = Web(client)
    added = visitor.post("/handout/add", {"resource_id": mood.id, "back": path}, page=path)
    assert added.status_code == 302
    # The flash is shown once, then the page with "In your handout" has a tag of its own.
    assert client.get(path).status_code == 200
    now = _again(client, path, kept)
    assert now.status_code == 200 and b"In your handout" in now.data
    assert _again(client, path, now).status_code == 304


def test_pages_for_staff_are_never_stored_nor_answered_304(reviewed, as_role):
    clinician = as_role("clinician")
    page = clinician.get("/")
    assert page.headers["Cache-Control"] == "no-store" and "ETag" not in page.headers
    asked = clinician.get("/", headers={"If-None-Match": "*"})
    assert asked.status_code == 200


def test_static_files_are_linked_under_a_versioned_name_and_kept_for_a_year(client):
    html = client.get("/").get_data(as_text=True)
    links = re.findall(r'href="(/static/[^"]+\.css\?v=[0-9a-f]{12})"', html)
    assert links, "the stylesheet is linked under a versioned name"
    for link in links:
        response = client.get(link)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    bare = client.get(links[0].split("?")[0])
    assert bare.headers["Cache-Control"] == "public, no-cache"
    stale = client.get(links[0].split("?")[0] + "?v=000000000000")
    assert stale.headers["Cache-Control"] == "public, no-cache"
    # Every asset a page links to is there.
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.select("link[href^='/static/'], script[src^='/static/'], img[src^='/static/']"):
        assert client.get(tag.get("href") or tag.get("src")).status_code == 200


def test_links_remembered_by_the_templates_follow_the_address_the_registry_is_served_under(
    reviewed, client
):
    # The same page through a proxy that mounts the registry under /registry, and directly.
    for prefix in ("/registry", "", "/registry"):
        html = client.get("/", environ_overrides={"SCRIPT_NAME": prefix}).get_data(as_text=True)
        soup = BeautifulSoup(html, "html.parser")
        entry_links = [a["href"] for a in soup.select("li.registry-result h3 a")]
        assert entry_links and all(
            re.fullmatch(f"{prefix}/resources/[0-9]+", href) for href in entry_links
        ), (prefix, entry_links[:3])
        styles = [link["href"] for link in soup.select("link[rel=stylesheet]")]
        assert all(href.startswith(f"{prefix}/static/") for href in styles), (prefix, styles)
        assert soup.select_one("a.registry-service-name")["href"] == f"{prefix}/"


def _untokened(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html)


def _card(html: str, name: str):
    """Return the results card of the entry called name on a catalogue page."""
    soup = BeautifulSoup(html, "html.parser")
    found = [c for c in soup.select("li.registry-result") if c.h3.get_text(strip=True) == name]
    assert len(found) == 1, name
    return found[0]


def test_a_results_page_of_kept_cards_loads_no_rows_and_a_decision_shows_at_once(
    reviewed, client, as_role
):
    mood = _entry(reviewed, "Mood Diary App")
    first = client.get("/?show=all").get_data(as_text=True)
    assert "Rationale for Mood Diary App." in _card(first, "Mood Diary App").get_text()
    with _statements(reviewed) as seen:
        again = client.get("/?show=all").get_data(as_text=True)
    assert _rows_loaded(seen) == [], "every card of a page seen before is kept"
    assert _untokened(again) == _untokened(first)  # a form token is signed with the time

    # A reviewer's decision changes the card at once, for the public and for staff.
    reviewer = as_role("reviewer2")
    sent = review_form(reviewer, mood.id, _decision("not_recommended", rationale="It sells data."))
    assert sent.status_code == 302
    for browser in (client, as_role("clinician")):
        card = _card(browser.get("/?show=all").get_data(as_text=True), "Mood Diary App")
        assert "It sells data." in card.get_text()
        assert "registry-result--unrecommended" in card["class"]
        assert card.find("button", string=re.compile("Add to handout")) is None


def test_a_new_check_result_shows_on_the_card_at_once(reviewed, client):
    mood = _entry(reviewed, "Mood Diary App")
    before = _card(client.get("/").get_data(as_text=True), "Mood Diary App")
    assert "Check before recommending" not in before.get_text()
    with Session(get_engine(reviewed)) as session:
        session.add(result_row(report(mood.url, "fail", "down"), resource_id=mood.id, run_id=None))
        session.commit()
    after = _card(client.get("/").get_data(as_text=True), "Mood Diary App")
    assert "Check before recommending" in after.get_text()


def test_a_review_that_falls_overdue_overnight_shows_the_next_morning(
    reviewed, client, monkeypatch
):
    """Nothing in the database changes at midnight: the day itself is part of what is kept."""
    today = utcnow()
    with Session(get_engine(reviewed)) as session:
        mood = session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
        mood.review_due = today.date()  # due today: overdue from tomorrow
        session.add(mood)
        session.commit()
    kept = client.get("/")
    assert "Review overdue" not in _card(kept.get_data(as_text=True), "Mood Diary App").get_text()
    tomorrow = today + timedelta(days=1)
    for module in (db, status):
        monkeypatch.setattr(module, "utcnow", lambda: tomorrow)
    card = _card(client.get("/").get_data(as_text=True), "Mood Diary App")
    assert "Review overdue" in card.get_text()
    assert _again(client, "/", kept).status_code == 200, "a browser's copy of yesterday is stale"

"""Pages that cost little to serve: 304s for public pages that did not change, versioned static.

A browser keeps a public page and asks again with If-None-Match; the registry answers 304
until anything on the page changes (a decision, a check result, an edit), then the new page.
"""

import re

from bs4 import BeautifulSoup
from sqlmodel import Session, select

from registry.db import get_engine
from registry.jobs.checkrun import result_row
from registry.models import Resource
from tests.api.conftest import report
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

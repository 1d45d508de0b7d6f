"""Public pages kept whole: asked for again, a page is sent from memory, each browser's own.

A kept page must never show older data than the database holds, another browser's form token,
another browser's handout, or a message meant for someone else.
"""

import re
from contextlib import contextmanager

import pytest
from bs4 import BeautifulSoup
from flask import template_rendered
from sqlmodel import Session, select

from registry.catalogue import keeping, kept_pages
from registry.db import get_engine
from registry.models import Resource
from tests.catalogue.test_search_queries import _statements
from tests.conftest import Web
from tests.review.test_lifecycle import _decision, review_form


def _entry(app, name: str) -> Resource:
    with Session(get_engine(app)) as session:
        return session.exec(select(Resource).where(Resource.name == name)).one()


def _tokens(response) -> set[str]:
    page = BeautifulSoup(response.data, "html.parser")
    return {field["value"] for field in page.select('input[name="csrf_token"]')}


def _without_tokens(response) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))


@contextmanager
def _rendered(app):
    """Collect the names of the templates rendered while the block runs."""
    names: list[str] = []

    def note(_app, template, **_extra):
        names.append(template.name)

    template_rendered.connect(note, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(note, app)


def _is_version_read(statement: str) -> bool:
    return "max(check_result.id)" in statement and "max(audit_event.id)" in statement


PAGES = ["/", "/?q=mood&kind=app", "/resources/{mood}", "/guidance", "/handout"]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_asked_for_again_is_sent_whole_asking_only_the_datas_version(reviewed, path):
    path = path.format(mood=_entry(reviewed, "Mood Diary App").id)
    first = reviewed.test_client().get(path)
    with _statements(reviewed) as seen, _rendered(reviewed) as rendered:
        again = reviewed.test_client().get(path)  # another browser, on its first visit
    assert (first.status_code, again.status_code) == (200, 200)
    assert [s for s in seen if not _is_version_read(s)] == [], "\n".join(seen)
    assert rendered == []
    assert _without_tokens(again) == _without_tokens(first)
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]


def test_each_browser_gets_its_own_form_token_and_it_works(reviewed):
    mood = _entry(reviewed, "Mood Diary App")
    path = f"/resources/{mood.id}"
    first, second = reviewed.test_client(), reviewed.test_client()
    first_tokens = _tokens(first.get(path))
    kept = second.get(path)
    assert len(first_tokens) == 1 and len(_tokens(kept)) == 1
    assert _tokens(kept) != first_tokens  # never the token of the browser the page was made for
    # The token in the kept page is the second browser's: its form works.
    (token,) = _tokens(kept)
    added = second.post("/handout/add", data={"csrf_token": token, "resource_id": mood.id})
    assert added.status_code == 302
    assert "Mood Diary App" in second.get("/handout").get_data(as_text=True)
    # And the first browser's token is refused with the second's cookie.
    (foreign,) = first_tokens
    refused = second.post("/handout/add", data={"csrf_token": foreign, "resource_id": mood.id})
    assert refused.status_code == 400


def test_a_browsers_handout_and_messages_stay_its_own(reviewed):
    mood = _entry(reviewed, "Mood Diary App")
    path = f"/resources/{mood.id}"
    visitor, stranger = Web(reviewed.test_client()), reviewed.test_client()
    assert b"Add to handout" in stranger.get(path).data  # kept, for a browser with no handout
    added = visitor.post("/handout/add", {"resource_id": mood.id, "back": path}, page=path)
    assert added.status_code == 302
    shown = visitor.get(path).get_data(as_text=True)
    assert "added to your handout" in shown and "In your handout" in shown  # its message
    assert "added to your handout" not in visitor.get(path).get_data(as_text=True)  # once
    assert b"In your handout" in visitor.get(path).data
    for page in (path, "/handout"):
        sent = stranger.get(page).get_data(as_text=True)
        assert "In your handout" not in sent and "added to your handout" not in sent, page
    assert "Your handout is empty" in stranger.get("/handout").get_data(as_text=True)


def test_a_decision_shows_at_once_on_a_page_that_was_kept(reviewed, as_role):
    mood = _entry(reviewed, "Mood Diary App")
    paths = [f"/resources/{mood.id}", "/?q=mood"]
    for path in paths:
        reviewed.test_client().get(path)
    reviewer = as_role("reviewer2")
    sent = review_form(reviewer, mood.id, _decision("not_recommended", rationale="It sells data."))
    assert sent.status_code == 302
    entry_page = reviewed.test_client().get(paths[0]).get_data(as_text=True)
    assert "It sells data." in entry_page and "Not recommended" in entry_page
    results = reviewed.test_client().get("/?q=mood").get_data(as_text=True)
    assert "Mood Diary App" not in results  # the public list shows recommended entries only


def test_someone_signed_in_is_never_sent_a_kept_page(reviewed, as_role):
    reviewed.test_client().get("/")
    reviewer = as_role("reviewer")
    with _rendered(reviewed) as rendered:
        page = reviewer.get("/").get_data(as_text=True)
    assert rendered == ["catalogue.html"] and "Sign out" in page


def test_no_page_is_kept_without_room_for_one(make_app):
    app = make_app(REGISTRY_KEPT_PAGES_MB=0)
    app.test_client().get("/?q=mood")
    with _rendered(app) as rendered:
        assert app.test_client().get("/?q=mood").status_code == 200
    assert rendered == ["catalogue.html"]


def test_the_page_asked_for_least_lately_goes_first_when_room_runs_out(reviewed):
    reviewed.config["REGISTRY_KEPT_PAGES_MB"] = 0.25
    kept_pages.init_app(reviewed)  # room for a quarter of a MB, as the setting gives it at start
    client = reviewed.test_client()

    def made(path: str) -> bool:
        with _rendered(reviewed) as rendered:
            assert client.get(path).status_code == 200
        return rendered == ["catalogue.html"]

    size = len(client.get("/?q=&n=0").data)
    with reviewed.app_context():
        pages, packed = kept_pages.held()
    assert pages == 1 and packed < size / 3  # kept packed: a few times smaller than sent
    fit = 2**18 // packed  # pages of this size that fit
    assert fit > 2 and made("/?q=&n=1") and not made("/?q=&n=1")
    for n in range(2, 2 * fit):  # each its own address, the same page: more than fit
        assert made(f"/?q=&n={n}")
    with reviewed.app_context():
        pages, packed = kept_pages.held()
    assert packed <= 2**18 and pages > 3 * (2**18 // size)  # more than fit unpacked
    assert not made(f"/?q=&n={2 * fit - 1}")  # the latest stayed
    assert made("/?q=&n=1")  # the first went to make room


def _keeping_in(app, path: str) -> None:
    app.config["REGISTRY_KEPT_FILE"] = path
    keeping.init_app(app)  # as the setting gives it at start


def test_two_web_processes_on_one_file_send_each_others_pages(reviewed, make_app, tmp_path):
    """As the workers of `registry serve --workers N` do: one makes a page, the other sends it."""
    shared = str(tmp_path / "pages.sqlite")
    _keeping_in(reviewed, shared)
    maker = reviewed
    other = make_app(REGISTRY_KEPT_FILE=shared)  # the same database, its own connections
    mood = _entry(maker, "Mood Diary App")
    path = f"/resources/{mood.id}"
    made = maker.test_client().get(path)
    visitor = other.test_client()
    with _rendered(other) as rendered:
        sent = visitor.get(path)
    assert rendered == [] and _without_tokens(sent) == _without_tokens(made)
    (token,) = _tokens(sent)  # the visitor's own: its form works on the process that sent it
    assert token not in _tokens(made)
    added = visitor.post("/handout/add", data={"csrf_token": token, "resource_id": mood.id})
    assert added.status_code == 302


def test_a_store_that_cannot_be_opened_leaves_every_page_made_afresh(reviewed, tmp_path, caplog):
    app = reviewed
    _keeping_in(app, str(tmp_path / "no such folder" / "pages.sqlite"))
    for _ in range(2):
        with _rendered(app) as rendered:
            page = app.test_client().get("/?q=mood")
        assert page.status_code == 200 and "Mood Diary App" in page.get_data(as_text=True)
        assert rendered == ["catalogue.html"]
    assert "could not be" in caplog.text

"""A results page costs the same few queries whatever its size: nothing is loaded per result."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from registry.accounts import tokens as api_tokens
from registry.catalogue import cards, facets, keeping, kept_pages
from registry.db import get_engine, utcnow
from registry.entries.schemas import ResourceCreate
from registry.entries.services import create_resource
from registry.jobs.checkrun import result_row
from registry.models import Resource, User
from registry.review import lifecycle as review
from registry.review.rubric import ITEMS
from tests.conftest import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

ENTRIES = 60


def _report(url: str) -> dict:
    return {
        "url": url, "final_url": url, "checked_at": utcnow().isoformat(timespec="seconds"),
        "verdict": "warn",
        "liveness": {"status": "up", "http_status": 200, "redirects": 0, "elapsed_ms": 10, "detail": ""},
        "https": {"status": "ok", "redirects_http_to_https": True, "hsts": True, "cert_days_left": 80, "detail": ""},
        "privacy": {"status": "found", "policy_url": url + "privacy", "detail": "", "fingerprint": "0" * 64},
    }  # fmt: skip


@pytest.fixture
def many(app, people):
    """Sixty decided entries, each with a review, cautions, a check result and tags."""
    answers = {item.key: {"answer": "yes"} for item in ITEMS}
    with Session(get_engine(app)) as session:
        reviewer = session.get(User, people["reviewer"])
        for n in range(ENTRIES):
            entry = create_resource(
                session,
                data=ResourceCreate(
                    name=f"Mood Tracker {n:02}", url=f"https://mood{n}.example.org/", kind="app",
                    description="A mood tracker for bipolar disorder.", conditions=["bipolar"],
                    platforms=["ios", "android"], languages=["en"],
                ),
                actor_label="test",
            )  # fmt: skip
            session.add(result_row(_report(entry.url), resource_id=entry.id, run_id=None))
            review.decide(
                session, entry, user=reviewer, decision=review.Decision("recommended_with_cautions"),
                rationale=f"Rationale {n}.", cautions="Check the settings.", answers=answers,
            )  # fmt: skip
        session.commit()
    return app


@contextmanager
def _statements(app):
    """Collect the SQL statements sent to the database while the block runs."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _executemany):
        seen.append(statement)

    engine = get_engine(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _rows_loaded(statements: list[str]) -> list[str]:
    """Return the statements that load entries' rows (a results page's, or its cards')."""
    return [
        s for s in statements if s.lstrip().upper().startswith("SELECT RESOURCE.ID, RESOURCE.NAME")
    ]


def _issued(app, get, path: str, size: int, *, shown: int) -> list[str]:
    """Return the statements one request for path issues at a page size, from a cold search."""
    app.config["REGISTRY_PAGE_SIZE"] = size
    facets.clear()
    with app.app_context():
        kept_pages.clear()  # every page is made, not sent whole as at the other page size
    get("/?q=")  # rebuild the filter index, as any page after a change does; not counted
    with app.app_context():
        cards.clear()  # and make every card again: the rows are loaded, in so many queries
        kept_pages.clear()
    with _statements(app) as seen:
        response = get(path)
    assert response.status_code == 200
    # A full page of results, nearly all with a decision, a rationale and a check to show.
    body = response.get_data(as_text=True)
    assert body.count("registry-result ") + body.count('registry-result"') == shown, path
    assert body.count("Rationale ") >= shown - 2, path
    return seen


@pytest.mark.parametrize(
    "path", ["/", "/?q=mood+tracker", "/?q=tracker&condition=bipolar&kind=app"]
)
def test_the_public_results_page_costs_the_same_queries_at_any_page_size(many, path):
    client = many.test_client()
    small = _issued(many, client.get, path, 5, shown=5)
    large = _issued(many, client.get, path, 50, shown=50)
    assert len(large) == len(small), "\n".join(large)


@pytest.mark.parametrize("path", ["/", "/?q=mood&show=all"])
def test_a_staff_results_page_costs_the_same_queries_at_any_page_size(many, as_role, path):
    staff = as_role("reviewer")
    small = _issued(many, staff.get, path, 5, shown=5)
    large = _issued(many, staff.get, path, 50, shown=50)
    assert len(large) == len(small), "\n".join(large)


def test_the_api_entries_cost_the_same_queries_at_any_page_size(many):
    with Session(get_engine(many)) as session:
        _token, secret = api_tokens.create(session, email="reviewer@example.org", name="t")
        session.commit()
    client = many.test_client()
    for headers in ({}, {"Authorization": f"Bearer {secret}"}):
        counted = {}
        for per_page in (5, 50):
            facets.clear()
            client.get("/api/v1/entries", headers=headers)
            with _statements(many) as seen:
                response = client.get(
                    f"/api/v1/entries?q=mood&per_page={per_page}", headers=headers
                )
            assert response.status_code == 200
            assert len(response.get_json()["items"]) == per_page
            counted[per_page] = seen
        assert len(counted[50]) == len(counted[5]), "\n".join(counted[50])


def test_a_page_loads_only_its_own_rows(many):
    """The rows read for a page are the page's, not every match sorted by the database."""
    many.config["REGISTRY_PAGE_SIZE"] = 5
    client = many.test_client()
    client.get("/?q=")
    with _statements(many) as seen:
        client.get("/?q=mood&page=3")
    loads = _rows_loaded(seen)
    assert (
        len(loads) == 1 and "ORDER BY" not in loads[0].upper() and "LIMIT" not in loads[0].upper()
    )
    with Session(get_engine(many)) as session:
        names = session.exec(select(Resource.name).order_by(Resource.name)).all()
    expected = [n for n in names if n.startswith("Mood Tracker")][10:15]
    page = client.get("/?q=mood&page=3").get_data(as_text=True)
    assert all(name in page for name in expected)


def test_an_entry_page_costs_the_same_queries_however_long_its_history(many, people):
    with Session(get_engine(many)) as session:
        entry = session.exec(select(Resource).where(Resource.name == "Mood Tracker 07")).one()
    client = many.test_client()
    path = f"/resources/{entry.id}"
    client.get(path)
    with many.app_context():
        kept_pages.clear()  # the page is made again, not answered whole from the first
    with _statements(many) as short:
        assert client.get(path).status_code == 200
    answers = {item.key: {"answer": "yes"} for item in ITEMS}
    with Session(get_engine(many)) as session:
        entry = session.get(Resource, entry.id)
        for n, who in enumerate(("reviewer2", "reviewer", "reviewer2")):
            session.add(result_row(_report(entry.url), resource_id=entry.id, run_id=None))
            review.decide(
                session, entry, user=session.get(User, people[who]),
                decision=review.Decision("recommended"), rationale=f"Decided again {n}.", cautions=None,
                answers=answers,
            )  # fmt: skip
        session.commit()
    with _statements(many) as long:
        page = client.get(path)
    assert b"Decided again 2." in page.data
    assert len(long) == len(short), "\n".join(long)


def test_the_cards_beyond_the_stores_room_are_made_again_the_rest_kept(many, monkeypatch):
    many.config["REGISTRY_PAGE_SIZE"] = 5
    monkeypatch.setattr(keeping, "TOUCH_NS", 0)  # every card shown is marked so at once
    client = many.test_client()
    client.get("/?q=")

    def rows_loaded_for(path: str) -> int:
        with many.app_context():
            kept_pages.clear()  # the page is made, not answered whole; its cards may be kept
        with _statements(many) as seen:
            assert client.get(path).status_code == 200
        return len(_rows_loaded(seen))

    with many.app_context():
        cards.clear()
    assert rows_loaded_for("/?q=mood&page=1") == 1
    with many.app_context():
        five, packed = cards.held()
    assert five == 5
    monkeypatch.setattr(cards, "ROOM", packed * 2 + packed // 2)  # room for ten, not fifteen
    assert rows_loaded_for("/?q=mood&page=2") == 1
    assert rows_loaded_for("/?q=mood&page=1") == 0  # ten cards fit: both pages' are kept
    assert rows_loaded_for("/?q=mood&page=3") == 1  # five more: page 2's, shown longest ago, go
    assert rows_loaded_for("/?q=mood&page=1") == 0
    assert rows_loaded_for("/?q=mood&page=3") == 0
    assert rows_loaded_for("/?q=mood&page=2") == 1


def test_a_card_one_web_process_made_is_shown_by_another_without_loading_its_row(
    many, make_app, tmp_path
):
    """As the workers of `registry serve --workers N` do, sharing one file of kept cards."""
    shared = str(tmp_path / "kept.sqlite")
    many.config["REGISTRY_KEPT_FILE"] = shared
    keeping.init_app(many)  # as the setting gives it at start
    other = make_app(REGISTRY_KEPT_FILE=shared)  # the same database, its own connections
    made = many.test_client().get("/?q=mood").get_data(as_text=True)
    with _statements(other) as seen:
        page = other.test_client().get("/?q=mood&show=all")  # another address: a page made anew
    shown = page.get_data(as_text=True)
    assert page.status_code == 200 and _rows_loaded(seen) == []
    first = "Mood Tracker 00"
    assert first in made and first in shown and "Rationale 0." in shown

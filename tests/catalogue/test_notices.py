"""PostgreSQL's notices: a public page asks the database nothing until something has changed.

A web process that `registry serve` starts listens for the notices migration 0015's triggers
send (catalogue/notices.py). While none comes, public pages whose cards and order are kept send
no statement at all; a change made anywhere shows on the next page once its notice is in, a
change this process made shows at once, and without the listener every page reads again.
"""

import os
import time

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from registry.catalogue import notices
from registry.db import get_engine, make_engine
from registry.models import Resource
from tests.catalogue.test_search_queries import _statements
from tests.conftest import ON_POSTGRESQL
from tests.test_serve import serving

pytestmark = ON_POSTGRESQL


def _until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


@pytest.fixture
def listening(reviewed):
    """The reviewed app with its listener started and connected, as `registry serve` starts it."""
    watch = notices.start(reviewed)
    try:
        _until(lambda: watch.listening)
        yield watch
    finally:
        watch.stop()


@pytest.fixture
def elsewhere(database_url):
    """An engine of its own on the app's database: another process, as far as the app can tell."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _rename(engine, old: str, new: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE resource SET name = :new WHERE name = :old"), {"old": old, "new": new}
        )


def test_a_public_page_asks_nothing_until_another_process_changes_an_entry(
    reviewed, listening, client, elsewhere
):
    client.get("/")  # the cards, their order and the version read and kept
    with _statements(reviewed) as seen:
        page = client.get("/")
    assert page.status_code == 200 and "Mood Diary App" in page.text
    assert seen == []  # not even the version: no notice came

    generation = listening.generation
    _rename(elsewhere, "Mood Diary App", "Mood Journal App")
    _until(lambda: listening.generation != generation)  # the notice is in
    with _statements(reviewed) as seen:
        page = client.get("/")
    assert "Mood Journal App" in page.text
    assert seen  # read afresh


def test_a_check_result_or_an_audit_entry_from_elsewhere_is_a_notice_too(
    reviewed, listening, elsewhere
):
    for statement in (
        "INSERT INTO audit_event (at, entity, entity_id, action, changes) "
        "VALUES (now(), 'resource', 1, 'test', '{}')",
        "INSERT INTO check_result (resource_id, checked_at, url, verdict, liveness_status, "
        "https_status, privacy_status, report) SELECT id, now(), url, 'fail', 'down', "
        "'error', 'missing', '{}' FROM resource LIMIT 1",
    ):
        generation = listening.generation
        with elsewhere.begin() as connection:
            connection.execute(text(statement))
        _until(lambda g=generation: listening.generation != g)


def test_a_change_this_process_commits_shows_on_its_next_page_without_waiting(
    reviewed, another_database_url, client, monkeypatch
):
    # The listener listens to another database, so no notice of this one's changes ever comes:
    # only the process's own commit can tell its pages to read again.
    monkeypatch.setattr(notices, "MAX_AGE", 3600)
    watch = notices.start(reviewed, listen_to=another_database_url)
    try:
        _until(lambda: watch.listening)
        client.get("/")
        with _statements(reviewed) as seen:
            assert "Mood Diary App" in client.get("/").text
        assert seen == []
        with Session(get_engine(reviewed)) as session:
            entry = session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
            entry.name = "Mood Journal App"
            session.add(entry)
            session.commit()
        assert "Mood Journal App" in client.get("/").text
    finally:
        watch.stop()


def test_a_change_made_without_the_triggers_shows_within_the_kept_versions_age(
    reviewed, listening, client, elsewhere, monkeypatch
):
    monkeypatch.setattr(notices, "MAX_AGE", 0.3)
    client.get("/")
    with elsewhere.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))  # no triggers
        connection.execute(text("UPDATE resource SET name = 'Mood Journal App' "
                                "WHERE name = 'Mood Diary App'"))  # fmt: skip
        connection.execute(
            text("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                 "WHERE key = 'search_version'")
        )  # fmt: skip
    assert "Mood Diary App" in client.get("/").text  # kept: nothing said it moved
    _until(lambda: "Mood Journal App" in client.get("/").text, seconds=5)


def test_without_its_listener_every_page_reads_and_the_listener_comes_back(
    reviewed, listening, client, elsewhere
):
    client.get("/")
    with elsewhere.begin() as connection:
        ended = connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND query LIKE 'LISTEN%'")
        ).all()  # fmt: skip
    assert ended == [(True,)]
    _until(lambda: not listening.listening)  # it waits RETRY_SECONDS before it reconnects
    # Meanwhile every page reads the version: no change is hidden while nobody listens.
    with _statements(reviewed) as seen:
        client.get("/")
    assert seen
    _rename(elsewhere, "Mood Diary App", "Mood Journal App")
    _until(lambda: listening.listening, seconds=10)  # reconnected by itself
    assert "Mood Journal App" in client.get("/").text
    client.get("/")
    with _statements(reviewed) as seen:
        client.get("/")
    assert seen == []


def test_someone_signed_in_always_reads_the_version(reviewed, listening, as_role):
    clinician = as_role("clinician")
    clinician.get("/")
    with _statements(reviewed) as seen:
        clinician.get("/")
    assert any("max(audit_event.id)" in statement for statement in seen), seen


@pytest.mark.parametrize("workers", ["1", "2"])
def test_registry_serve_listens_in_each_web_process(
    tmp_path, free_port, database_url, elsewhere, monkeypatch, workers
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "test-" + os.urandom(8).hex())
    monkeypatch.setenv("REGISTRY_WORKERS", workers)
    with serving(tmp_path, free_port):

        def listeners() -> int:
            with elsewhere.connect() as connection:
                return connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND query = :listen"),
                    {"listen": f"LISTEN {notices.CHANNEL}"},
                ).scalar_one()  # fmt: skip

        _until(lambda: listeners() == int(workers), seconds=20)

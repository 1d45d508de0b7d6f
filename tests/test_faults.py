"""Faults on the web side: the database away for a moment, or its disk full.

The PostgreSQL tests start a server of their own (never the session's), since they stop it.
"""

import errno
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from registry import create_app
from registry.accounts import services as accounts
from registry.cli._common import prepare_database
from registry.db import get_engine
from registry.models import ProblemReport
from tests import pgserver
from tests.conftest import FIXTURES, PASSWORD


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL server of this module's own, which the tests stop and start."""
    try:
        # Commits reach the log before they are acknowledged, as in production: an immediate
        # stop is a crash, and the session server's speed-ups would lose the last commits.
        server = pgserver.PostgresServer(settings={"synchronous_commit": "on"}).start()
    except pgserver.PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.remove()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB disk of the test's own (a tmpfs), to fill up."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.fail(
            "Filling a disk needs a small tmpfs, and only root can mount one: run the tests as "
            "root (./scripts/test in CI does), or inside `unshare -rm`.",
            pytrace=False,
        )
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], check=True)
    yield mount_point
    subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write a file on disk until it is full; return the file (remove it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def sqlite_file_ok(path: Path) -> bool:
    """Tell whether SQLite finds the database file at path intact."""
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def empty_wal(path: Path) -> None:
    """Move everything in the write-ahead log into the database file, so new writes need space."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.fixture
def outage_app(own_postgres, request):
    """The small registry on a new database of the module's own server."""
    name = f"faults_{request.node.name[:40].lower()}"
    own_postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    own_postgres.execute(f"CREATE DATABASE {name}")
    return _app(own_postgres.url(name))


def _app(url: str):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret",
            "REGISTRY_SEED_FILE": str(FIXTURES / "small.csv"),
        }
    )
    prepare_database(app, seed=True)
    with Session(get_engine(app)) as session:
        accounts.create(
            session,
            email="clinician@example.org",
            role="clinician",
            password=PASSWORD,
            one_time=False,
        )
        session.commit()
    return app


def _signed_in(app):
    """Return a client signed in as the clinician, and a CSRF token for its forms."""
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/sign-in",
        data={"csrf_token": token, "email": "clinician@example.org", "password": PASSWORD},
    )
    assert response.status_code == 302
    page = client.get("/resources/1/report").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    seen = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    return client, (token, seen)


def _report(client, token):
    csrf, seen = token
    return client.post(
        "/resources/1/report",
        data={
            "csrf_token": csrf,
            "seen": seen,
            "reason": "broken",
            "note": "The link gives an error.",
        },
    )


def _reports(app) -> int:
    with Session(get_engine(app)) as session:
        return session.exec(select(func.count()).select_from(ProblemReport)).one()


def _says_unavailable(response, status: int = 503) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0
    text = response.get_data(as_text=True)
    assert "nothing was changed" in text
    assert "Traceback" not in text


def test_while_the_database_is_away_people_get_a_clear_503_and_nothing_is_half_written(
    outage_app, own_postgres
):
    client, token = _signed_in(outage_app)
    assert client.get("/").status_code == 200

    own_postgres.stop("immediate")
    try:
        page = client.get("/")
        _says_unavailable(page)
        assert "database is unavailable for a moment" in page.get_data(as_text=True)
        assert '<h1 class="nhsuk-heading-l">The database is unavailable</h1>' in page.get_data(
            as_text=True
        )
        _says_unavailable(_report(client, token))
        api = client.get("/api/v1/entries")
        _says_unavailable(api)
        assert api.is_json and api.json["error"]["code"] == "database_unavailable"
    finally:
        own_postgres.start()

    assert client.get("/").status_code == 200  # the very next request, on a new connection
    resent = _report(client, token)
    assert resent.status_code == 302, resent.headers  # the form sent again goes through
    assert "/resources/1" in resent.headers["Location"]
    assert _reports(outage_app) == 1


def test_a_database_restart_between_requests_goes_unnoticed(outage_app, own_postgres):
    client = outage_app.test_client()
    assert client.get("/").status_code == 200
    own_postgres.stop("fast")
    own_postgres.start()
    # The pooled connection died with the old server; the pool sees its socket closed and
    # replaces it before the page uses it (db._hung_up_on).
    assert client.get("/").status_code == 200


def test_a_database_file_out_of_reach_gives_a_clear_503_until_it_is_back(tmp_path):
    folder = tmp_path / "volume"
    folder.mkdir()
    app = _app(f"sqlite:///{folder / 'registry.sqlite3'}")
    client, token = _signed_in(app)
    get_engine(app).dispose()  # a volume unmounted between requests: every connection is new
    folder.rename(tmp_path / "elsewhere")
    try:
        _says_unavailable(client.get("/"))
        _says_unavailable(_report(client, token))
    finally:
        (tmp_path / "elsewhere").rename(folder)
    assert client.get("/").status_code == 200
    assert _report(client, token).status_code == 302
    assert _reports(app) == 1


def test_a_fault_of_the_registry_itself_is_still_a_500_not_an_outage(reviewed):
    from sqlalchemy import text

    app, client = reviewed, reviewed.test_client()  # decided entries: the catalogue reads reviews
    with get_engine(app).begin() as connection:  # a schema out of step with the code
        connection.execute(text("ALTER TABLE review RENAME TO review_gone"))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise into the test
    response = client.get("/")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers


def test_a_form_sent_while_the_disk_is_full_says_so_and_changes_nothing(small_disk):
    database = small_disk / "registry.sqlite3"
    app = _app(f"sqlite:///{database}")
    client, token = _signed_in(app)
    empty_wal(database)
    filler = fill(small_disk)
    try:
        response = _report(client, token)
        assert response.status_code == 507
        assert "database is full" in response.get_data(as_text=True)
        assert "nothing was changed" in response.get_data(as_text=True)
    finally:
        filler.unlink()
    assert _reports(app) == 0
    assert sqlite_file_ok(database)
    assert _report(client, token).status_code == 302  # with space again, the form goes through
    assert _reports(app) == 1


@pytest.mark.parametrize("command", [["check"], ["serve", "--no-seed"], ["db", "upgrade"]])
def test_a_command_started_while_the_database_is_away_says_so_plainly(command):
    closed = pgserver.free_port()  # nothing listens there
    env = {**os.environ, "DATABASE_URL": f"postgresql+psycopg://registry@127.0.0.1:{closed}/x",
           "SECRET_KEY": "test-secret"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "registry.cli", *command],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "cannot reach the database" in done.stderr and "Connection refused" in done.stderr
    assert "Traceback" not in done.stderr

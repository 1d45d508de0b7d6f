"""Shared fixtures: one per real component (the app on a real database, its client, the CLI).

Each test gets a new database on the run's backend: a SQLite file, or a database in a
PostgreSQL server that this file starts for the session (Debian's ``postgresql`` package; see
tests/pgserver.py). ./scripts/test runs the whole suite on each backend in turn.
"""

import itertools
import os
from pathlib import Path

import pytest
from sqlmodel import Session

from registry import create_app
from registry.cli._common import prepare_database
from registry.db import get_engine
from tests import pgserver

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Keep the developer's own settings out of the tests."""
    import os

    for name in list(os.environ):
        if name in ("DATABASE_URL", "SECRET_KEY") or name.startswith("REGISTRY_"):
            monkeypatch.delenv(name, raising=False)


# The backend of this run: ./scripts/test runs the whole suite once on each
# (REGISTRY_TEST_BACKEND=sqlite, then =postgresql). Read at import: _clean_environment removes
# REGISTRY_* variables before fixtures run.
RUN_BACKEND = os.environ.get("REGISTRY_TEST_BACKEND", "")
if RUN_BACKEND not in ("", "sqlite", "postgresql"):
    raise pytest.UsageError(
        f"REGISTRY_TEST_BACKEND must be sqlite or postgresql, not {RUN_BACKEND!r}"
    )
_PG_BIN_OVERRIDE = os.environ.get("REGISTRY_TEST_PG_BIN")

# Modules whose subject differs between the backends (search, migrations) say
# `pytestmark = BOTH_BACKENDS`: with no REGISTRY_TEST_BACKEND they run on both in one go.
BOTH_BACKENDS = pytest.mark.parametrize(
    "backend", [RUN_BACKEND] if RUN_BACKEND else ["sqlite", "postgresql"], indirect=True
)
# A test whose subject exists on PostgreSQL only runs there, in both passes (never skipped).
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL server of our own for the session (see tests/pgserver.py)."""
    try:
        server = pgserver.PostgresServer(bin_override=_PG_BIN_OVERRIDE)
        server.start()
    except pgserver.PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.execute("CREATE DATABASE registry")
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def postgres_url(postgres_server):
    """The URL of an empty database on the session's PostgreSQL server."""
    return postgres_server.url("registry")


@pytest.fixture(scope="session")
def _postgres_head(postgres_server) -> str:
    """The name of a database migrated to the latest schema, copied for each test that wants one."""
    from registry import migrate
    from registry.db import make_engine

    postgres_server.execute("CREATE DATABASE registry_head TEMPLATE template0")
    engine = make_engine(postgres_server.url("registry_head"))
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return "registry_head"


_database_numbers = itertools.count(1)


@pytest.fixture
def backend(request) -> str:
    """The database the test runs on: this run's, or each in turn for BOTH_BACKENDS modules."""
    return getattr(request, "param", RUN_BACKEND or "sqlite")


def _new_database(request, backend: str, tmp_path, *, template: str) -> str:
    """Create a database for the test on its backend; it is removed after the test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'registry-{next(_database_numbers)}.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    if template != "template0":
        template = request.getfixturevalue("_postgres_head")
    # A new name each time: in-process caches keyed by the URL never see another test's data.
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    server.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    request.addfinalizer(lambda: server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    return server.url(name)


@pytest.fixture
def fresh_database_url(request, backend, tmp_path):
    """A new, empty database on the test's backend (no tables at all)."""
    return _new_database(request, backend, tmp_path, template="template0")


@pytest.fixture
def database_url(request, backend, tmp_path):
    """A new database on the test's backend; on PostgreSQL already at the latest schema.

    Copying a migrated template is much faster there than migrating each time; the app's own
    start-up (prepare_database) migrates the rest of the way either way.
    """
    return _new_database(request, backend, tmp_path, template="head")


@pytest.fixture
def another_database_url(request, backend, tmp_path):
    """A second database beside database_url, on the same backend."""
    return _new_database(request, backend, tmp_path, template="head")


@pytest.fixture
def make_app(database_url):
    """Return a factory for apps on a fresh database (SQLite unless asked), migrated."""

    def factory(*, seed: Path | None = None, **config):
        settings = {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "REGISTRY_SEED_FILE": str(seed or FIXTURES / "small.csv"),
            **config,
        }
        app = create_app(settings)
        prepare_database(app, seed=True)
        return app

    return factory


@pytest.fixture
def app(make_app):
    """The app on a migrated database holding the small fixture registry."""
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    with Session(get_engine(app)) as db_session:
        yield db_session


@pytest.fixture
def free_port():
    return pgserver.free_port()


PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_user(app):
    """Return a factory that adds an account with a known password."""
    from registry.accounts import services as accounts

    def factory(email: str, role: str = "clinician", *, password: str = PASSWORD, one_time=False):
        with Session(get_engine(app)) as db_session:
            user = accounts.create(
                db_session, email=email, role=role, password=password, one_time=one_time
            )
            db_session.commit()
            return user.id

    return factory


class Web:
    """A person at a browser: signs in, follows forms, sends their CSRF token like a browser does."""

    def __init__(self, client):
        self.client = client

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def token(self, page: str | None = None) -> str:
        import re

        html = self.client.get(page or "/sign-in", follow_redirects=True).get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert found, f"no CSRF token on {page or '/sign-in'}"
        return found.group(1)

    def post(self, path: str, data: dict | None = None, *, page: str | None = None, **kwargs):
        form = {"csrf_token": self.token(page), **(data or {})}
        return self.client.post(path, data=form, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD):
        response = self.post("/sign-in", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response


@pytest.fixture
def web(client):
    return Web(client)


@pytest.fixture
def people(make_user):
    """One account of each role, plus a second reviewer: {name: user id}."""
    return {
        "clinician": make_user("clinician@example.org", "clinician"),
        "reviewer": make_user("reviewer@example.org", "reviewer"),
        "reviewer2": make_user("second.reviewer@example.org", "reviewer"),
        "admin": make_user("admin@example.org", "admin"),
    }


@pytest.fixture
def as_role(app, people):
    """Return a factory for a Web signed in as clinician, reviewer, reviewer2 or admin."""
    emails = {
        "clinician": "clinician@example.org",
        "reviewer": "reviewer@example.org",
        "reviewer2": "second.reviewer@example.org",
        "admin": "admin@example.org",
    }

    def factory(role: str) -> Web:
        browser = Web(app.test_client())
        browser.sign_in(emails[role])
        return browser

    return factory


@pytest.fixture
def reviewed(app, people):
    """The small registry with decisions: two recommended (one with cautions), one not, one unreviewed."""
    from sqlmodel import select

    from registry.models import Resource, User
    from registry.review import lifecycle as review
    from registry.review.rubric import ITEMS

    answers = {item.key: {"answer": "yes"} for item in ITEMS}
    decisions = {
        "Mood Diary App": ("recommended", None),
        "Voices Together": ("recommended_with_cautions", "Groups meet in person too; check times."),
        "Carers Helpline": ("not_recommended", None),
    }
    with Session(get_engine(app)) as db_session:
        reviewer = db_session.get(User, people["reviewer"])
        for name, (decision, cautions) in decisions.items():
            entry = db_session.exec(select(Resource).where(Resource.name == name)).one()
            review.decide(
                db_session, entry, user=reviewer, decision=review.Decision(decision),
                rationale=f"Rationale for {name}.", cautions=cautions, answers=answers,
            )  # fmt: skip
        db_session.commit()
    return app

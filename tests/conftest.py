"""Shared fixtures: one per real component (the app on a real database, its client, the CLI).

The database is a SQLite file unless a test module asks for both backends with
``pytestmark = BOTH_BACKENDS``: then each of its tests also runs on a fresh database in a
PostgreSQL server that this file starts for the session (Debian's ``postgresql`` package).
"""

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlmodel import Session

from registry import create_app
from registry.cli import prepare_database
from registry.db import get_engine

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Keep the developer's own settings out of the tests."""
    import os

    for name in list(os.environ):
        if name in ("DATABASE_URL", "SECRET_KEY") or name.startswith("REGISTRY_"):
            monkeypatch.delenv(name, raising=False)


# Run a module's tests on SQLite and on PostgreSQL: `pytestmark = BOTH_BACKENDS`.
BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
POSTGRES_MISSING = (
    "PostgreSQL's server binaries were not found under /usr/lib/postgresql/*/bin. "
    "Install Debian's package (`sudo apt-get install -y postgresql`; ./scripts/test does it), "
    "or set REGISTRY_TEST_PG_BIN to a directory holding initdb, pg_ctl and postgres."
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Read at import: _clean_environment removes REGISTRY_* variables before fixtures run.
_PG_BIN_OVERRIDE = os.environ.get("REGISTRY_TEST_PG_BIN")


def _pg_bin() -> Path:
    chosen = _PG_BIN_OVERRIDE
    candidates = [chosen] if chosen else glob.glob("/usr/lib/postgresql/*/bin")
    found = [Path(d) for d in candidates if (Path(d) / "initdb").is_file()]
    if not found:
        pytest.fail(POSTGRES_MISSING, pytrace=False)
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


@pytest.fixture(scope="session")
def postgres_url():
    """Start a throw-away PostgreSQL server for the session; yield the URL of its database.

    The server is our own: a temporary data directory, trust authentication, listening on
    127.0.0.1 only on a free port, its socket in the temporary directory. Any system cluster
    is left alone.
    """
    from sqlalchemy import create_engine, text

    bin_dir = _pg_bin()
    as_postgres: list[str] = []
    root = tempfile.mkdtemp(prefix="registry-pg-")
    os.chmod(root, 0o755)
    if os.geteuid() == 0:  # initdb refuses to run as root: the server runs as `postgres`.
        if shutil.which("runuser") is None:
            pytest.fail("Running as root needs runuser (util-linux) to start PostgreSQL.")
        try:
            shutil.chown(root, user="postgres", group="postgres")
        except LookupError:
            pytest.fail(f"No `postgres` user to run the server as. {POSTGRES_MISSING}")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, log = Path(root) / "data", Path(root) / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run([*as_postgres, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}{server_log}")

    port = _free_port()
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    try:
        server = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
        admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE registry"))
        admin.dispose()
        yield f"{server}/registry"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


_database_numbers = itertools.count(1)


@pytest.fixture
def backend(request) -> str:
    """The database the test runs on: "sqlite" unless the module is parametrized over both."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(request, backend, tmp_path):
    """A fresh, empty database on the chosen backend (a SQLite file, or a new PostgreSQL one)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite3'}"
        return
    assert backend == "postgresql", backend
    from sqlalchemy import create_engine, make_url, text

    url = make_url(request.getfixturevalue("postgres_url"))
    # A new name each time: in-process caches keyed by the URL never see another test's data.
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE template0"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_user(app):
    """Return a factory that adds an account with a known password."""
    from registry import accounts

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

    from registry import review
    from registry.models import Resource, User
    from registry.rubric import ITEMS

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

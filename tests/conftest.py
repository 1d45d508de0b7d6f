"""Shared fixtures: one per real component (the app on a real SQLite file, its client, the CLI)."""

import socket
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


@pytest.fixture
def make_app(tmp_path):
    """Return a factory for apps on a fresh SQLite database in tmp_path, migrated."""

    def factory(*, seed: Path | None = None, **config):
        settings = {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
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

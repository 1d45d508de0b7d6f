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
    for name in ("DATABASE_URL", "SECRET_KEY", "REGISTRY_HOST", "REGISTRY_PORT",
                 "REGISTRY_SEED_FILE", "REGISTRY_INSTANCE_PATH",
                 "REGISTRY_PAGE_SIZE", "REGISTRY_THREADS"):  # fmt: skip
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

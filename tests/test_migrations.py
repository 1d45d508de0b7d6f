"""Migrations: an empty database upgrades to head, twice is harmless, they match the models.

Every test runs on SQLite and on PostgreSQL.
"""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

from registry import migrate
from registry.db import make_engine
from tests.conftest import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS


@pytest.fixture
def engine(fresh_database_url):
    """An engine on a fresh, empty database."""
    engine = make_engine(fresh_database_url)
    yield engine
    engine.dispose()


def test_an_empty_database_upgrades_to_head(engine):
    migrate.upgrade(engine)
    head = ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    assert migrate.current_revision(engine) == head
    assert set(inspect(engine).get_table_names()) >= {
        "resource", "resource_tag", "review", "user_account", "check_run", "check_result",
        "problem_report", "audit_event", "run_lock", "meta",
    }  # fmt: skip


def test_upgrading_twice_changes_nothing(engine):
    migrate.upgrade(engine)
    before = {t: inspect(engine).get_columns(t) for t in inspect(engine).get_table_names()}
    migrate.upgrade(engine)
    after = {t: inspect(engine).get_columns(t) for t in inspect(engine).get_table_names()}
    assert repr(before) == repr(after)


def test_the_models_and_the_migrations_agree(engine):
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": migrate.include_name}
        )
        assert compare_metadata(context, SQLModel.metadata) == []


def test_the_schema_downgrades_to_nothing_and_back(engine):
    migrate.upgrade(engine)
    from alembic import command

    command.downgrade(migrate.alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    migrate.upgrade(engine)
    assert "resource" in inspect(engine).get_table_names()


def test_results_kept_before_0010_are_marked_as_fingerprinted_by_the_old_parser(engine):
    from alembic import command
    from sqlalchemy import text
    from sqlmodel import Session

    from registry.models import CheckResult, Resource

    migrate.upgrade(engine)
    with Session(engine) as session:
        entry = Resource(name="Old", url="https://old.test/", url_key="old.test/", kind="website")
        session.add(entry)
        session.flush()
        session.add(
            CheckResult(
                resource_id=entry.id, url=entry.url, verdict="pass", liveness_status="up",
                https_status="ok", privacy_status="found", policy_fingerprint="a" * 64,
                policy_scheme=2,
            )
        )  # fmt: skip
        session.commit()
    command.downgrade(migrate.alembic_config(engine), "0009")  # the row as 0009 kept it
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT policy_scheme FROM check_result")).all()
    assert rows == [(1,)]

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
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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


def test_the_unread_full_text_index_is_dropped_and_a_downgrade_builds_it_again(engine):
    from alembic import command
    from sqlalchemy import text
    from sqlmodel import Session

    from registry.models import Resource, ResourceTag

    full_text = {"sqlite": "resource_fts", "postgresql": "resource_search"}[engine.dialect.name]
    migrate.upgrade(engine)
    with Session(engine) as session:
        entry = Resource(name="Voices Café", url="https://v.test/", url_key="v.test/", kind="forum")
        session.add(entry)
        session.flush()
        session.add(ResourceTag(resource_id=entry.id, facet="condition", value="psychosis"))
        session.commit()
        entry.provider = "Hearing Voices Network"  # a change with no index to rebuild
        session.commit()
        entry_id = entry.id
    assert not [t for t in inspect(engine).get_table_names() if t.startswith(full_text)]

    command.downgrade(migrate.alembic_config(engine), "0013")  # the index, built from the entry
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found = connection.execute(
                text("SELECT rowid FROM resource_fts WHERE resource_fts MATCH 'psychosis hearing'")
            ).all()
        else:
            found = connection.execute(
                text(
                    "SELECT resource_id FROM resource_search "
                    "WHERE document @@ to_tsquery('simple', 'psychosis & hearing & cafe')"
                )
            ).all()
    assert found == [(entry_id,)]
    migrate.upgrade(engine)
    assert not [t for t in inspect(engine).get_table_names() if t.startswith(full_text)]

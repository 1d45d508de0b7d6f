"""History the database itself protects: raw SQL cannot rewrite reviews, results or the audit log.

The ORM refuses first (tests/review/test_history.py); these statements go round it, straight to
the database, as a script or someone at `psql` or `sqlite3` would. Every test runs on SQLite and
on PostgreSQL.
"""

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from registry import audit, migrate
from registry.db import get_engine
from registry.jobs.checkrun import result_row
from registry.models import Resource
from tests.api.conftest import report
from tests.conftest import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

# A column of each history table to try to change, and the first row's value of it after.
COLUMNS = {"review": "rationale", "check_result": "verdict", "audit_event": "reason"}


@pytest.fixture
def engine(reviewed):
    """The reviewed registry's engine, with a check result beside its reviews and audit log."""
    engine = get_engine(reviewed)
    with Session(engine) as session:
        entry = session.exec(select(Resource).order_by(Resource.id)).first()
        session.add(result_row(report(entry.url, "pass"), resource_id=entry.id, run_id=None))
        session.commit()
    return engine


def rows(engine, table: str) -> list[tuple]:
    with engine.connect() as connection:
        return list(connection.execute(text(f"SELECT * FROM {table} ORDER BY id")))  # noqa: S608


def refused(engine, statement: str) -> str:
    """Run statement in its own transaction; return the database's refusal."""
    with pytest.raises(DBAPIError) as caught:
        with engine.begin() as connection:
            connection.execute(text(statement))
    return str(caught.value.orig)


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_raw_sql_cannot_update_a_history_row(engine, table):
    before = rows(engine, table)
    assert before, f"the fixture left {table} empty"
    column = COLUMNS[table]

    message = refused(
        engine, f"UPDATE {table} SET {column} = 'rewritten' WHERE id = {before[0][0]}"
    )

    assert f"append-only rule: {table} rows are history" in message
    assert "never updated or deleted" in message
    assert rows(engine, table) == before


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_raw_sql_cannot_delete_a_history_row(engine, table):
    before = rows(engine, table)

    message = refused(engine, f"DELETE FROM {table} WHERE id = {before[0][0]}")

    assert f"append-only rule: {table} rows are history" in message
    assert rows(engine, table) == before


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_emptying_a_history_table_is_refused_too(engine, backend, table):
    before = rows(engine, table)
    statements = [f"DELETE FROM {table}"]  # SQLite's fast "truncate" is off where triggers are
    if backend == "postgresql":
        statements.append(f"TRUNCATE {table} CASCADE")  # fires no row trigger: its own refuses it
    for statement in statements:
        assert f"append-only rule: {table} rows are history" in refused(engine, statement)
    assert rows(engine, table) == before


def test_the_audited_path_rewrites_history_and_says_who_and_why(engine):
    review_id = rows(engine, "review")[0][0]
    with engine.begin() as connection:
        with audit.rewriting_history(
            connection, reason="migration 0099: backfill the rationale", actor_label="migration"
        ):
            connection.execute(
                text("UPDATE review SET rationale = 'Backfilled.' WHERE id = :id"),
                {"id": review_id},
            )

    with engine.connect() as connection:
        rationale = connection.execute(
            text("SELECT rationale FROM review WHERE id = :id"), {"id": review_id}
        ).scalar_one()
        trace = connection.execute(
            text("SELECT actor_label, action, reason FROM audit_event WHERE entity = 'history'")
        ).all()
    assert rationale == "Backfilled."
    assert trace == [("migration", "rewrite_allowed", "migration 0099: backfill the rationale")]
    # The rule is back for everyone else the moment the rewrite commits.
    assert "append-only rule" in refused(engine, f"DELETE FROM review WHERE id = {review_id}")


def test_a_rewrite_that_fails_leaves_no_trace_and_the_rule_in_place(engine):
    before = {table: rows(engine, table) for table in COLUMNS}
    with pytest.raises(RuntimeError, match="half way"):
        with engine.begin() as connection:
            with audit.rewriting_history(connection, reason="a bad backfill", actor_label="test"):
                connection.execute(text("UPDATE check_result SET verdict = 'fail'"))
                raise RuntimeError("half way")

    assert {table: rows(engine, table) for table in COLUMNS} == before
    assert "append-only rule" in refused(engine, "UPDATE check_result SET verdict = 'fail'")


def test_the_audited_path_wants_a_reason(engine):
    with engine.begin() as connection:
        with pytest.raises(ValueError, match="needs a reason"):
            with audit.rewriting_history(connection, reason=" ", actor_label="test"):
                pass


def test_the_rule_comes_and_goes_with_its_migration(engine):
    config = migrate.alembic_config(engine)
    command.downgrade(config, "0012")
    with engine.begin() as connection:  # before 0013 only the ORM stood in the way
        connection.execute(text("UPDATE audit_event SET reason = 'before 0013'"))
    migrate.upgrade(engine)
    assert "append-only rule" in refused(engine, "UPDATE audit_event SET reason = 'after 0013'")

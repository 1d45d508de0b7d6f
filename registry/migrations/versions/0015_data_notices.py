"""Data notices: PostgreSQL tells the web processes when what a public page shows has changed.

A public page's version (catalogue/caching.py) is the search version in `meta`, the newest check
result and the newest audit entry. These triggers send a notice on the channel `registry_data`
whenever one of them moves: any statement that writes `meta` (the search version, bumped by
0006's triggers on every change to an entry or its tags, and by a restore), and every insert
into `check_result` or `audit_event` (every decision, edit, report and guidance change writes
one). PostgreSQL delivers a notice when its transaction commits, and only then; the web
processes listen (catalogue/notices.py) and ask the database for the version only after a notice.
SQLite has no notices: its pages read the version on every request, as before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel catalogue/notices.py listens on (its CHANNEL); a migration keeps its own copy.
CHANNEL = "registry_data"
_TRIGGERS = (
    ("data_notice_meta", "meta", "INSERT OR UPDATE OR DELETE"),
    ("data_notice_check_result", "check_result", "INSERT"),
    ("data_notice_audit_event", "audit_event", "INSERT"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE FUNCTION data_notice() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END $$
    """)
    for name, table, events in _TRIGGERS:
        # One notice a statement; PostgreSQL folds a transaction's equal notices into one.
        op.execute(
            f"CREATE TRIGGER {name} AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION data_notice()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _events in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS data_notice()")

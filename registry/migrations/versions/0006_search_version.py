"""Search version: a counter the database bumps on every change to entries or their tags.

The catalogue keeps filter counts in an in-memory index (registry/facets.py) and rebuilds it
when this counter moves, so no code path can leave the counts stale.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = (
    "INSERT INTO meta (key, value) VALUES ('search_version', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
)
_TRIGGERS = [
    (f"search_version_{table}_{event.lower()}", table, event)
    for table in ("resource", "resource_tag")
    for event in ("INSERT", "UPDATE", "DELETE")
]


# PostgreSQL: one bump per statement (a statement changing many rows is one change).
_PG_TRIGGERS = [(f"search_version_{table}", table) for table in ("resource", "resource_tag")]


def _upgrade_postgresql() -> None:
    op.execute(f"""
        CREATE FUNCTION search_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_BUMP};
            RETURN NULL;
        END $$
    """)
    for name, table in _PG_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION search_version_bump()"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _upgrade_postgresql()
    if dialect != "sqlite":
        return
    for name, table, event in _TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {_BUMP}; END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, table in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS search_version_bump()")
    if dialect != "sqlite":
        return
    for name, _table, _event in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")

"""History the database itself protects: reviews, check results and audit entries are append-only.

Triggers refuse every UPDATE and DELETE of a `review`, `check_result` or `audit_event` row (and,
on PostgreSQL, a TRUNCATE), whoever sends it: the application, a script or someone at `psql`.
The message names the rule. The one way round it is `registry.audit.rewriting_history`, which
records an audit entry saying who lifted the rule and why (docs/security.md, "History").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As the rule stood at this revision; a later migration changes it with a revision of its own.
TABLES = ("review", "check_result", "audit_event")
RULE = (
    "append-only rule: {table} rows are history and are never updated or deleted "
    "(see docs/security.md, History)"
)

_PG_FUNCTION = """
CREATE FUNCTION refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only rule: % rows are history and are never updated or deleted (see docs/security.md, History)',
        TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$
"""


def _sqlite_upgrade() -> None:
    for table in TABLES:
        message = RULE.format(table=table)
        for action in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER {table}_is_history_{action} BEFORE {action.upper()} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def _postgresql_upgrade() -> None:
    op.execute(_PG_FUNCTION)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_is_history BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite()"
        )
        # TRUNCATE fires no row triggers: a statement trigger of its own.
        op.execute(
            f"CREATE TRIGGER {table}_is_history_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_rewrite()"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgresql_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_is_history_{action}")
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_is_history ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_is_history_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS refuse_history_rewrite()")

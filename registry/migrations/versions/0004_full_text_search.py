"""Full-text search: an FTS5 index of entries on SQLite, kept up to date by triggers.

The index holds name, provider, description and the entry's tags and kind. Triggers on resource
and resource_tag rebuild an entry's row whenever either changes, so no code path can forget to.
PostgreSQL gets its own full-text index in a later migration.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW = """
    SELECT r.id, r.name, coalesce(r.provider, ''), coalesce(r.description, ''),
           r.kind || ' ' || coalesce((SELECT group_concat(t.value, ' ') FROM resource_tag t
                                      WHERE t.resource_id = r.id), '')
    FROM resource r WHERE r.id = {id}
"""
_INSERT = "INSERT INTO resource_fts(rowid, name, provider, description, tags)"


def _rebuild(entry_id: str) -> str:
    return (
        f"DELETE FROM resource_fts WHERE rowid = {entry_id}; {_INSERT} {_ROW.format(id=entry_id)};"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE resource_fts USING fts5("
        "name, provider, description, tags, tokenize = 'unicode61 remove_diacritics 2')"
    )
    op.execute(f"{_INSERT} {_ROW.format(id='r.id').replace('WHERE r.id = r.id', '')}")
    op.execute(
        f"CREATE TRIGGER resource_fts_ai AFTER INSERT ON resource BEGIN {_rebuild('new.id')} END"
    )
    op.execute(
        f"CREATE TRIGGER resource_fts_au AFTER UPDATE ON resource BEGIN {_rebuild('new.id')} END"
    )
    op.execute(
        "CREATE TRIGGER resource_fts_ad AFTER DELETE ON resource "
        "BEGIN DELETE FROM resource_fts WHERE rowid = old.id; END"
    )
    op.execute(
        "CREATE TRIGGER resource_tag_fts_ai AFTER INSERT ON resource_tag "
        f"BEGIN {_rebuild('new.resource_id')} END"
    )
    op.execute(
        "CREATE TRIGGER resource_tag_fts_ad AFTER DELETE ON resource_tag "
        f"BEGIN {_rebuild('old.resource_id')} END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("resource_fts_ai", "resource_fts_au", "resource_fts_ad", "resource_tag_fts_ai",
                    "resource_tag_fts_ad"):  # fmt: skip
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS resource_fts")

"""Full-text search: an index of entries, kept up to date by triggers.

The index holds name, provider, description and the entry's tags and kind. Triggers on resource
and resource_tag rebuild an entry's row whenever either changes, so no code path can forget to.
On SQLite it is an FTS5 table (resource_fts); on PostgreSQL a table of weighted tsvectors
(resource_search, GIN-indexed) in the 'simple' configuration, accents folded with unaccent.

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


# PostgreSQL: one weighted document per entry. Punctuation becomes space, so a document splits
# into words the way registry.search.terms() splits a query; accents are folded on both sides.
_PG_TEXT = "to_tsvector('simple', unaccent(regexp_replace({}, '[[:punct:]]+', ' ', 'g')))"
_PG_DOCUMENT = " || ".join(
    f"setweight({_PG_TEXT.format(field)}, '{weight}')"
    for field, weight in (
        ("r.name", "A"),
        ("r.kind || ' ' || coalesce((SELECT string_agg(t.value, ' ') FROM resource_tag t "
         "WHERE t.resource_id = r.id), '')", "B"),
        ("coalesce(r.provider, '')", "C"),
        ("coalesce(r.description, '')", "D"),
    )
)  # fmt: skip
_PG_FUNCTIONS = ("resource_search_rebuild(integer)", "resource_search_resource()",
                 "resource_search_tag()")  # fmt: skip
_PG_TRIGGERS = (("resource_search_resource", "resource"), ("resource_search_tag", "resource_tag"))


def _upgrade_postgresql() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute(
        "CREATE TABLE resource_search ("
        "resource_id integer PRIMARY KEY REFERENCES resource(id) ON DELETE CASCADE, "
        "document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX resource_search_document ON resource_search USING gin (document)")
    op.execute(
        f"INSERT INTO resource_search (resource_id, document) SELECT r.id, {_PG_DOCUMENT} "
        "FROM resource r"
    )
    op.execute(f"""
        CREATE FUNCTION resource_search_rebuild(entry_id integer) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO resource_search (resource_id, document)
            SELECT r.id, {_PG_DOCUMENT} FROM resource r WHERE r.id = entry_id
            ON CONFLICT (resource_id) DO UPDATE SET document = EXCLUDED.document;
        END $$
    """)
    op.execute("""
        CREATE FUNCTION resource_search_resource() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM resource_search WHERE resource_id = OLD.id;
                RETURN OLD;
            END IF;
            PERFORM resource_search_rebuild(NEW.id);
            RETURN NEW;
        END $$
    """)
    op.execute("""
        CREATE FUNCTION resource_search_tag() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM resource_search_rebuild(OLD.resource_id);
                RETURN OLD;
            END IF;
            PERFORM resource_search_rebuild(NEW.resource_id);
            RETURN NEW;
        END $$
    """)
    op.execute(
        "CREATE TRIGGER resource_search_resource AFTER INSERT OR UPDATE OR DELETE ON resource "
        "FOR EACH ROW EXECUTE FUNCTION resource_search_resource()"
    )
    op.execute(
        "CREATE TRIGGER resource_search_tag AFTER INSERT OR DELETE ON resource_tag "
        "FOR EACH ROW EXECUTE FUNCTION resource_search_tag()"
    )


def _downgrade_postgresql() -> None:
    for trigger, table in _PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    for function in _PG_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP TABLE IF EXISTS resource_search")
    # The unaccent extension stays: other things in the database may use it.


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _upgrade_postgresql()
    if dialect != "sqlite":
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
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _downgrade_postgresql()
    if dialect != "sqlite":
        return
    for trigger in ("resource_fts_ai", "resource_fts_au", "resource_fts_ad", "resource_tag_fts_ai",
                    "resource_tag_fts_ad"):  # fmt: skip
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS resource_fts")

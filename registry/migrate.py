"""Schema migrations with Alembic, run from code: `registry db upgrade` and at start-up."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# Tables the migrations make that no model describes: the full-text index (SQLite's FTS5 table
# and its shadow tables; PostgreSQL's resource_search).
UNMODELLED_PREFIXES = ("resource_fts", "resource_search")


def include_name(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Tell Alembic's comparison to leave the unmodelled full-text tables alone."""
    return not (type_ == "table" and name and name.startswith(UNMODELLED_PREFIXES))


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic configuration that migrates through engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to revision; running it again changes nothing."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None when it has none."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

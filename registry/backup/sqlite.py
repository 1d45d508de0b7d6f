"""SQLite backups: a copy of the database file made with the online backup API.

The copy is consistent while the web app writes.
"""

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from registry.backup._common import BackupError, _count

SQLITE_MAGIC = b"SQLite format 3\x00"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL names an in-memory SQLite database: there is no file.")
    return Path(database)


def _sqlite_backup(url: str, partial: Path) -> tuple[str, dict[str, int]]:
    source = _sqlite_path(url)
    if not source.is_file():
        raise BackupError(f"there is no database at {source}: check DATABASE_URL.")
    try:
        with closing(sqlite3.connect(source, timeout=30)) as src:
            with closing(sqlite3.connect(partial)) as copy:
                src.backup(copy)  # in one step: a consistent snapshot, even while others write
                # One self-contained file: no -wal or -shm beside it when it is opened later.
                copy.execute("PRAGMA journal_mode=DELETE")
                revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
                return revision, _count(copy)
    except sqlite3.Error as exc:
        raise BackupError(f"{source} is not a registry database that can be read: {exc}.") from None


def _sqlite_backup_revision(source: Path) -> str:
    # immutable: read the file as it is, creating nothing beside it.
    try:
        with closing(sqlite3.connect(source.resolve().as_uri() + "?immutable=1", uri=True)) as db:
            problems = db.execute("PRAGMA quick_check").fetchone()[0]
            if problems != "ok":
                raise BackupError(f"{source} is damaged ({problems}); use another backup.")
            return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupError(f"{source} is not a registry backup ({exc}).") from None


def _sqlite_restore(url: str, source: Path) -> None:
    target = _sqlite_path(url)
    try:
        uri = source.resolve().as_uri() + "?immutable=1"
        with closing(sqlite3.connect(uri, uri=True)) as src:
            with closing(sqlite3.connect(target, timeout=30)) as live:
                # One write transaction on the live database: on failure it keeps its old contents.
                src.backup(live)
    except sqlite3.Error as exc:
        raise BackupError(
            f"could not restore into {target} ({exc}); the database was left as it was."
        ) from None

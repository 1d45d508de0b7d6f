"""Back up the whole database to one file, and restore it: SQLite's backup API, or pg_dump.

A SQLite backup is a copy of the database file made with the online backup API, consistent
while the web app writes. A PostgreSQL backup is a pg_dump archive in the custom format. A
backup restores only into the same kind of database, and only with code that knows its schema.
"""

import os
import tempfile
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from registry import audit, migrate
from registry.backup._common import (
    BACKENDS,
    COUNTED,
    BackupError,
    Summary,
    _connected,
    _count,
    backend_of,
)
from registry.backup.postgresql import (
    PG_DUMP_MAGIC,
    _pg_backup_revision,
    _pg_dump,
    _pg_environment,
    _pg_restore,
)
from registry.backup.sqlite import (
    SQLITE_MAGIC,
    _sqlite_backup,
    _sqlite_backup_revision,
    _sqlite_restore,
)
from registry.catalogue.facets import SEARCH_VERSION


def backup(url: str, target: Path, *, force: bool = False) -> Summary:
    """Write a backup of the database at url to target, which appears only once complete."""
    kind = backend_of(url)
    if target.is_dir():
        raise BackupError(f"{target} is a directory: give the name of the backup file to write.")
    if target.exists() and not force:
        raise BackupError(f"{target} already exists: choose another name, or use --force.")
    if not target.parent.is_dir():
        raise BackupError(f"the directory {target.parent} does not exist.")
    try:
        # Beside the target, so the final rename stays on one file system; mode 600 from mkstemp.
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                        dir=target.parent)  # fmt: skip
    except OSError as exc:
        raise BackupError(f"cannot write in {target.parent}: {exc.strerror}.") from None
    os.close(handle)
    partial = Path(name)
    try:
        make = _sqlite_backup if kind == "sqlite" else _pg_dump
        revision, counts = make(url, partial)
        with partial.open("rb") as written:
            os.fsync(written.fileno())  # on disk before it takes the final name
        os.replace(partial, target)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror}.") from None
    finally:
        partial.unlink(missing_ok=True)
    return Summary(target, target.stat().st_size, revision, counts)


def check(url: str, source: Path) -> str:
    """Check that source is a backup this code can restore into url; return its revision."""
    kind = backend_of(url)
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}.")
    with source.open("rb") as file:
        start = file.read(len(SQLITE_MAGIC))
    found = next(
        (name for name, magic in (("sqlite", SQLITE_MAGIC), ("postgresql", PG_DUMP_MAGIC))
         if start.startswith(magic)),
        None,
    )  # fmt: skip
    if found is None:
        raise BackupError(
            f"{source} is not a registry backup: it is neither a SQLite database "
            "nor a pg_dump archive."
        )
    if found != kind:
        raise BackupError(
            f"{source} is a {BACKENDS[found]} backup, but DATABASE_URL is a {BACKENDS[kind]} "
            "database: a backup restores only into the same kind of database."
        )
    if kind == "sqlite":
        revision = _sqlite_backup_revision(source)
    else:
        revision = _pg_backup_revision(source, _pg_environment(url))
    scripts = ScriptDirectory(str(migrate.MIGRATIONS))
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise BackupError(
            f"{source} comes from a newer version of the registry (schema revision {revision}; "
            f"this one knows up to {scripts.get_current_head()}). Upgrade the registry, "
            "then restore."
        )
    return revision


def _search_version(engine: Engine) -> int:
    """Return the database's search version, or 0 when it has none (yet)."""
    try:
        with engine.connect() as connection:
            value = connection.execute(
                text("SELECT value FROM meta WHERE key = :key"), {"key": SEARCH_VERSION}
            ).scalar()
    except DBAPIError:  # no meta table: an empty database
        return 0
    return int(value) if value and value.isdigit() else 0


def _move_search_version_past(engine: Engine, seen: int) -> None:
    """Set the search version beyond any value running processes may have cached.

    Web processes keep filter counts and text matches keyed by this counter (registry/facets.py).
    A restore brings back an older value, which later changes would count up through again:
    a process holding counts from before the restore could take them as current.
    """
    new = max(seen, _search_version(engine)) + 1
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO meta (key, value) VALUES (:key, :value) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            {"key": SEARCH_VERSION, "value": str(new)},
        )


def _counts_before(engine: Engine) -> dict[str, int | None]:
    """Count what the database holds before a restore; None for each when it has no registry."""
    try:
        with engine.connect() as connection:
            return dict(_count(connection))
    except DBAPIError:  # an empty database: no tables yet
        return dict.fromkeys(COUNTED)


def _record_restore(engine: Engine, source: Path, before: dict, after: dict) -> None:
    """Leave an audit entry in the restored database: from which file, and what it replaced.

    Restoring an older backup takes away the history written since: this entry is its trace.
    """
    with engine.begin() as connection:
        audit.append(
            connection, entity="database", entity_id=0, action="restored",
            actor_label="registry restore",
            reason=f"restored from the backup {source.name}",
            changes={name: [before[name], after[name]] for name in after},
        )  # fmt: skip


def restore(url: str, source: Path) -> Summary:
    """Replace the contents of the database at url with the backup at source.

    The database is checked and left untouched if the backup is not one for it; afterwards it
    is migrated to this code's schema, and an audit entry records the restore.
    """
    check(url, source)
    with _connected(url) as engine:
        seen = _search_version(engine)
        before = _counts_before(engine)
        if backend_of(url) == "sqlite":
            _sqlite_restore(url, source)
        else:
            _pg_restore(url, source)
        engine.dispose()  # pooled connections may know the old schema
        migrate.upgrade(engine)
        _move_search_version_past(engine, seen)
        with engine.connect() as connection:
            counts = _count(connection)
        _record_restore(engine, source, before, counts)
        revision = migrate.current_revision(engine) or ""
    return Summary(source, source.stat().st_size, revision, counts)

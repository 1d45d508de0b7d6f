"""Back up the whole database to one file, and restore it: SQLite's backup API, or pg_dump.

A SQLite backup is a copy of the database file made with the online backup API, consistent
while the web app writes. A PostgreSQL backup is a pg_dump archive in the custom format. A
backup restores only into the same kind of database, and only with code that knows its schema.
"""

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from registry import migrate
from registry.catalogue.facets import SEARCH_VERSION
from registry.db import make_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# What a backup or a restore reports: a name people know, and the table that holds it.
COUNTED = {
    "entries": "resource",
    "reviews": "review",
    "audit events": "audit_event",
    "check results": "check_result",
    "accounts": "user_account",
}

# Connection settings a DATABASE_URL may carry in its query, and libpq's variable for each.
PG_QUERY_VARIABLES = {
    "host": "PGHOST",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
}

# Run before the restored archive, in the same transaction: remove every table and function of
# the registry's schema, so that an older backup does not meet tables made by later migrations.
PG_CLEAR = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('DROP TABLE IF EXISTS public.%I CASCADE', item.tablename);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
    END LOOP;
END $$
"""


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass
class Summary:
    """What a backup holds, or what a restore put back."""

    path: Path
    size: int
    revision: str
    counts: dict[str, int]

    def describe(self) -> str:
        """Return the counts as a sentence fragment: "3 entries, 2 reviews, …"."""
        return ", ".join(f"{number} {name}" for name, number in self.counts.items())


def backend_of(url: str) -> str:
    """Return "sqlite" or "postgresql" for a database URL; other databases are refused."""
    name = make_url(url).get_backend_name()
    if name not in BACKENDS:
        raise BackupError(f"backups support SQLite and PostgreSQL databases, not {name}.")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL names an in-memory SQLite database: there is no file.")
    return Path(database)


def _count(connection: Connection | sqlite3.Connection) -> dict[str, int]:
    """Count the rows people care about, on a SQLAlchemy or a sqlite3 connection."""
    found = {}
    for name, table in COUNTED.items():
        query = f"SELECT count(*) FROM {table}"  # noqa: S608 (table names are constants)
        result = connection.execute(text(query) if isinstance(connection, Connection) else query)
        found[name] = result.fetchone()[0]
    return found


def _tool(name: str) -> str:
    """Find a PostgreSQL client program on PATH, else in the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    installed = [Path(p) for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")]
    installed = [p for p in installed if p.parent.parent.name.isdigit()]
    if not installed:
        raise BackupError(
            f"{name} was not found on PATH or under /usr/lib/postgresql/*/bin. Install "
            "PostgreSQL's client programs (Debian: apt-get install postgresql-client)."
        )
    return str(max(installed, key=lambda p: int(p.parent.parent.name)))


def _pg_environment(url: str) -> dict[str, str]:
    """Return the environment for pg_dump and friends: the connection in PG* variables.

    The password goes in PGPASSWORD, never on a command line where other users could see it.
    """
    parsed = make_url(url)
    env = dict(os.environ)
    parts = {
        "PGHOST": parsed.host,
        "PGPORT": parsed.port,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }
    for key, value in parsed.query.items():
        if key not in PG_QUERY_VARIABLES:
            raise BackupError(
                f"DATABASE_URL's setting {key!r} cannot be passed to pg_dump; "
                "set the matching PG* environment variable instead."
            )
        parts[PG_QUERY_VARIABLES[key]] = value if isinstance(value, str) else value[0]
    env.update({name: str(value) for name, value in parts.items() if value is not None})
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    """Run a PostgreSQL client program; return its output, or raise with its own message."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        hint = ""
        if "version mismatch" in message:
            hint = " pg_dump's major version must be at least the server's: install a newer one."
        raise BackupError(f"{Path(args[0]).name} failed: {message}{hint}")
    return done.stdout


@contextmanager
def _connected(url: str) -> Iterator[Engine]:
    """Yield an engine on url, turning connection failures into a plain message."""
    engine = make_engine(url)
    try:
        yield engine
    except DBAPIError as exc:
        raise BackupError(f"database error: {exc.orig}".strip()) from None
    finally:
        engine.dispose()


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


def _pg_dump(url: str, partial: Path) -> tuple[str, dict[str, int]]:
    with _connected(url) as engine:
        # pg_dump takes over this transaction's snapshot: the counts describe exactly the archive.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
            if revision is None:
                raise BackupError("the database holds no registry: there is nothing to back up.")
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _count(connection)
            _run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", f"--file={partial}"],
                _pg_environment(url),
            )  # fmt: skip
    return revision, counts


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


def _pg_backup_revision(source: Path, env: dict[str, str]) -> str:
    script = _run(
        [_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(source)],
        env,
    )
    lines = script.splitlines()
    for number, line in enumerate(lines[:-1]):
        if line.startswith("COPY ") and "alembic_version" in line:
            return lines[number + 1]
    raise BackupError(f"{source} is a pg_dump archive, but not of a registry database.")


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


def _pg_restore(url: str, source: Path) -> None:
    env = _pg_environment(url)
    with tempfile.TemporaryDirectory(prefix="registry-restore-") as scratch:
        script = Path(scratch) / "restore.sql"
        _run(
            [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
             f"--file={script}", str(source)],
            env,
        )  # fmt: skip
        # One transaction for clearing and loading: if anything fails, nothing has changed.
        _run(
            [_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
             "--set=ON_ERROR_STOP=1", f"--command={PG_CLEAR}", f"--file={script}"],
            env,
        )  # fmt: skip


def restore(url: str, source: Path) -> Summary:
    """Replace the contents of the database at url with the backup at source.

    The database is checked and left untouched if the backup is not one for it; afterwards it
    is migrated to this code's schema.
    """
    check(url, source)
    with _connected(url) as engine:
        seen = _search_version(engine)
        if backend_of(url) == "sqlite":
            _sqlite_restore(url, source)
        else:
            _pg_restore(url, source)
        engine.dispose()  # pooled connections may know the old schema
        migrate.upgrade(engine)
        _move_search_version_past(engine, seen)
        with engine.connect() as connection:
            counts = _count(connection)
        revision = migrate.current_revision(engine) or ""
    return Summary(source, source.stat().st_size, revision, counts)

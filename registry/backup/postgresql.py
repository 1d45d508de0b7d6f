"""PostgreSQL backups: a pg_dump archive in the custom format, restored with pg_restore."""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url

from registry.backup._common import BackupError, _connected, _count

PG_DUMP_MAGIC = b"PGDMP"


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

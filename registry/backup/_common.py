"""What backups of either database share: the error, the summary, the row counts."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from registry.db import make_engine

BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


# What a backup or a restore reports: a name people know, and the table that holds it.
COUNTED = {
    "entries": "resource",
    "reviews": "review",
    "audit events": "audit_event",
    "check results": "check_result",
    "accounts": "user_account",
}


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


def _count(connection: Connection | sqlite3.Connection) -> dict[str, int]:
    """Count the rows people care about, on a SQLAlchemy or a sqlite3 connection."""
    found = {}
    for name, table in COUNTED.items():
        query = f"SELECT count(*) FROM {table}"  # noqa: S608 (table names are constants)
        result = connection.execute(text(query) if isinstance(connection, Connection) else query)
        found[name] = result.fetchone()[0]
    return found


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

"""What the web processes keep while the data it was made from stands, shared by all of them.

Two kinds of things are kept: whole public pages (kept_pages.py) and result cards (cards.py).
Each is kept as bytes under a key that names the data's version it was made from, so nothing
kept is shown once the data moves on: a newer version asks for other keys, and what was kept
under the old ones goes as room runs out. Each kind has its room in bytes; when a kind's room
is full, its things asked for least lately go first.

They are kept in an SQLite database. `registry serve --workers N` gives its web processes one
file in a folder of its own (server.py), so a page or card one process made is used by all of
them; with one process, or without that file, a process keeps its own in memory. The file holds
what the public may read on public pages and, in the cards staff are shown, what any signed-in
member of staff may: only the registry's user may open its folder. A store that cannot be read
or written (another process's write held too long, a full disk) keeps nothing: what was asked
for is made afresh, and a warning says why.
"""

import logging
import os
import sqlite3
import threading
import time

from flask import Flask, current_app

log = logging.getLogger(__name__)

_EXTENSION = "registry.keeping"
# How long a process waits for another's write to the shared file before it makes the thing
# itself (or does not keep it): writes take some tens of microseconds.
_WAIT_SECONDS = 0.05
# How often a thing kept is marked asked for again, at most (nanoseconds): reading writes
# nothing another process waits for, and the order of going stays right to within this.
TOUCH_NS = 5 * 10**9
# Things looked at at once when room is made (the least lately asked for first).
_BATCH = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kept (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    used INTEGER NOT NULL,
    size INTEGER NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS kept_used ON kept (kind, used);
CREATE TABLE IF NOT EXISTS room (kind TEXT PRIMARY KEY, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """Bytes kept by kind and key, each kind within its room, the least lately asked for first.

    path is the SQLite file the processes of one server share; None keeps this process's own,
    in memory. The connection is opened in the process that first uses it (web processes are
    forked from the one that made the app) and used by one thread at a time.
    """

    def __init__(self, path: str | None = None):
        self.path = path
        self._opened_in: int | None = None
        # Not held when a web process is forked: the process that makes the app serves nothing.
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._settings: dict[str, str] = {}

    def _db(self) -> sqlite3.Connection:
        """Return this process's connection (call it holding the lock)."""
        if self._opened_in != os.getpid():
            connection = sqlite3.connect(
                self.path or ":memory:",
                timeout=_WAIT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            if self.path:
                # What is kept is a copy of what the database says: nothing is lost with it, so
                # the file is never synced; the journal lets readers read while one writes.
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = OFF")
            connection.executescript(_SCHEMA)
            self._connection, self._opened_in = connection, os.getpid()
            self._settings = {}
        assert self._connection is not None
        return self._connection

    def setting(self, name: str, proposed: str) -> str:
        """Return the setting name of this store, proposed's value if no process set it first.

        A setting never changes once set: each process reads it once.
        """
        with self._lock:
            connection = self._db()
            if name not in self._settings:
                connection.execute("INSERT OR IGNORE INTO setting VALUES (?, ?)", (name, proposed))
                (self._settings[name],) = connection.execute(
                    "SELECT value FROM setting WHERE name = ?", (name,)
                ).fetchone()
            return self._settings[name]

    def get(self, kind: str, keys: list[str]) -> dict[str, bytes]:
        """Return what is kept of kind under keys (those not kept are left out), in one query."""
        if not keys:
            return {}
        now = time.time_ns()
        marks = ", ".join("?" * len(keys))
        try:
            with self._lock:
                connection = self._db()
                rows = connection.execute(
                    f"SELECT key, value, used FROM kept WHERE kind = ? AND key IN ({marks})",  # noqa: S608 (marks only)
                    (kind, *keys),
                ).fetchall()
                stale = [key for key, _value, used in rows if now - used > TOUCH_NS]
                if stale:
                    self._touch(connection, kind, stale, now)
        except sqlite3.Error as exc:
            log.warning("kept %ss could not be read (%s): making them", kind, exc)
            return {}
        return {key: value for key, value, _used in rows}

    @staticmethod
    def _touch(connection: sqlite3.Connection, kind: str, keys: list[str], now: int) -> None:
        """Mark keys asked for now; if another process's write holds the file, leave them be."""
        marks = ", ".join("?" * len(keys))
        try:
            connection.execute(
                f"UPDATE kept SET used = ? WHERE kind = ? AND key IN ({marks})",  # noqa: S608 (marks only)
                (now, kind, *keys),
            )
        except sqlite3.OperationalError as exc:  # busy: they go a little early, if at all
            log.debug("kept %ss not marked asked for (%s)", kind, exc)

    def put(self, kind: str, values: dict[str, bytes], room: int) -> None:
        """Keep values of kind within room bytes, dropping the least lately asked for to fit.

        All are kept, or none: a store that cannot be written logs a warning and keeps nothing.
        """
        values = {key: value for key, value in values.items() if len(value) <= room}
        if not values:
            return
        try:
            self._write(lambda connection: self._put(connection, kind, values, room))
        except sqlite3.Error as exc:
            log.warning("%ss could not be kept (%s)", kind, exc)

    def _write(self, work) -> None:
        """Run work(connection) as one transaction: all of it is kept, or none of it."""
        with self._lock:
            connection = self._db()
            connection.execute("BEGIN IMMEDIATE")
            try:
                work(connection)
                connection.execute("COMMIT")
            finally:
                if connection.in_transaction:  # nothing half kept, the next write can begin
                    connection.execute("ROLLBACK")

    @staticmethod
    def _put(connection: sqlite3.Connection, kind: str, values: dict[str, bytes], room: int):
        now = time.time_ns()
        added = 0
        for key, value in values.items():
            old = connection.execute(
                "SELECT size FROM kept WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
            connection.execute(
                "INSERT OR REPLACE INTO kept VALUES (?, ?, ?, ?, ?)",
                (kind, key, now, len(value), value),
            )
            added += len(value) - (old[0] if old else 0)
        (held,) = connection.execute(
            "INSERT INTO room VALUES (?, ?) ON CONFLICT (kind) DO UPDATE"
            " SET bytes = bytes + excluded.bytes RETURNING bytes",
            (kind, added),
        ).fetchone()
        while held > room:
            batch = connection.execute(
                "SELECT key, size FROM kept WHERE kind = ? ORDER BY used LIMIT ?", (kind, _BATCH)
            ).fetchall()
            if not batch:  # nothing left to drop: the count was off, and is 0 again
                held = 0
            for dropped, size in batch:
                connection.execute("DELETE FROM kept WHERE kind = ? AND key = ?", (kind, dropped))
                held -= size
                if held <= room:
                    break
        connection.execute("UPDATE room SET bytes = ? WHERE kind = ?", (held, kind))

    def clear(self, kind: str) -> None:
        """Forget everything kept of kind (by every process sharing the file)."""

        def forget(connection: sqlite3.Connection) -> None:
            connection.execute("DELETE FROM kept WHERE kind = ?", (kind,))
            connection.execute("UPDATE room SET bytes = 0 WHERE kind = ?", (kind,))

        self._write(forget)

    def held(self, kind: str) -> tuple[int, int]:
        """Return how many things of kind are kept, and the bytes they take.

        For tests/bench/page_cost.py, which prints it, and the tests of room running out.
        """
        with self._lock:
            count, size = (
                self._db()
                .execute("SELECT count(*), total(size) FROM kept WHERE kind = ?", (kind,))
                .fetchone()
            )
        return count, int(size)


def init_app(app: Flask) -> None:
    """Keep things in REGISTRY_KEPT_FILE, set by server.py for the web processes it starts.

    Unset, each process keeps its own in memory.
    """
    app.extensions[_EXTENSION] = Store(app.config.get("REGISTRY_KEPT_FILE"))


def store(app: Flask | None = None) -> Store:
    """Return the store of app (by default, the current app)."""
    return (app or current_app).extensions[_EXTENSION]

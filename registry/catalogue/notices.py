"""The data's version, pushed by PostgreSQL: a public page asks nothing while nothing has changed.

Every public page reads the data's version (caching.data_version) for its ETag and its kept
cards: one statement, and on a page whose cards and order are kept, the only one. On
PostgreSQL, migration 0015's triggers send a notice on CHANNEL whenever anything that version
reads moves, when the writing transaction commits. A web process that `registry serve` starts
listens for them on a connection of its own (a thread, `start`), keeps the version it read last,
and reads it again only when:

- a notice came since (from any process: a decision, an edit, a check run, a restore);
- this process committed something itself (it does not wait for its own notice);
- the kept version is more than MAX_AGE old (a change made with the triggers switched off);
- the listener is not connected (it reconnects by itself; meanwhile every page reads, as on
  SQLite).

Someone signed in always reads the version: the reviewer who has just decided sees the decision
on the next page, whichever process serves it. A public page served by another process in the
instant between the commit and its notice arriving shows what it showed the instant before.
"""

import threading
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url

from registry.db import get_engine

CHANNEL = "registry_data"
MAX_AGE = 1.0  # seconds a kept version is trusted without a notice
RETRY_SECONDS = 1.0  # wait between attempts to connect the listener
_EXTENSION = "registry.notices"
_COMMITTED = "registry.committed"


class Watch:
    """A listener for CHANNEL and the version it lets this process keep."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.generation = 0  # moves on at every notice, commit here and (re)connection
        self.listening = False
        self._kept: tuple[int, float, tuple] | None = None  # generation, read at, version
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="registry-notices", daemon=True)

    def start(self) -> "Watch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def moved(self, listening: bool | None = None) -> None:
        """Forget the kept version: the data may have moved on."""
        with self._lock:
            self.generation += 1
            self._kept = None
            if listening is not None:
                self.listening = listening

    def read(self, fetch: Callable[[], tuple]) -> tuple:
        """Return the kept version if nothing can have moved since it was read, else fetch it."""
        with self._lock:
            generation, kept = self.generation, self._kept
            if (
                self.listening
                and kept is not None
                and kept[0] == generation
                and time.monotonic() - kept[1] < MAX_AGE
            ):
                return kept[2]
        began = time.monotonic()  # before the read: what it returns is at least this recent
        version = fetch()
        with self._lock:
            if self.listening and self.generation == generation:  # no notice came meanwhile
                self._kept = (generation, began, version)
        return version

    def _listen(self) -> None:
        import psycopg  # only on PostgreSQL: a SQLite install has no driver for it

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    # A notice sent before LISTEN was missed: read afresh from here on.
                    self.moved(listening=True)
                    while not self._stop.is_set():
                        for _notice in connection.notifies(timeout=RETRY_SECONDS):
                            self.moved()
            except psycopg.Error:
                pass
            self.moved(listening=False)
            self._stop.wait(RETRY_SECONDS)


def start(app: Flask, *, listen_to: str | None = None) -> Watch | None:
    """Listen for notices in this process if the app's database sends them (PostgreSQL).

    `registry serve` calls it in each web process (after gunicorn's fork: a thread does not
    survive one). Returns the watch, or None on a database without notices. listen_to, a
    database URL, listens somewhere else than the app's database (for tests).
    """
    engine = get_engine(app)
    if engine.dialect.name != "postgresql":
        return None
    url = make_url(listen_to) if listen_to else engine.url
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    watch = Watch(conninfo).start()

    # This process's own commits need not wait for their notice: once a connection that
    # committed is back in the pool (before the response goes out), the kept version goes.
    @event.listens_for(engine, "commit")
    def _committed(connection) -> None:
        connection.info[_COMMITTED] = True

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        if record.info.pop(_COMMITTED, False):
            watch.moved()

    app.extensions[_EXTENSION] = watch
    return watch


def watch_of(app: Flask) -> Watch | None:
    """Return the app's watch, if `start` gave it one."""
    return app.extensions.get(_EXTENSION)

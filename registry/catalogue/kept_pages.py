"""Public pages kept whole while the data they show stands, shared by a server's web processes.

A public page (caching.validated: nobody signed in, no message waiting) is made from its
address, the data's version, the day and what the browser's session adds: its handout and its
form token (caching.page_tag says the same). So the first time a page is made for a version it
is kept, with its form token cut out; the next request for the same address, handout and version
is answered from it, with that browser's own token put back, and nothing is rendered or
queried. The headers, the tag and the session cookie are added after, as for a page just made.

The pages are kept in an SQLite database. `registry serve --workers N` gives its web processes
one file in a folder of its own (server.py), so a page one process made is sent by all of them;
with one process, or without that file, a process keeps its own in memory. A page is kept under
its version: a page of an older version (or day, or release) is never sent again, and goes when
room runs out. At most REGISTRY_KEPT_PAGES_MB of pages are kept, the least recently asked for
dropped first; 0 keeps none. They are kept compressed (zlib at its fastest level): pages of HTML
pack several times smaller (tests/bench/page_cost.py prints what is kept, and what a page weighs
as sent), so the same room holds several times the pages. Only public pages are kept, with their
form tokens cut out: the file holds what anyone may read on them, and of a browser's handout
only which entries a page was made for, never whose. A store that cannot be read or written (a
lock held too long, a full disk) makes the page afresh.
"""

import functools
import logging
import os
import secrets
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request, session
from flask_wtf.csrf import generate_csrf

from registry import db
from registry.catalogue import caching

_KEPT = "registry.kept_pages"
log = logging.getLogger(__name__)

# zlib's fastest level: cheap beside making the page; its best packs HTML little smaller.
_LEVEL = 1
# How long a process waits for another's write to the shared file before it makes the page
# itself (or does not keep it): writes take some tens of microseconds.
_WAIT_SECONDS = 0.05
# How often a page kept is marked asked for again, at most (nanoseconds).
_TOUCH_NS = 5 * 10**9
# Pages looked at at once when room is made (the least recently asked for first).
_BATCH = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS page (
    key TEXT PRIMARY KEY,
    used INTEGER NOT NULL,
    size INTEGER NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    has_token INTEGER NOT NULL,
    packed BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS page_used ON page (used);
CREATE TABLE IF NOT EXISTS room (one INTEGER PRIMARY KEY CHECK (one = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO room VALUES (1, 0);
CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Page:
    """A page as its view made it, with the form token (if it had one) cut out, packed."""

    status: int
    content_type: str
    packed: bytes
    has_token: bool

    def response(self, placeholder: bytes) -> Response:
        """Return the page for this request: its browser's own form token put back."""
        body = zlib.decompress(self.packed)
        if self.has_token:
            body = body.replace(placeholder, generate_csrf().encode())
        return Response(body, status=self.status, content_type=self.content_type)


class Kept:
    """The kept pages: least recently asked for first, within a limit in bytes.

    path is the SQLite file the processes of one server share; None keeps this process's own,
    in memory. The connection is opened in the process that first uses it (web processes are
    forked from the one that made the app) and used by one thread at a time.
    """

    def __init__(self, limit: int, path: str | None = None):
        self.limit = limit
        self.path = path
        self._opened_in: int | None = None
        # Not held when a web process is forked: the process that makes the app serves nothing.
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._placeholder = b""

    @property
    def placeholder(self) -> bytes:
        """Where a page's form token was: a string no page can hold by chance, one per file."""
        with self._lock:
            self._db()
            return self._placeholder

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
                # The pages are a copy of what the database says: nothing is lost with them, so
                # the file is never synced; the journal lets readers read while one writes.
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = OFF")
            connection.executescript(_SCHEMA)
            proposed = f"registry-form-token-{secrets.token_hex(16)}"
            connection.execute(
                "INSERT OR IGNORE INTO setting VALUES ('placeholder', ?)", (proposed,)
            )
            (placeholder,) = connection.execute(
                "SELECT value FROM setting WHERE name = 'placeholder'"
            ).fetchone()
            self._connection, self._placeholder = connection, placeholder.encode()
            self._opened_in = os.getpid()
        assert self._connection is not None
        return self._connection

    def get(self, version: tuple, key: tuple) -> Page | None:
        """Return the kept page of key under version, or None.

        A page is marked asked for at most every _TOUCH_NS: reading takes no lock that another
        process waits for, and the order of going stays right to within those seconds.
        """
        name = _key(version, key)
        now = time.time_ns()
        try:
            with self._lock:
                connection = self._db()
                row = connection.execute(
                    "SELECT status, content_type, has_token, packed, used FROM page WHERE key = ?",
                    (name,),
                ).fetchone()
                if row is not None and now - row[4] > _TOUCH_NS:
                    connection.execute("UPDATE page SET used = ? WHERE key = ?", (now, name))
        except sqlite3.Error as exc:
            log.warning("kept pages could not be read (%s): making the page", exc)
            return None
        return None if row is None else Page(row[0], row[1], row[3], bool(row[2]))

    def put(self, version: tuple, key: tuple, response: Response) -> None:
        """Keep response under key and version, dropping the least recently asked for for room."""
        try:
            page = self._cut_token(response)
            if len(page.packed) <= self.limit:
                self._write(lambda connection: self._put(connection, _key(version, key), page))
        except sqlite3.Error as exc:
            log.warning("a page could not be kept (%s)", exc)

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

    def _put(self, connection: sqlite3.Connection, key: str, page: Page) -> None:
        size = len(page.packed)
        old = connection.execute("SELECT size FROM page WHERE key = ?", (key,)).fetchone()
        connection.execute(
            "INSERT OR REPLACE INTO page VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, time.time_ns(), size, page.status, page.content_type, page.has_token,
             page.packed),
        )  # fmt: skip
        (held,) = connection.execute(
            "UPDATE room SET bytes = bytes + ? RETURNING bytes", (size - (old[0] if old else 0),)
        ).fetchone()
        while held > self.limit:
            batch = connection.execute(
                "SELECT key, size FROM page ORDER BY used LIMIT ?", (_BATCH,)
            ).fetchall()
            if not batch:  # nothing left to drop: the count was off, and is 0 again
                held = 0
            for dropped, dropped_size in batch:
                connection.execute("DELETE FROM page WHERE key = ?", (dropped,))
                held -= dropped_size
                if held <= self.limit:
                    break
        connection.execute("UPDATE room SET bytes = ?", (held,))

    def clear(self) -> None:
        """Forget every kept page (of every process sharing the file)."""

        def forget(connection: sqlite3.Connection) -> None:
            connection.execute("DELETE FROM page")
            connection.execute("UPDATE room SET bytes = 0")

        self._write(forget)

    def held(self) -> tuple[int, int]:
        """Return how many pages are kept, and the bytes they take packed.

        For tests/bench/page_cost.py, which prints it, and the test of the room running out.
        """
        with self._lock:
            count, size = self._db().execute("SELECT count(*), total(size) FROM page").fetchone()
        return count, int(size)

    def _cut_token(self, response: Response) -> Page:
        """Return response as a packed Page, with this request's form token (if any) cut out."""
        body = response.get_data()
        token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
        has_token = bool(token) and token.encode() in body
        if has_token:
            body = body.replace(token.encode(), self.placeholder)
        packed = zlib.compress(body, _LEVEL)
        return Page(response.status_code, response.content_type or "", packed, has_token)


def _key(version: tuple, key: tuple) -> str:
    return repr((version, key))


def kept(view):
    """Answer a public page's view from the kept page of its address, or keep what it makes."""

    @functools.wraps(view)
    def answer(*args, **kwargs):
        store: Kept | None = current_app.extensions.get(_KEPT)
        if store is None or not caching.validated():
            return view(*args, **kwargs)
        # Read before the page is made: a page kept under a version never shows older data.
        version = (
            current_app.config["REGISTRY_RELEASE"],
            caching.data_version(),
            db.utcnow().date().isoformat(),
        )
        handout = tuple(session.get("handout", ()))
        key = (request.script_root, request.full_path, handout)
        page = store.get(version, key)
        if page is not None:
            return page.response(store.placeholder)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code == 200 and not response.is_streamed:
            store.put(version, key, response)
        return response

    return answer


def init_app(app: Flask) -> None:
    """Keep public pages, up to REGISTRY_KEPT_PAGES_MB (0: none), in REGISTRY_KEPT_PAGES_FILE.

    The file is set by server.py for the web processes it starts; unset, each process keeps
    its own pages in memory.
    """
    limit = int(app.config["REGISTRY_KEPT_PAGES_MB"] * 1024 * 1024)
    if limit > 0:
        app.extensions[_KEPT] = Kept(limit, app.config.get("REGISTRY_KEPT_PAGES_FILE"))


def clear() -> None:
    """Forget every kept page of this app (for benchmarks and tests that measure cold pages)."""
    store: Kept | None = current_app.extensions.get(_KEPT)
    if store is not None:
        store.clear()

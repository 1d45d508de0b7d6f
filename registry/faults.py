"""What the registry does when its database is away for a moment or its disk is full.

A web request answers 503 (or 507) and changes nothing; a check run waits and tries again,
or stops saying how far it got.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, render_template, request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
# PostgreSQL error classes that mean "no connection" rather than "a bad statement": connection
# exceptions (08), the server shutting down or starting up (57P01-57P03), too many connections.
_PG_AWAY = ("08", "57P01", "57P02", "57P03", "53300")
_PG_DISK_FULL = "53100"
# SQLite result codes that mean the file is busy or cannot be reached just now.
_SQLITE_AWAY = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR")


def disk_full(error: BaseException) -> bool:
    """Tell whether error says the disk holding the database is full."""
    orig = getattr(error, "orig", None)
    return (
        getattr(orig, "sqlstate", None) == _PG_DISK_FULL
        or getattr(orig, "sqlite_errorname", None) == "SQLITE_FULL"
    )


def database_away(error: BaseException) -> bool:
    """Tell whether error means the database cannot be reached just now (worth a retry)."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    if hasattr(orig, "sqlstate"):  # psycopg: no sqlstate at all is a failure to connect
        state = orig.sqlstate
        return state is None or state.startswith(_PG_AWAY)
    name = getattr(orig, "sqlite_errorname", "") or ""
    return name.startswith(_SQLITE_AWAY)


# The check run.


class DatabaseUnavailable(RuntimeError):
    """The database stayed away longer than the run waits for it; what was stored is kept."""


class DiskFull(RuntimeError):
    """The disk holding the database filled up during the run; what was stored is kept."""


def retrying(action: Callable[[], Any], session: Session | None, *, wait_seconds: float) -> Any:
    """Call action; while the database is away, try again with backoff, for wait_seconds at most.

    Each attempt that fails is rolled back first, so the next one starts clean.
    """
    deadline, delay = time.monotonic() + wait_seconds, 0.25
    while True:
        try:
            return action()
        except DBAPIError as exc:
            if not database_away(exc):
                raise
            rollback_quietly(session)
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseUnavailable(
                    f"the database was unavailable for more than {wait_seconds:g} s ({exc.orig})"
                ) from exc
            log.warning("the database is unavailable; trying again in %.1f s: %s", delay, exc.orig)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def rollback_quietly(session: Session | None) -> None:
    """Roll back session, which may fail when its connection is already gone (nothing to undo)."""
    if session is not None:
        try:
            session.rollback()
        except DBAPIError:
            pass


# Space held beside a SQLite database file and given back when the disk fills, so that the run
# can still record how it ended and release its lock (PostgreSQL keeps its own room for that).
RESERVE_BYTES = 256 * 1024


def _reserve_file(engine: Engine) -> Path | None:
    """Return the reserve file of a SQLite database file; None for other databases."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}.reserve")


def hold_reserve(engine: Engine) -> None:
    """Make sure the reserve file is there, written out in full (a sparse file holds nothing)."""
    path = _reserve_file(engine)
    if path is None or (path.exists() and path.stat().st_size >= RESERVE_BYTES):
        return
    try:
        path.write_bytes(b"\0" * RESERVE_BYTES)
    except OSError as exc:
        path.unlink(missing_ok=True)
        log.warning("could not set %s aside for a full disk: %s", path, exc)


def give_back_reserve(engine: Engine) -> None:
    """Delete the reserve file, making room for the writes that end a run tidily."""
    path = _reserve_file(engine)
    if path is not None:
        path.unlink(missing_ok=True)


# The web pages.


def _forget_signed_in_user() -> None:
    """Answer as to someone signed out: who is signed in cannot be read from the database now."""
    # flask_login keeps the loaded user on g; without one, later code would ask the database again.
    g._login_user = current_app.login_manager.anonymous_user()


def outage(error: DBAPIError) -> tuple[int, str, str] | None:
    """Return (status, code, message) for a database outage or full disk; None for anything else.

    The request's transaction was never committed; closing the session at teardown rolls it back.
    The rest of the request treats the visitor as signed out: who they are cannot be read now.
    """
    full = disk_full(error)
    if not full and not database_away(error):
        return None
    _forget_signed_in_user()
    log.error("database %s during %s %s: %s", "disk full" if full else "unavailable",
              request.method, request.path, error.orig)  # fmt: skip
    if full:
        return (
            507,
            "database_disk_full",
            (
                "The disk holding the registry's database is full, so nothing was changed. "
                "An administrator must free space; then try again, sending any form again."
            ),
        )
    return (
        503,
        "database_unavailable",
        (
            "The registry's database is unavailable for a moment, so nothing was changed. "
            f"Try again in {RETRY_AFTER_SECONDS} seconds, sending any form again."
        ),
    )


def explain(error: BaseException) -> str | None:
    """Say in words, for a command's user, a database that is away or full; None otherwise."""
    if disk_full(error):
        return "the disk holding the database is full; free space, then try again."
    if database_away(error):
        orig = str(getattr(error, "orig", error)).strip()
        return f"cannot reach the database ({orig}). Is it running, and does DATABASE_URL name it?"
    return None


def retry_later(response):
    """Mark a 503/507 response: when to try again, and never to be cached."""
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable_page(error: DBAPIError):
    """Answer an outage with a page saying that nothing was changed (other errors: the 500)."""
    found = outage(error)
    if found is None:
        raise error  # a fault of the registry itself: the ordinary 500
    status, _code, message = found
    title = "The database's disk is full" if status == 507 else "The database is unavailable"
    # The page's navigation sees the anonymous user set above, so it asks the database nothing.
    page = render_template("error.html", title=title, status=status, message=message)
    return retry_later(current_app.make_response((page, status)))


def init_app(app: Flask) -> None:
    """Answer database outages with a clear 503 page (the API answers them in JSON itself)."""
    app.register_error_handler(DBAPIError, _unavailable_page)

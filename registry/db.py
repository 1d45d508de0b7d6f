"""The database engine, the per-request session, and timestamps."""

import select
from datetime import UTC, datetime
from typing import TypeVar

from flask import Flask, abort, current_app, g, has_request_context, request
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

T = TypeVar("T")


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Return value with UTC attached when the database gave it back naive (SQLite does)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def make_engine(url: str) -> Engine:
    """Create an engine for url; SQLite gets foreign keys, WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url)
        event.listen(engine, "checkout", _hung_up_on)
        return engine
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _hung_up_on(dbapi_connection, _record, _proxy) -> None:
    """Refuse a pooled connection the server has closed, without a round trip to ask it.

    A server that stops or restarts, or ends an idle session, says so on the socket and closes
    it; an idle connection has nothing else to read, so a readable socket is a closed one (or
    one with a notice: replacing that costs a connection, nothing more). The pool takes another
    connection, up to three times, as it would after a failed ping; a server gone without a word
    shows up at the first statement instead, answered 503 (faults.py), and the pool starts
    afresh. This replaces SQLAlchemy's pre-ping, a SELECT 1 on every checkout: one round trip
    a page.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise exc.DisconnectionError("the connection is closed")
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    if readable:
        raise exc.DisconnectionError("the server closed the connection")


def get_engine(app: Flask | None = None) -> Engine:
    """Return the app's engine."""
    return (app or current_app).extensions["registry.engine"]


def get_session() -> Session:
    """Return the database session of this request or command, opening it on first use."""
    if "db_session" not in g:
        g.db_session = Session(_reader() or get_engine())
    return g.db_session


_READ_ONLY = "registry.read_only"


def read_only(app: Flask, endpoints: frozenset[str]) -> None:
    """Let GET requests to endpoints that only read run each statement in a transaction of its own.

    Such a page needs no transaction around its reads: under PostgreSQL's read committed each
    statement sees what was committed when it began, in a transaction or not, and SQLite opens
    none for a read. Without one, a page spends no round trips on BEGIN and ROLLBACK.
    """
    engine = app.extensions["registry.engine"]
    app.extensions[_READ_ONLY] = (endpoints, engine.execution_options(isolation_level="AUTOCOMMIT"))


def _reader() -> Engine | None:
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return None
    endpoints, reader = current_app.extensions.get(_READ_ONLY, ((), None))
    return reader if request.endpoint in endpoints else None


def get_or_404(model: type[T], ident: int) -> T:
    """Return the row of model with this primary key, or answer 404."""
    row = get_session().get(model, ident)
    if row is None:
        abort(404)
    return row


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Attach an engine to the app and close the session at the end of every request."""
    app.extensions["registry.engine"] = make_engine(app.config["DATABASE_URL"])
    app.teardown_appcontext(close_session)

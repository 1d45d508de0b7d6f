"""A named lock in the database, so that one check run happens at a time across processes.

Its times come from the database's clock, one clock for every process and host, so a host whose
clock is wrong or jumps cannot take a lock that is still held; each lease paces its refreshes
by the monotonic clock, which no jump moves.
"""

import logging
import os
import secrets
import socket
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from registry.db import aware
from registry.models import RunLock

CHECK_RUN = "check-run"

log = logging.getLogger(__name__)
_table = RunLock.__table__  # type: ignore[attr-defined]


class LockHeld(RuntimeError):
    """Another process holds the lock; the message says who and since when."""

    def __init__(self, holder: str, acquired_at: datetime | None):
        host, pid = _host_pid(holder)
        since = (
            aware(acquired_at).isoformat(timespec="seconds") if acquired_at else "an unknown time"
        )
        super().__init__(f"another check run is in progress (started at {since}, by {host}/{pid})")
        self.holder, self.acquired_at = holder, acquired_at


class LockLost(RuntimeError):
    """The lock expired and another process took it while this one still ran."""


def _host_pid(holder: str) -> tuple[str, str]:
    host, _, rest = holder.rpartition("@")
    return host or "?", rest.split(":", 1)[0] or "?"


def _pid_is_dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but belongs to someone else
        return False
    return False


def _local_pid(holder: str) -> int | None:
    """Return holder's process id when it ran on this machine, else None."""
    host, pid = _host_pid(holder)
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def _left_by_dead_process(holder: str) -> bool:
    """Tell whether holder was another process on this machine that no longer exists."""
    pid = _local_pid(holder)
    return pid is not None and pid != os.getpid() and _pid_is_dead(pid)


def _alive_here(holder: str) -> bool:
    """Tell whether holder is a process on this machine that is still running."""
    pid = _local_pid(holder)
    return pid is not None and not _pid_is_dead(pid)


def _db_now(engine: Engine, plus_seconds: float = 0.0) -> ColumnElement:
    """Return SQL for the database's clock, plus_seconds ahead."""
    if engine.dialect.name == "sqlite":
        # The text form SQLAlchemy stores datetimes in on SQLite, so the two compare as text.
        return func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{plus_seconds:+.3f} seconds")
    return func.now() + timedelta(seconds=plus_seconds)


class Lease:
    """The lock, held: refresh it while working, release it when done."""

    def __init__(self, engine: Engine, name: str, holder: str, seconds: float):
        self.engine, self.name, self.holder, self.seconds = engine, name, holder, seconds
        self.refreshed_at = time.monotonic()

    def refresh(self, *, force: bool = False) -> None:
        """Push the expiry forward (at most every quarter of the lock's life unless forced)."""
        now = time.monotonic()  # a wall clock set back would stop the refreshes until it caught up
        if not force and now - self.refreshed_at < self.seconds / 4:
            return
        with self.engine.begin() as conn:
            updated = conn.execute(
                update(_table)
                .where(_table.c.name == self.name, _table.c.holder == self.holder)
                .values(expires_at=_db_now(self.engine, self.seconds))
            ).rowcount
        if not updated:
            raise LockLost(f"the {self.name} lock expired and was taken by another process")
        self.refreshed_at = now

    def release(self) -> None:
        """Give the lock up (only if it is still this lease's)."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(_table).where(_table.c.name == self.name, _table.c.holder == self.holder)
            )

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *_exc) -> None:
        try:
            self.release()
        except DBAPIError as exc:  # the database is away or its disk full
            log.error(
                "could not release the %s lock (%s); the next run takes it over once this "
                "process has ended",
                self.name,
                exc.orig,
            )


def acquire(engine: Engine, *, seconds: float, name: str = CHECK_RUN) -> Lease:
    """Take the lock or raise LockHeld.

    An expired lock, or one left by a dead process, is taken; on SQLite, never one whose holder
    still runs on this machine.
    """
    holder = f"{socket.gethostname()}@{os.getpid()}:{secrets.token_hex(4)}"
    values = {
        "holder": holder,
        "acquired_at": _db_now(engine),
        "expires_at": _db_now(engine, seconds),
    }
    for _ in range(3):  # the holder may release between our attempts
        if engine.dialect.name == "sqlite":
            _refuse_if_alive_here(engine, name)
        # Each statement is atomic on SQLite and PostgreSQL: of many racers, one UPDATE matches
        # the expired row, or one INSERT gets the primary key; the rest see zero rows or a conflict.
        with engine.begin() as conn:
            taken = conn.execute(
                update(_table)
                .where(_table.c.name == name, _table.c.expires_at < _db_now(engine))
                .values(values)
            ).rowcount
        if taken:
            log.info("took over the expired %s lock", name)
            return Lease(engine, name, holder, seconds)
        try:
            with engine.begin() as conn:
                conn.execute(insert(_table).values(name=name, **values))
            return Lease(engine, name, holder, seconds)
        except IntegrityError:
            pass
        with engine.connect() as conn:
            row = conn.execute(select(_table).where(_table.c.name == name)).first()
        if row is None:
            continue
        if _left_by_dead_process(row.holder):
            with engine.begin() as conn:
                taken = conn.execute(
                    update(_table)
                    .where(_table.c.name == name, _table.c.holder == row.holder)
                    .values(values)
                ).rowcount
            if taken:
                log.info("took over the %s lock left by %s, which is gone", name, row.holder)
                return Lease(engine, name, holder, seconds)
            continue
        raise LockHeld(row.holder, row.acquired_at)
    raise LockHeld("?@?", None)


def _refuse_if_alive_here(engine: Engine, name: str) -> None:
    """Raise LockHeld when a running process on this machine holds the lock, expired or not.

    A SQLite file is shared only by processes on one machine, and its clock is that machine's:
    a jump forward would make every lease look expired. The process table is not fooled.
    """
    with engine.connect() as conn:
        row = conn.execute(select(_table).where(_table.c.name == name)).first()
    if row is not None and _alive_here(row.holder):
        raise LockHeld(row.holder, row.acquired_at)

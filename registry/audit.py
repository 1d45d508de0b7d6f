"""The audit log: every change recorded with who, when, what and why; history is never rewritten."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from registry.models import APPEND_ONLY, AuditEvent

# The tables whose rows are history. The database refuses to update or delete their rows
# (triggers named `<table>_is_history…`, migration 0013), the ORM before it (below).
HISTORY_TABLES: tuple[str, ...] = tuple(str(model.__tablename__) for model in APPEND_ONLY)


class HistoryIsImmutable(RuntimeError):
    """Someone tried to change or remove a review, a check result or an audit entry."""


def _plain(value: Any) -> Any:
    """Return value in a form JSON can hold."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Return {field: [before, after]} for every field whose value differs."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = _plain(before.get(key)), _plain(after.get(key))
        if old != new:
            changes[key] = [old, new]
    return changes


def record(
    session: Session,
    *,
    entity: str,
    entity_id: int,
    action: str,
    changes: dict[str, list[Any]] | None = None,
    actor_id: int | None = None,
    actor_label: str | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Add an audit entry to the session (committed with the change it describes)."""
    if actor_id is None and not actor_label:
        raise ValueError("an audit entry needs an actor: a user or a label such as 'seed loader'")
    audit_event = AuditEvent(
        entity=entity,
        entity_id=entity_id,
        action=action,
        changes=changes or {},
        actor_id=actor_id,
        actor_label=actor_label,
        reason=reason,
    )
    session.add(audit_event)
    return audit_event


@event.listens_for(Session, "before_flush")
def _refuse_history_rewrites(session, _flush_context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, APPEND_ONLY) and (obj in session.deleted or session.is_modified(obj)):
            raise HistoryIsImmutable(
                f"{type(obj).__name__} {getattr(obj, 'id', '?')} is history and cannot be changed"
            )


def append(
    connection: Connection,
    *,
    entity: str,
    entity_id: int,
    action: str,
    actor_label: str,
    reason: str,
    changes: dict[str, list[Any]] | None = None,
) -> None:
    """Add an audit entry on a plain connection (a migration, a restore), in its transaction."""
    connection.execute(
        insert(AuditEvent.__table__).values(  # type: ignore[arg-type]
            at=datetime.now(UTC), entity=entity, entity_id=entity_id, action=action,
            changes=changes or {}, actor_label=actor_label, reason=reason,
        )
    )  # fmt: skip


_TRIGGERS = {
    "sqlite": "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'",
    "postgresql": "SELECT t.tgname, c.relname, '' FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)",
}


def _history_triggers(
    connection: Connection, tables: tuple[str, ...]
) -> list[tuple[str, str, str]]:
    """Return (name, table, definition) of each trigger that keeps one of tables append-only."""
    rows = connection.execute(text(_TRIGGERS[connection.dialect.name])).all()
    return [
        (name, table, definition)
        for name, table, definition in rows
        if table in tables and name.startswith(f"{table}_is_history")
    ]


def _switch(connection: Connection, trigger: tuple[str, str, str], *, on: bool) -> None:
    """Put one history trigger back (on) or lift it (off), inside the caller's transaction."""
    name, table, definition = trigger
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "sqlite":  # SQLite cannot disable a trigger: drop, then remake
        connection.execute(text(definition if on else f"DROP TRIGGER {quote(name)}"))
    else:
        verb = "ENABLE" if on else "DISABLE"
        connection.execute(text(f"ALTER TABLE {quote(table)} {verb} TRIGGER {quote(name)}"))


@contextmanager
def rewriting_history(
    connection: Connection,
    *,
    reason: str,
    actor_label: str,
    tables: tuple[str, ...] = HISTORY_TABLES,
) -> Iterator[None]:
    """Lift the database's append-only rule on tables for the block, recording who and why.

    The one sanctioned way to change history (a migration that must backfill a column). It runs
    in the caller's transaction: the audit entry, the rewrite and the triggers' return commit
    together, and if the block fails the rollback undoes all three. Other connections never see
    the rule lifted: the triggers are back before the transaction commits.
    """
    if not reason.strip() or not actor_label.strip():
        raise ValueError("rewriting history needs a reason and a name for who does it")
    unknown = set(tables) - set(HISTORY_TABLES)
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))} is not a history table")
    append(
        connection, entity="history", entity_id=0, action="rewrite_allowed",
        actor_label=actor_label, reason=reason, changes={"tables": [None, sorted(tables)]},
    )  # fmt: skip
    triggers = _history_triggers(connection, tables)
    for trigger in triggers:
        _switch(connection, trigger, on=False)
    yield
    for trigger in triggers:
        _switch(connection, trigger, on=True)

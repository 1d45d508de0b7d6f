"""The audit log: every change recorded with who, when, what and why; history is never rewritten."""

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from registry.models import APPEND_ONLY, AuditEvent


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

"""A re-review that starts from what changed: why the entry came back, and what happened since."""

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, or_, select

from registry.entries import status
from registry.models import AuditEvent, CheckResult, Resource, Review, User
from registry.review.lifecycle import Happening, happening
from registry.vocab import State

SHOWN = 20  # happenings listed; the history page has the rest


@dataclass(frozen=True)
class SinceDecision:
    """What a reviewer should know before deciding again on an entry decided before."""

    decision: Review
    why: str | None  # the reason it was sent back, when it was
    happenings: list[Happening] = field(default_factory=list)  # edits, reports, moves; oldest first
    earlier: int = 0  # happenings left out (the oldest)
    checks: dict[str, int] = field(default_factory=dict)  # verdict -> results since the decision
    latest_check: str | None = None  # the newest result, in words
    versions: list[str] = field(default_factory=list)  # "reviewed version 3.2; the App Store …"
    upkeep: list[str] = field(default_factory=list)  # "App Store: version 4.0, updated …"


def _decision_event(session: Session, decision: Review) -> int:
    """Return the id of the last audit entry the decision made (0: none found)."""
    # decide() records "reviewed" (reason "review N: …"), then the state it moved the entry to.
    event = session.exec(
        select(func.max(AuditEvent.id)).where(
            AuditEvent.entity == "resource",
            AuditEvent.entity_id == decision.resource_id,
            or_(
                AuditEvent.reason == f"decision in review {decision.id}",
                AuditEvent.reason.startswith(f"review {decision.id}: "),  # type: ignore[union-attr]
            ),
        )
    ).one()
    return event or 0


def since_decision(session: Session, resource: Resource, decision: Review) -> SinceDecision:
    """Say why a decided entry is back and what happened to it since its last decision."""
    after = _decision_event(session, decision)
    events = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.entity == "resource",
            AuditEvent.entity_id == resource.id,
            AuditEvent.id > after,  # type: ignore[operator]
        )
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    ids = {e.actor_id for e in events if e.actor_id is not None}
    people = {u.id: u for u in session.exec(select(User).where(User.id.in_(ids)))}  # type: ignore[union-attr]
    happenings = [happening(event, people) for event in events]
    sent_back = [
        e for e in events
        if e.action == "state_changed"
        and (e.changes.get("state") or [None, None])[1] == State.NEEDS_REREVIEW.value
    ]  # fmt: skip
    why = sent_back[-1].reason if sent_back and resource.state != State.SUGGESTED.value else None
    results = session.exec(
        select(CheckResult)
        .where(
            CheckResult.resource_id == resource.id,
            CheckResult.id > (decision.check_result_id or 0),  # type: ignore[operator]
            CheckResult.checked_at >= decision.created_at,
        )
        .order_by(CheckResult.id)  # type: ignore[arg-type]
    ).all()
    counts: dict[str, int] = {}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    latest = results[-1] if results else None
    seen = session.get(CheckResult, decision.check_result_id) if decision.check_result_id else None
    earlier = max(0, len(happenings) - SHOWN)
    return SinceDecision(
        decision=decision,
        why=why,
        happenings=happenings[earlier:],
        earlier=earlier,
        checks=counts,
        latest_check=status.summary(latest) if latest else None,
        versions=status.new_versions(seen, latest) if latest else [],
        upkeep=status.store_upkeep(latest),
    )

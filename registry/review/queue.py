"""The reviewers' queue: suggestions, entries raised for re-review, reports, reviews coming due."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, or_, select

from registry.db import utcnow
from registry.entries import status
from registry.models import AuditEvent, CheckResult, ProblemReport, Resource, Review
from registry.review import panel
from registry.review.lifecycle import DECIDED, REPORT_REASONS
from registry.vocab import ReportStatus, Stage, State, label

KINDS: dict[str, str] = {
    "suggestion": "New suggestions",
    "rereview": "Raised for re-review",
    "report": "Reports from clinicians",
    "due": "Reviews coming due",
    "version": "New version since review",
    "panel": "Awaiting a second reviewer",
    "dispute": "Disagreements to settle",
}


@dataclass(frozen=True)
class QueueItem:
    """One thing a reviewer should look at, and since when it has waited."""

    kind: str
    resource: Resource
    since: datetime | date
    why: str
    report_id: int | None = None

    @property
    def sort_key(self) -> str:
        return self.since.isoformat()[:19]


def entered_state(session: Session, resource: Resource) -> AuditEvent | None:
    """Return the audit entry of the entry's latest change of state, if any."""
    return session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "resource", AuditEvent.entity_id == resource.id)
        .where(AuditEvent.action.in_(["state_changed", "created"]))  # type: ignore[attr-defined]
        .order_by(AuditEvent.id.desc())
    ).first()


def build(
    session: Session,
    *,
    kind: str | None = None,
    due_within_days: int = 30,
    today: date | None = None,
    viewer_id: int | None = None,
) -> list[QueueItem]:
    """Return the queue as viewer sees it, oldest first, optionally only one kind of item.

    An entry with a proposal waiting is listed once, as awaiting a second (or third) reviewer,
    and not to those who may not answer it: its proposer, who disagreed, its suggester.
    """
    today = today or utcnow().date()
    items: list[QueueItem] = []
    waiting = _waiting(session)
    if kind in (None, "suggestion"):
        for resource in session.exec(
            select(Resource).where(
                Resource.state.in_([State.SUGGESTED.value, State.IN_REVIEW.value])  # type: ignore[attr-defined]
            )
        ):
            entered = entered_state(session, resource)
            why = "Review in progress" if resource.state == State.IN_REVIEW else "Not yet reviewed"
            items.append(
                QueueItem(
                    "suggestion", resource, entered.at if entered else resource.created_at, why
                )
            )
    if kind in (None, "rereview"):
        for resource in session.exec(
            select(Resource).where(Resource.state == State.NEEDS_REREVIEW.value)
        ):
            entered = entered_state(session, resource)
            why = entered.reason if entered and entered.reason else "Raised for re-review"
            items.append(
                QueueItem("rereview", resource, entered.at if entered else resource.updated_at, why)
            )
    if kind in (None, "report"):
        rows = session.exec(
            select(ProblemReport, Resource)
            .join(Resource, Resource.id == ProblemReport.resource_id)
            .where(ProblemReport.status == ReportStatus.OPEN.value)
        )
        for report, resource in rows:
            why = REPORT_REASONS.get(report.reason, report.reason) + (
                f": {report.note}" if report.note else ""
            )
            items.append(QueueItem("report", resource, report.created_at, why, report_id=report.id))
    if kind in (None, "due"):
        horizon = today + timedelta(days=due_within_days)
        for resource in session.exec(
            select(Resource).where(
                Resource.state.in_([s.value for s in DECIDED]),  # type: ignore[attr-defined]
                Resource.review_due.is_not(None),  # type: ignore[union-attr]
                Resource.review_due <= horizon,  # type: ignore[operator]
            )
        ):
            items.append(
                QueueItem(
                    "due",
                    resource,
                    resource.review_due,
                    f"Review due on {resource.review_due:%-d %B %Y}",
                )
            )
    if kind in (None, "version"):
        items += _new_versions(session)
    # Reports are closed one by one; every other item of an entry with a proposal is the proposal.
    items = [i for i in items if i.kind == "report" or i.resource.id not in waiting]
    items += [
        item
        for resource, pending in waiting.values()
        if viewer_id is None
        or (viewer_id not in pending.barred() and viewer_id != resource.suggested_by_id)
        if kind in (None, (item := _awaiting(resource, pending)).kind)
    ]
    return sorted(items, key=lambda item: (item.sort_key, item.resource.id))


def _waiting(session: Session) -> dict[int, tuple[Resource, panel.Pending]]:
    """Return every entry with a proposal waiting, and the proposal."""
    proposed = session.exec(
        select(Resource).where(
            Resource.id.in_(select(Review.resource_id).where(Review.stage == Stage.PROPOSAL.value))  # type: ignore[union-attr]
        )
    ).all()
    pending = panel.pending_many(session, list(proposed))
    return {r.id: (r, pending[r.id]) for r in proposed if r.id in pending}  # type: ignore[misc]


def _awaiting(resource: Resource, pending: panel.Pending) -> QueueItem:
    proposed = f"proposed {label(pending.proposal.decision).lower()}"
    if pending.disagreement is None:
        return QueueItem("panel", resource, pending.proposal.created_at, proposed.capitalize())
    other = label(pending.disagreement.decision).lower()
    why = f"One reviewer {proposed}, a second would decide {other}: a third settles it"
    return QueueItem("dispute", resource, pending.disagreement.created_at, why)


def _new_versions(session: Session) -> list[QueueItem]:
    """Decided apps whose store now offers another version than the one reviewed."""
    apps = session.exec(
        select(Resource).where(
            Resource.state.in_([s.value for s in DECIDED]),  # type: ignore[attr-defined]
            or_(Resource.ios_url.is_not(None), Resource.android_url.is_not(None)),  # type: ignore[union-attr]
        )
    ).all()
    ids = [r.id for r in apps if r.id is not None]
    reviews, checks = status.latest_reviews(session, ids), status.latest_checks(session, ids)
    seen_ids = [r.check_result_id for r in reviews.values() if r.check_result_id]
    seen = {
        r.id: r
        for r in session.exec(select(CheckResult).where(CheckResult.id.in_(seen_ids)))  # type: ignore[union-attr]
    }
    items = []
    for resource in apps:
        review, latest = reviews.get(resource.id), checks.get(resource.id)
        if review is None or latest is None:
            continue
        words = status.new_versions(seen.get(review.check_result_id), latest)
        if words:
            why = "; ".join(words)
            items.append(QueueItem("version", resource, latest.checked_at, why))
    return items

"""The lifecycle of an entry: each change of state, review, edit and report, audited."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from registry import audit, rubric
from registry.db import utcnow
from registry.models import ProblemReport, Resource, Review, User
from registry.resources import apply_facts, create_resource, find_by_url, snapshot
from registry.schemas import ResourceCreate
from registry.vocab import Decision, ReportStatus, Role, State

DECIDED = {State.RECOMMENDED, State.RECOMMENDED_WITH_CAUTIONS, State.NOT_RECOMMENDED}

# Which state may follow which; a decision may be recorded from any state but retired.
ALLOWED: dict[State, set[State]] = {
    State.SUGGESTED: {State.IN_REVIEW, State.RETIRED, *DECIDED},
    State.IN_REVIEW: {State.SUGGESTED, State.RETIRED, *DECIDED},
    State.NEEDS_REREVIEW: {State.IN_REVIEW, State.RETIRED, *DECIDED},
    State.RECOMMENDED: {State.IN_REVIEW, State.NEEDS_REREVIEW, State.RETIRED, *DECIDED},
    State.RECOMMENDED_WITH_CAUTIONS: {
        State.IN_REVIEW,
        State.NEEDS_REREVIEW,
        State.RETIRED,
        *DECIDED,
    },
    State.NOT_RECOMMENDED: {State.IN_REVIEW, State.NEEDS_REREVIEW, State.RETIRED, *DECIDED},
    State.RETIRED: {State.SUGGESTED},
}

REPORT_REASONS: dict[str, str] = {
    "broken": "The link is broken or the resource has gone",
    "unsafe": "Content or advice that could harm someone",
    "privacy": "A privacy or data-sharing concern",
    "cost": "It now costs money, or has hidden costs",
    "moderation": "A forum is not moderated well",
    "wrong": "The information here is wrong or out of date",
    "other": "Something else",
}


class LifecycleError(ValueError):
    """An action the rules do not allow; its message says why, for the person who tried it."""


class NotIndependent(LifecycleError):
    """The reviewer suggested the entry, so the decision must be someone else's."""


class EditConflict(LifecycleError):
    """Someone else changed the entry since this person opened it."""


def _actor(user: User | None, label: str | None) -> dict[str, Any]:
    return {"actor_id": user.id if user else None, "actor_label": None if user else label}


def change_state(
    session: Session,
    resource: Resource,
    new: State,
    *,
    reason: str,
    user: User | None = None,
    actor_label: str | None = None,
) -> None:
    """Move an entry to a new state if the rules allow, recording who, when and why."""
    old = State(resource.state)
    if new not in ALLOWED[old]:
        raise LifecycleError(f"An entry that is {old.value} cannot become {new.value}.")
    if not reason or not reason.strip():
        raise LifecycleError("Give a reason for the change.")
    resource.state = new.value
    resource.updated_at = utcnow()
    session.add(resource)
    session.flush()
    audit.record(
        session,
        entity="resource",
        entity_id=resource.id,
        action="state_changed",
        changes={"state": [old.value, new.value]},
        reason=reason.strip(),
        **_actor(user, actor_label),
    )


def suggest(session: Session, *, data: ResourceCreate, user: User) -> Resource:
    """Add a staff member's suggestion; raise LifecycleError if the resource is listed already."""
    existing = find_by_url(session, data.url)
    if existing is not None:
        raise LifecycleError(
            f"“{existing.name}” is in the registry already, with the same address."
        )
    return create_resource(
        session, data=data, actor_id=user.id, reason="suggested by a member of staff"
    )


def start_review(session: Session, resource: Resource, *, user: User) -> None:
    """Mark an entry as being reviewed by user."""
    change_state(session, resource, State.IN_REVIEW, reason="review started", user=user)


def decide(
    session: Session,
    resource: Resource,
    *,
    user: User,
    decision: Decision,
    rationale: str,
    cautions: str | None,
    answers: dict[str, dict[str, str]],
    validity_months: int = 12,
    today: date | None = None,
) -> Review:
    """Record a reviewer's decision; it supersedes the last review and sets the review-due date."""
    if user.role not in (Role.REVIEWER, Role.ADMIN):
        raise LifecycleError("Only reviewers can record a decision.")
    if resource.suggested_by_id is not None and resource.suggested_by_id == user.id:
        raise NotIndependent("You suggested this resource, so another reviewer must decide on it.")
    if not rationale or not rationale.strip():
        raise LifecycleError("Give the rationale for the decision: clinicians will read it.")
    if decision == Decision.RECOMMENDED_WITH_CAUTIONS and not (cautions or "").strip():
        raise LifecycleError("Say what the cautions are, for clinicians to pass on.")
    try:
        checked = rubric.validate(answers, is_forum=resource.kind == "forum")
    except rubric.RubricError as exc:
        raise LifecycleError(str(exc)) from None

    today = today or utcnow().date()
    valid_until = _add_months(today, validity_months)
    previous = latest_review(session, resource.id)
    from registry.checkrun import latest_result  # (checkrun's rules read reviews)

    # The newest result by id, not by time: ids follow the order results were stored in,
    # whatever the clocks of the processes that stored them said.
    latest_check = latest_result(session, resource.id)
    review = Review(
        resource_id=resource.id,
        reviewer_id=user.id,
        decision=decision.value,
        rationale=rationale.strip(),
        cautions=(cautions or "").strip() or None,
        rubric=checked,
        valid_until=valid_until,
        check_result_id=latest_check.id if latest_check else None,
        supersedes_id=previous.id if previous else None,
    )
    session.add(review)
    session.flush()
    before = {"decision": resource.decision, "review_due": resource.review_due}
    resource.decision = decision.value
    resource.decided_at = utcnow()
    resource.review_due = valid_until
    audit.record(
        session,
        entity="resource",
        entity_id=resource.id,
        action="reviewed",
        changes=audit.diff(before, {"decision": resource.decision, "review_due": valid_until}),
        reason=f"review {review.id}: {review.rationale}",
        actor_id=user.id,
    )
    change_state(
        session,
        resource,
        State(decision.value),
        reason=f"decision in review {review.id}",
        user=user,
    )
    return review


def latest_review(session: Session, resource_id: int) -> Review | None:
    """Return the review that stands for an entry now."""
    return session.exec(
        select(Review).where(Review.resource_id == resource_id).order_by(Review.id.desc())
    ).first()


def edit(
    session: Session, resource: Resource, *, data: ResourceCreate, user: User, expected_version: int
) -> dict[str, list[Any]]:
    """Change an entry's facts, audited field by field; raise EditConflict if it moved on."""
    if resource.version != expected_version:
        raise EditConflict(_conflict_message())
    before = snapshot(resource)
    other = find_by_url(session, data.url)
    if other is not None and other.id != resource.id:
        raise LifecycleError(f"“{other.name}” already has that address.")
    apply_facts(resource, data)
    changes = audit.diff(before, snapshot(resource))
    if not changes:
        return {}
    resource.updated_at = utcnow()
    session.add(resource)
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise EditConflict(_conflict_message()) from None
    audit.record(
        session,
        entity="resource",
        entity_id=resource.id,
        action="edited",
        changes=changes,
        actor_id=user.id,
        reason="facts edited",
    )
    return changes


def _conflict_message() -> str:
    return (
        "Someone else changed this entry while you were editing it. Your changes have not been "
        "saved: they are shown below beside the current version, so you can apply them again."
    )


def retire(session: Session, resource: Resource, *, user: User, reason: str) -> None:
    """Retire an entry that is gone for good; it keeps its history."""
    change_state(session, resource, State.RETIRED, reason=reason, user=user)


def reinstate(session: Session, resource: Resource, *, user: User, reason: str) -> None:
    """Bring a retired entry back as a suggestion, to be reviewed afresh."""
    change_state(session, resource, State.SUGGESTED, reason=reason, user=user)


def report_problem(
    session: Session, resource: Resource, *, user: User, reason: str, note: str | None
) -> ProblemReport:
    """Record a clinician's report; a decided entry is raised for re-review at once."""
    if reason not in REPORT_REASONS:
        raise LifecycleError("Choose what the problem is.")
    report = ProblemReport(
        resource_id=resource.id,
        reporter_id=user.id,
        reason=reason,
        note=(note or "").strip() or None,
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        entity="resource",
        entity_id=resource.id,
        action="reported",
        changes={"report": [None, report.id]},
        reason=f"{REPORT_REASONS[reason]}" + (f": {report.note}" if report.note else ""),
        actor_id=user.id,
    )
    if State(resource.state) in DECIDED:
        change_state(
            session, resource, State.NEEDS_REREVIEW,
            reason=f"a clinician reported a problem (report {report.id}): {REPORT_REASONS[reason]}",
            user=user,
        )  # fmt: skip
    return report


def resolve_report(
    session: Session, report: ProblemReport, *, user: User, resolution: str, dismissed: bool = False
) -> None:
    """Close a report with what was done about it."""
    if report.status != ReportStatus.OPEN:
        raise LifecycleError("This report has been closed already.")
    if not resolution or not resolution.strip():
        raise LifecycleError("Say what was done about the report.")
    report.status = (ReportStatus.DISMISSED if dismissed else ReportStatus.RESOLVED).value
    report.resolved_by_id = user.id
    report.resolved_at = utcnow()
    report.resolution = resolution.strip()
    session.add(report)
    audit.record(
        session,
        entity="resource",
        entity_id=report.resource_id,
        action="report_closed",
        changes={"report": [report.id, report.status]},
        reason=report.resolution,
        actor_id=user.id,
    )


EXPIRY_ACTOR = "review expiry"


def raise_expired_reviews(session: Session, *, today: date | None = None) -> list[Resource]:
    """Raise every decided entry whose review has expired; return them (the check job calls it)."""
    today = today or utcnow().date()
    expired = session.exec(
        select(Resource).where(
            Resource.state.in_([s.value for s in DECIDED]),  # type: ignore[attr-defined]
            Resource.review_due.is_not(None),  # type: ignore[union-attr]
            Resource.review_due < today,  # type: ignore[operator]
        )
    ).all()
    for resource in expired:
        due = resource.review_due
        change_state(
            session, resource, State.NEEDS_REREVIEW,
            reason=f"Its review expired on {due.day} {due:%B %Y} ({due.isoformat()}).",
            actor_label=EXPIRY_ACTOR,
        )  # fmt: skip
    return list(expired)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    return day + timedelta(days=30 * months)  # pragma: no cover

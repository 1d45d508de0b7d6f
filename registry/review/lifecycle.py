"""The lifecycle of an entry: each change of state, review, edit and report, audited."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from registry import audit
from registry.db import aware, utcnow
from registry.entries import status
from registry.entries.forms import FIELD_LABELS
from registry.entries.schemas import ResourceCreate
from registry.entries.services import apply_facts, create_resource, find_by_url, snapshot
from registry.models import AuditEvent, CheckResult, ProblemReport, Resource, Review, User
from registry.review import panel, rubric
from registry.vocab import STANDING_STAGES, Decision, ReportStatus, Role, Stage, State, label

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


# What a person saw, and what changed since -----------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What a form showed of an entry: its version, its latest check result, its latest event."""

    version: int
    check_id: int = 0
    event_id: int = 0

    def __str__(self) -> str:
        return f"{self.version}:{self.check_id}:{self.event_id}"

    @classmethod
    def parse(cls, token: str | None) -> "Seen":
        """Read a form's `seen` token; one missing or garbled matches no entry (a conflict)."""
        try:
            version, check_id, event_id = (int(part) for part in (token or "").split(":"))
        except ValueError:
            return cls(version=0)
        return cls(version, check_id, event_id)


@dataclass(frozen=True)
class Happening:
    """One thing that happened to an entry, said for a person: when, by whom, what."""

    at: datetime
    who: str
    what: str


@dataclass(frozen=True)
class Since:
    """What happened to an entry since a person saw it, oldest first."""

    happenings: list[Happening] = field(default_factory=list)
    earlier: int = 0  # happenings left out (the oldest), to keep the page short


class ChangedMeanwhile(LifecycleError):
    """The entry changed after the person opened the form, so nothing was recorded."""

    def __init__(self, since: Since):
        self.since = since
        super().__init__(
            "This entry changed after you opened the page, so nothing has been saved. "
            "Read what changed, then send the form again if you still want to."
        )


SHOWN_HAPPENINGS = 12


def seen_now(session: Session, resource: Resource) -> Seen:
    """Return what a form drawn now shows of the entry (the token its `seen` field carries)."""
    check_id = session.exec(
        select(func.max(CheckResult.id)).where(CheckResult.resource_id == resource.id)
    ).one()
    event_id = session.exec(
        select(func.max(AuditEvent.id)).where(
            AuditEvent.entity == "resource", AuditEvent.entity_id == resource.id
        )
    ).one()
    return Seen(resource.version, check_id or 0, event_id or 0)


def changes_since(session: Session, resource: Resource, seen: Seen) -> Since:
    """Say what happened to the entry since `seen`: audited changes and any new check result."""
    events = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.entity == "resource",
            AuditEvent.entity_id == resource.id,
            AuditEvent.id > seen.event_id,  # type: ignore[operator]
        )
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    ids = {e.actor_id for e in events if e.actor_id is not None}
    people = {u.id: u for u in session.exec(select(User).where(User.id.in_(ids)))}  # type: ignore[union-attr]
    happenings = [happening(event, people) for event in events]
    newest_check = session.exec(
        select(CheckResult)
        .where(CheckResult.resource_id == resource.id, CheckResult.id > seen.check_id)  # type: ignore[operator]
        .order_by(CheckResult.id.desc())  # type: ignore[union-attr]
        .limit(1)
    ).first()
    if newest_check is not None:
        happenings.append(
            Happening(
                aware(newest_check.checked_at), "The automatic check", status.summary(newest_check)
            )
        )
    happenings.sort(key=lambda h: h.at)
    earlier = max(0, len(happenings) - SHOWN_HAPPENINGS)
    return Since(happenings[earlier:], earlier)


def require_unchanged(session: Session, resource: Resource, seen: Seen | None) -> None:
    """Raise ChangedMeanwhile if the entry moved on since `seen` (None: the caller read it now)."""
    if seen is not None and seen_now(session, resource) != seen:
        raise ChangedMeanwhile(changes_since(session, resource, seen))


def person(user: User) -> str:
    """Name a staff member for other staff: their name and email, or the email alone."""
    return f"{user.name} ({user.email})" if user.name else user.email


def suggested_by(session: Session, resource: Resource) -> str | None:
    """Say who suggested an entry: a person, a label such as "seed data", or None if unknown."""
    if resource.suggested_by_id is not None:
        user = session.get(User, resource.suggested_by_id)
        return person(user) if user else f"account {resource.suggested_by_id}"
    return resource.suggested_by_label


def _value(name: str, value: Any) -> str:
    if value in (None, "", []):
        return "nothing"
    if isinstance(value, list):
        value = ", ".join(label(v) for v in value)
    elif name == "kind" or name in ("cost", "moderation", "state", "decision"):
        value = label(value)
    text = str(value)
    return f"“{text if len(text) <= 80 else text[:77] + '…'}”"


# How a field is named in a sentence, where its form label would read badly.
_IN_PROSE = {
    "url": "address",
    "ios_url": "App Store link",
    "android_url": "Google Play link",
    "phone_numbers": "phone and text numbers",
    "description": "description",
    "languages": "languages",
    "moderation": "moderation",
    "source": "sources of its facts",
    "suggested_by": "suggester",
}


def _field(name: str) -> str:
    return _IN_PROSE.get(name) or FIELD_LABELS.get(name, name.replace("_", " ")).lower()


# How each step of a decision is told (audit actions, and the stage of a "reviewed").
_STEPS = {
    "reviewed": "Recorded a decision",
    "proposed": "Proposed a decision, for a second reviewer to confirm",
    "disagreed": "Disagreed with the proposal, for a third reviewer to settle; would decide",
    Stage.CONFIRMATION.value: "Confirmed the proposed decision",
    Stage.SETTLEMENT.value: "Settled the disagreement with a decision",
}


def happening(event: AuditEvent, people: dict[int, User]) -> Happening:
    if event.actor_id is not None:
        user = people.get(event.actor_id)
        who = person(user) if user else f"account {event.actor_id}"
    else:
        who = (event.actor_label or "someone").capitalize()
    reason = _sentence(event.reason or "")
    changes = event.changes or {}
    if event.action == "state_changed" and "state" in changes:
        old, new = changes["state"]
        what = f"Moved it from {_value('state', old)} to {_value('state', new)}. {reason}"
    elif event.action in _STEPS:
        decision = (changes.get("decision") or [None, None])[1]
        rationale = _sentence(reason.split(": ", 1)[-1])
        step = _STEPS[event.action]
        if event.action == "reviewed":
            step = _STEPS.get((changes.get("stage") or [None, None])[1], step)
        what = f"{step}, {_value('decision', decision)}. {rationale}"
    elif event.action == "proposal_withdrawn":
        what = f"Withdrew the proposed decision. {_sentence(reason.split(': ', 1)[-1])}"
    elif event.action == "edited":
        fields = "; ".join(
            f"{_field(name)} from {_value(name, pair[0])} to {_value(name, pair[1])}"
            for name, pair in changes.items()
        )
        what = f"Changed {fields}. {reason}"
    elif event.action == "reported":
        what = f"Reported a problem: {reason}"
    elif event.action == "report_closed":
        what = f"Closed a report: {reason}"
    elif event.action == "created":
        what = f"Added it to the registry. {reason}"
    else:
        what = _sentence(event.action.replace("_", " ")) + f" {reason}"
    return Happening(aware(event.at), who, what.strip())


def _sentence(text: str) -> str:
    """Return text as a sentence: a capital first, a full stop last (empty stays empty)."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?”" else text + "."


# What a decision rests on: a change to any of these sends a decided entry back to review.
BASIS = {
    "url": "its address",
    "kind": "its kind",
    "ios_url": "its App Store link",
    "android_url": "its Google Play link",
    "phone_numbers": "its phone and text numbers",
}


def send_back_if_basis_changed(
    session: Session,
    resource: Resource,
    changes: dict[str, list[Any]],
    *,
    user: User | None = None,
    actor_label: str | None = None,
) -> str | None:
    """Send a decided entry back to review if what its decision rested on changed; say why."""
    if State(resource.state) not in DECIDED:
        return None
    moved = [
        f"{BASIS[name]} changed from {_value(name, old)} to {_value(name, new)}"
        for name, (old, new) in changes.items()
        if name in BASIS
    ]
    if not moved:
        return None
    rested = "a decision rested on it" if len(moved) == 1 else "the decision rested on them"
    reason = "; ".join([*moved, rested])
    reason = reason[0].upper() + reason[1:] + "."
    change_state(
        session, resource, State.NEEDS_REREVIEW, reason=reason, user=user, actor_label=actor_label
    )
    return reason


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


def start_review(
    session: Session, resource: Resource, *, user: User, seen: Seen | None = None
) -> None:
    """Mark an entry as being reviewed by user, unless it changed since they saw it."""
    require_unchanged(session, resource, seen)
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
    reviewers: int = 1,
    today: date | None = None,
    seen: Seen | None = None,
) -> Review:
    """Record a reviewer's decision, or their step of a two-person one (registry/review/panel.py).

    A decision that stands supersedes the last, sets the review-due date and moves the entry; a
    proposal or a disagreement changes neither, and waits. With `seen` (what the reviewer's
    page showed), raise ChangedMeanwhile if the entry changed.
    """
    if user.role not in (Role.REVIEWER, Role.ADMIN):
        raise LifecycleError("Only reviewers can record a decision.")
    if resource.suggested_by_id is not None and resource.suggested_by_id == user.id:
        raise NotIndependent("You suggested this resource, so another reviewer must decide on it.")
    waiting = panel.pending(session, resource)
    if waiting is not None and user.id == waiting.proposal.reviewer_id:
        raise NotIndependent(
            "You proposed the decision waiting on this entry, so another reviewer must confirm it."
        )
    if waiting is not None and waiting.disagreement and user.id == waiting.disagreement.reviewer_id:
        raise NotIndependent(
            "You disagreed with the proposal on this entry, so a third reviewer settles it."
        )
    require_unchanged(session, resource, seen)
    if not rationale or not rationale.strip():
        raise LifecycleError("Give the rationale for the decision: clinicians will read it.")
    if decision == Decision.RECOMMENDED_WITH_CAUTIONS and not (cautions or "").strip():
        raise LifecycleError("Say what the cautions are, for clinicians to pass on.")
    try:
        checked = rubric.validate(answers, is_forum=resource.kind == "forum")
    except rubric.RubricError as exc:
        raise LifecycleError(str(exc)) from None
    stage = panel.stage_of(waiting, decision.value, reviewers=reviewers)
    if stage == Stage.DISAGREEMENT and waiting and rationale.strip() == waiting.proposal.rationale:
        raise LifecycleError(
            "Say in your own words why you would decide otherwise: the third reviewer reads both "
            "rationales."
        )

    today = today or utcnow().date()
    valid_until = _add_months(today, validity_months)
    previous = status.latest_review(session, resource.id)
    # The newest result by id, not by time: ids follow the order results were stored in,
    # whatever the clocks of the processes that stored them said.
    latest_check = status.latest_result(session, resource.id)
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
        stage=stage.value,
        responds_to_id=waiting.proposal.id if waiting else None,
    )
    session.add(review)
    session.flush()
    if stage.value not in STANDING_STAGES:
        _record_step(session, resource, review, waiting, user=user)
        return review
    before = {"decision": resource.decision, "review_due": resource.review_due}
    resource.decision = decision.value
    resource.decided_at = utcnow()
    resource.review_due = valid_until
    changes = audit.diff(before, {"decision": resource.decision, "review_due": valid_until})
    if waiting is not None:
        changes["stage"] = [None, stage.value]
        changes["answers"] = [None, waiting.proposal.id]
    audit.record(
        session,
        entity="resource",
        entity_id=resource.id,
        action="reviewed",
        changes=changes,
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


def _record_step(
    session: Session,
    resource: Resource,
    review: Review,
    waiting: panel.Pending | None,
    *,
    user: User,
) -> None:
    """Audit a proposal or a disagreement: it changes no decision, and the entry stays put."""
    action = "proposed" if review.stage == Stage.PROPOSAL else "disagreed"
    changes: dict[str, list[Any]] = {"decision": [None, review.decision]}
    if waiting is not None:
        changes["answers"] = [None, waiting.proposal.id]
    audit.record(
        session,
        entity="resource",
        entity_id=resource.id,
        action=action,
        changes=changes,
        reason=f"review {review.id}: {review.rationale}",
        actor_id=user.id,
    )


def withdraw_proposal(
    session: Session, resource: Resource, *, user: User, reason: str, seen: Seen | None = None
) -> Review:
    """Withdraw the proposal waiting on an entry: only its proposer may, with a reason."""
    waiting = panel.pending(session, resource)
    if waiting is None:
        raise LifecycleError("No proposed decision is waiting on this entry.")
    if user.id != waiting.proposal.reviewer_id:
        raise LifecycleError("Only the reviewer who proposed a decision can withdraw it.")
    require_unchanged(session, resource, seen)
    if not reason or not reason.strip():
        raise LifecycleError("Say why you are withdrawing the proposal.")
    return _close_proposal(session, resource, waiting, user=user, reason=reason.strip())


def _close_proposal(
    session: Session, resource: Resource, waiting: panel.Pending, *, user: User, reason: str
) -> Review:
    proposal = waiting.proposal
    closing = Review(
        resource_id=resource.id, reviewer_id=user.id, decision=proposal.decision,
        rationale=reason, rubric={}, valid_until=proposal.valid_until,
        stage=Stage.WITHDRAWN.value, responds_to_id=proposal.id,
    )  # fmt: skip
    session.add(closing)
    session.flush()
    audit.record(
        session, entity="resource", entity_id=resource.id, action="proposal_withdrawn",
        changes={"answers": [None, proposal.id]}, reason=f"review {closing.id}: {reason}",
        actor_id=user.id,
    )  # fmt: skip
    return closing


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
    send_back_if_basis_changed(session, resource, changes, user=user)
    return changes


def _conflict_message() -> str:
    return (
        "Someone else changed this entry while you were editing it. Your changes have not been "
        "saved: they are shown below beside the current version, so you can apply them again."
    )


def retire(
    session: Session, resource: Resource, *, user: User, reason: str, seen: Seen | None = None
) -> None:
    """Retire an entry that is gone for good; it keeps its history."""
    require_unchanged(session, resource, seen)
    waiting = panel.pending(session, resource)
    change_state(session, resource, State.RETIRED, reason=reason, user=user)
    if waiting is not None:  # a retired entry is not decided on: its proposal lapses
        _close_proposal(
            session, resource, waiting, user=user, reason=f"The entry was retired: {reason.strip()}"
        )


def reinstate(
    session: Session, resource: Resource, *, user: User, reason: str, seen: Seen | None = None
) -> None:
    """Bring a retired entry back as user's suggestion, for another reviewer to review afresh."""
    require_unchanged(session, resource, seen)
    before = suggested_by(session, resource)
    change_state(session, resource, State.SUGGESTED, reason=reason, user=user)
    resource.suggested_by_id, resource.suggested_by_label = user.id, None
    session.add(resource)
    audit.record(
        session, entity="resource", entity_id=resource.id, action="edited",
        changes={"suggested_by": [before, person(user)]}, actor_id=user.id,
        reason="whoever reinstates an entry becomes its suggester, so another reviewer decides",
    )  # fmt: skip


def report_problem(
    session: Session,
    resource: Resource,
    *,
    user: User,
    reason: str,
    note: str | None,
    seen: Seen | None = None,
) -> ProblemReport:
    """Record a clinician's report; a decided entry is raised for re-review at once."""
    require_unchanged(session, resource, seen)
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


def commit_unless_changed(
    db: Session, resource: Resource, seen: Seen, action: Callable[[], Any]
) -> Since | None:
    """Do action and commit; if the entry changed meanwhile, save nothing and return what changed.

    A StaleDataError is the same conflict, caught at the last moment: a write that landed
    between this request's read of the entry and its own write. Other LifecycleErrors rise.
    """
    try:
        action()
        db.commit()
    except ChangedMeanwhile as exc:
        db.rollback()
        return exc.since
    except StaleDataError:
        db.rollback()
        return changes_since(db, resource, seen)
    return None

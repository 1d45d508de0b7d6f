"""Two-person decisions: a proposal waits for a second reviewer; a disagreement, for a third.

With REGISTRY_DECISION_REVIEWERS at 2, a first reviewer's decision is a *proposal*. It stands only
when a second reviewer, neither its suggester nor its proposer, *confirms* it with the same
decision (and their own rubric answers where they differ). A second reviewer who would decide
otherwise records a *disagreement*, with their rationale beside the proposer's, and a third
reviewer, none of those, *settles* it. Review rows are history, so every step is a row of its
own: a confirmation, disagreement, settlement or withdrawal names the proposal it answers
(`responds_to_id`), and a proposal is open until a row closes it. Lowering the setting to 1
closes nothing: waiting proposals still wait for another reviewer.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, select

from registry.models import Resource, Review, User
from registry.vocab import STANDING_STAGES, Role, Stage, State

# Who may see a proposal or a disagreement: those who may answer one. Clinicians, like the
# public, see only the decisions that stand.
SEES_PROPOSALS = frozenset({Role.REVIEWER.value, Role.ADMIN.value})

# Rows that close a proposal: it stood, it was overruled by a decision that stands, or it lapsed.
CLOSING = STANDING_STAGES | {Stage.WITHDRAWN.value}


@dataclass(frozen=True)
class Pending:
    """A proposal waiting for a second reviewer, or disputed and waiting for a third."""

    proposal: Review
    disagreement: Review | None = None

    @property
    def awaiting(self) -> str:
        return "a third reviewer" if self.disagreement else "a second reviewer"

    def barred(self) -> set[int]:
        """Return the accounts that may not answer it: its proposer, and who disagreed."""
        ids = {self.proposal.reviewer_id}
        if self.disagreement is not None:
            ids.add(self.disagreement.reviewer_id)
        return ids


def pending_many(session: Session, resources: list[Resource]) -> dict[int, Pending]:
    """Return the open proposal of each entry that has one (never of a retired entry)."""
    ids = [r.id for r in resources if r.id is not None and r.state != State.RETIRED.value]
    if not ids:
        return {}
    proposals = session.exec(
        select(Review)
        .where(Review.resource_id.in_(ids), Review.stage == Stage.PROPOSAL.value)  # type: ignore[attr-defined]
        .order_by(Review.id)  # type: ignore[arg-type]
    ).all()
    newest = {p.resource_id: p for p in proposals}  # the last proposal of each entry wins
    if not newest:
        return {}
    answers = session.exec(
        select(Review).where(Review.responds_to_id.in_([p.id for p in newest.values()]))  # type: ignore[union-attr]
    ).all()
    closed = {a.responds_to_id for a in answers if a.stage in CLOSING}
    disputed = {a.responds_to_id: a for a in answers if a.stage == Stage.DISAGREEMENT.value}
    return {
        resource_id: Pending(proposal, disputed.get(proposal.id))
        for resource_id, proposal in newest.items()
        if proposal.id not in closed
    }


def pending(session: Session, resource: Resource) -> Pending | None:
    """Return the entry's open proposal, if it has one."""
    return pending_many(session, [resource]).get(resource.id)  # type: ignore[arg-type]


def people_of(session: Session, waiting: Iterable[Pending]) -> dict[int, User]:
    """Return the accounts of everyone who proposed or disagreed in waiting, by id."""
    waiting = list(waiting)
    ids = {p.proposal.reviewer_id for p in waiting} | {
        p.disagreement.reviewer_id for p in waiting if p.disagreement
    }
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(User.id.in_(ids)))}  # type: ignore[union-attr,misc]


def stage_of(pending: Pending | None, decision: str, *, reviewers: int) -> Stage:
    """Return what a reviewer's decision is, given what waits and how many reviewers decide."""
    if pending is None:
        return Stage.PROPOSAL if reviewers >= 2 else Stage.DECISION
    if pending.disagreement is not None:
        return Stage.SETTLEMENT
    if decision == pending.proposal.decision:
        return Stage.CONFIRMATION
    # With one reviewer deciding (the setting lowered since), a different decision stands.
    return Stage.DISAGREEMENT if reviewers >= 2 else Stage.DECISION


@dataclass(frozen=True)
class Decided:
    """One step of a decision on an entry, with who took it (and whose proposal it answers)."""

    review: Review
    reviewer: User | None
    proposer: User | None = None  # for an answer to a proposal: who proposed
    disagreed: User | None = None  # for a settlement: who disagreed with the proposal

    @property
    def stands(self) -> bool:
        return self.review.stage in STANDING_STAGES

    @property
    def deciders(self) -> list[User | None]:
        """Return who a standing decision rests on: proposer and confirmer, or the one reviewer."""
        if self.review.stage == Stage.CONFIRMATION.value:
            return [self.proposer, self.reviewer]
        return [self.reviewer]


# Built once (an entry page asks for it every time): every step on an entry with who took it.
_STEPS_TAKEN = (
    select(Review, User)
    .join(User, User.id == Review.reviewer_id, isouter=True)  # type: ignore[arg-type]
    .where(Review.resource_id == bindparam("entry_id"))
    .order_by(Review.id.desc())  # type: ignore[union-attr]
)


def decision_history(session: Session, resource_id: int) -> list[Decided]:
    """Return every step of every decision on an entry, newest first, with who took it."""
    # Each step with who took it, in one query: everyone named in the history took a step of it.
    taken = session.exec(_STEPS_TAKEN, params={"entry_id": resource_id}).all()
    rows = [review for review, _ in taken]
    people = {user.id: user for _, user in taken if user is not None}
    by_id = {r.id: r for r in rows}
    disagreements = {
        r.responds_to_id: r
        for r in rows
        if r.stage == Stage.DISAGREEMENT.value and r.responds_to_id
    }

    def step(review: Review) -> Decided:
        proposal = by_id.get(review.responds_to_id) if review.responds_to_id else None
        disagreement = disagreements.get(proposal.id) if proposal else None
        return Decided(
            review,
            people.get(review.reviewer_id),
            proposer=people.get(proposal.reviewer_id) if proposal else None,
            disagreed=(
                people.get(disagreement.reviewer_id)
                if disagreement and review.stage == Stage.SETTLEMENT.value
                else None
            ),
        )

    return [step(review) for review in rows]


def standing_many(session: Session, reviews: dict[int, Review]) -> dict[int, Decided]:
    """Return each standing review with who it rests on, keyed like reviews (by entry)."""
    proposal_ids = {r.responds_to_id for r in reviews.values() if r.responds_to_id}
    proposals = {
        p.id: p
        for p in session.exec(select(Review).where(Review.id.in_(proposal_ids)))  # type: ignore[union-attr]
    }
    ids = {r.reviewer_id for r in reviews.values()} | {p.reviewer_id for p in proposals.values()}
    people = {u.id: u for u in session.exec(select(User).where(User.id.in_(ids)))}  # type: ignore[union-attr]
    out = {}
    for key, review in reviews.items():
        proposal = proposals.get(review.responds_to_id) if review.responds_to_id else None
        out[key] = Decided(
            review,
            people.get(review.reviewer_id),
            proposer=people.get(proposal.reviewer_id) if proposal else None,
        )
    return out

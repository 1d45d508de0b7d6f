"""Who sees what: one policy for the pages, the API, the exports, search and the filter counts.

The public (no account) sees decided entries — recommended and recommended with cautions by
default, not recommended on request — and decided entries under re-review, under the decision
that stands. Suggested, in-review and retired entries, and counts of them, are for staff (every
signed-in role). Everything here is a rule over an entry's (state, standing decision); search
turns a rule into SQL (``where``) and the filter counts apply the same rule to the entries'
bitmaps (registry/facets.py), so the two cannot disagree.
"""

from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_, true

from registry.models import Resource
from registry.vocab import State


class Audience(StrEnum):
    """Who is asking: the public, or a member of staff (any role)."""

    PUBLIC = "public"
    STAFF = "staff"


# What "status" means to a clinician. An entry under re-review counts under needs_rereview and
# under the status of the decision that stands, so a filter by decision still finds it.
STATUSES: tuple[str, ...] = (
    "recommended",
    "recommended_with_cautions",
    "not_recommended",
    "needs_rereview",
    "unreviewed",
    "retired",
)
DECISIONS = frozenset(
    {State.RECOMMENDED.value, State.RECOMMENDED_WITH_CAUTIONS.value, State.NOT_RECOMMENDED.value}
)
RECOMMENDING = frozenset({State.RECOMMENDED.value, State.RECOMMENDED_WITH_CAUTIONS.value})
DEFAULT_STATUSES = frozenset(RECOMMENDING)
ALL_LIVE_STATUSES = frozenset(STATUSES) - {"retired"}
# Statuses the public may ask for besides the default ones; the rest are staff's.
ON_REQUEST = frozenset({State.NOT_RECOMMENDED.value, State.NEEDS_REREVIEW.value})
PUBLIC_STATUSES = DEFAULT_STATUSES | ON_REQUEST
STAFF_ONLY_STATUSES = frozenset(STATUSES) - PUBLIC_STATUSES

Rule = Callable[[str, str | None], bool]


def audience(signed_in: bool) -> Audience:
    """Return the audience of a request: staff when someone is signed in (or holds a token)."""
    return Audience.STAFF if signed_in else Audience.PUBLIC


def standing(state: str, decision: str | None) -> str | None:
    """Return the decision that stands for an entry (kept under re-review), else None."""
    if state in DECISIONS:
        return state
    if state == State.NEEDS_REREVIEW.value and decision in DECISIONS:
        return decision
    return None


def statuses_of(state: str, decision: str | None) -> frozenset[str]:
    """Return the statuses an entry counts under in the status filter."""
    if state in (State.SUGGESTED.value, State.IN_REVIEW.value):
        return frozenset({"unreviewed"})
    if state == State.NEEDS_REREVIEW.value:
        return frozenset({"needs_rereview"} | ({decision} if decision in DECISIONS else set()))
    return frozenset({state})


def is_visible(
    who: Audience, state: str, decision: str | None, *, asked: Iterable[str] = STATUSES
) -> bool:
    """Return whether who may see an entry, when asking for the statuses asked.

    Staff see everything. The public sees what is recommended (with or without cautions, also
    under re-review), and what is not recommended only when not_recommended is asked for.
    """
    if who is Audience.STAFF:
        return True
    decided = standing(state, decision)
    if decided in RECOMMENDING:
        return True
    return decided == State.NOT_RECOMMENDED.value and "not_recommended" in set(asked)


def may_open(who: Audience, resource: Resource) -> bool:
    """Return whether who may open an entry's page (opening it is asking for it)."""
    return is_visible(who, resource.state, resource.decision)


def may_hand_out(resource: Resource) -> bool:
    """Return whether an entry may be printed for a client: its standing decision recommends it."""
    return standing(resource.state, resource.decision) in RECOMMENDING


def review_overdue(resource: Resource, *, today: date) -> bool:
    """Return whether a decided entry's review-due date has passed."""
    due = resource.review_due
    return (
        due is not None and due < today and standing(resource.state, resource.decision) is not None
    )


def shown_rule(who: Audience, statuses: Iterable[str]) -> Rule:
    """Return the rule for the entries a filter by statuses shows to who."""
    chosen = frozenset(statuses)

    def rule(state: str, decision: str | None) -> bool:
        return bool(statuses_of(state, decision) & chosen) and is_visible(
            who, state, decision, asked=chosen
        )

    return rule


def option_rule(who: Audience, status: str, chosen: Iterable[str]) -> Rule:
    """Return the rule for the entries one status option adds to a filter by chosen statuses."""
    asked = frozenset(chosen) | {status}

    def rule(state: str, decision: str | None) -> bool:
        return status in statuses_of(state, decision) and is_visible(
            who, state, decision, asked=asked
        )

    return rule


def decided_rule(state: str, decision: str | None) -> bool:
    """The rule for entries with a standing decision (what the public may see at all)."""
    return standing(state, decision) is not None


def public_default_rule(state: str, decision: str | None) -> bool:
    """The rule for what the public sees by default (the open data, the handout's entries)."""
    return shown_rule(Audience.PUBLIC, DEFAULT_STATUSES)(state, decision)


# Every decision an entry can have: a rule is turned into SQL by trying it on each.
_DECISION_VALUES: tuple[str | None, ...] = (None, *sorted(DECISIONS))


def where(rule: Rule) -> ColumnElement[bool]:
    """Return rule as a SQL condition on Resource (state, decision)."""
    clauses: list[ColumnElement[bool]] = []
    whole_states = []
    for state in State:
        passing = [d for d in _DECISION_VALUES if rule(state.value, d)]
        if len(passing) == len(_DECISION_VALUES):
            whole_states.append(state.value)
        elif passing:
            named = [d for d in passing if d is not None]
            either = [Resource.decision.in_(named)] if named else []  # type: ignore[union-attr]
            if None in passing:
                either.append(Resource.decision.is_(None))  # type: ignore[union-attr]
            clauses.append(and_(Resource.state == state.value, or_(*either)))
    if whole_states:
        clauses.insert(0, Resource.state.in_(whole_states))  # type: ignore[attr-defined]
    if not clauses:
        return false()
    if len(clauses) == len(State) and len(whole_states) == len(State):
        return true()
    return or_(*clauses)

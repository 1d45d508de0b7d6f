"""What the API answers: entries with their decision and latest check, and check reports."""

from datetime import date, datetime
from typing import Any

from registry.db import aware
from registry.entries.services import snapshot
from registry.models import CheckResult, Resource, Review, User
from registry.review.panel import Decided, Pending


def _instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return aware(moment).isoformat()


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def report(result: CheckResult) -> dict[str, Any]:
    """Return a stored check result as the report of the contract (DESIGN.md)."""
    stored = dict(result.report or {})
    parts = {
        part: {**(stored.get(part) or {}), "status": status}
        for part, status in (("liveness", result.liveness_status),
                             ("https", result.https_status), ("privacy", result.privacy_status))
    }  # fmt: skip
    return {
        **stored,
        "url": stored.get("url") or result.url,
        "final_url": stored.get("final_url", result.final_url),
        "checked_at": stored.get("checked_at") or _instant(result.checked_at),
        "verdict": result.verdict,
        **parts,
    }


def reviewer_name(user: User | None, *, staff: bool) -> str:
    """Name a reviewer: to staff by name or email, to the public by name or as a reviewer."""
    if user is not None and user.name:
        return user.name
    return user.email if user is not None and staff else "a registry reviewer"


# What a reviewer of a standing decision did, as the API says it.
REVIEWER_ROLES = ("decided", "proposed", "confirmed", "settled")
# What each reviewer of a standing decision did, by the stage of the row that stands.
_ROLES = {"confirmation": ("proposed", "confirmed"), "settlement": ("proposed", "settled")}


def _decision(step: Decided | None, *, staff: bool) -> dict[str, Any] | None:
    if step is None:
        return None
    review = step.review
    proposed, final = _ROLES.get(review.stage, (None, "decided"))
    reviewers = [{"name": reviewer_name(step.reviewer, staff=staff), "role": final}]
    if review.stage == "confirmation":
        reviewers.insert(0, {"name": reviewer_name(step.proposer, staff=staff), "role": proposed})
    return {
        "status": "standing",
        "decision": review.decision,
        "decided_at": _instant(review.created_at),
        "rationale": review.rationale,
        "cautions": review.cautions,
        "review_due": _day(review.valid_until),
        "reviewers": reviewers,
    }


def _step(review: Review, people: dict[int, User]) -> dict[str, Any]:
    return {
        "decision": review.decision,
        "at": _instant(review.created_at),
        "by": reviewer_name(people.get(review.reviewer_id), staff=True),
        "rationale": review.rationale,
        "cautions": review.cautions,
    }


def proposal_json(pending: Pending | None, people: dict[int, User]) -> dict[str, Any] | None:
    """Return a proposal waiting on an entry, for staff: it does not stand, and may never."""
    if pending is None:
        return None
    return {
        "status": "disputed" if pending.disagreement else "proposed",
        "awaiting": "third_reviewer" if pending.disagreement else "second_reviewer",
        **_step(pending.proposal, people),
        "disagreement": _step(pending.disagreement, people) if pending.disagreement else None,
    }


def entry_json(
    resource: Resource,
    step: Decided | None,
    check: CheckResult | None,
    *,
    staff: bool = False,
    proposals: bool = False,
    proposal: dict[str, Any] | None = None,
) -> dict:
    """Return an entry with its standing decision and latest check; to reviewers, what waits.

    staff names reviewers by email when they have no name; proposals adds `proposal`.
    """
    facts = snapshot(resource)
    entry = {
        "id": resource.id,
        **facts,
        "state": resource.state,
        "review_due": _day(resource.review_due),
        "decision": _decision(step, staff=staff),
        "latest_check": report(check) if check else None,
    }
    if proposals:
        entry["proposal"] = proposal
    return entry

"""What the API answers: entries with their decision and latest check, and check reports."""

from datetime import date, datetime
from typing import Any

from registry.db import aware
from registry.entries.services import snapshot
from registry.models import CheckResult, Resource, Review


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


def _decision(review: Review | None) -> dict[str, Any] | None:
    if review is None:
        return None
    return {
        "decision": review.decision,
        "decided_at": _instant(review.created_at),
        "rationale": review.rationale,
        "cautions": review.cautions,
        "review_due": _day(review.valid_until),
    }


def entry_json(resource: Resource, review: Review | None, check: CheckResult | None) -> dict:
    """Return an entry with its standing decision and its latest check."""
    facts = snapshot(resource)
    return {
        "id": resource.id,
        **facts,
        "state": resource.state,
        "review_due": _day(resource.review_due),
        "decision": _decision(review),
        "latest_check": report(check) if check else None,
    }

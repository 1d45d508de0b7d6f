"""The rules that send a decided entry back to reviewers when its checks go bad."""

import ipaddress
from urllib.parse import urlsplit

from sqlmodel import Session, select

from registry import review
from registry.models import CheckResult, Resource
from registry.vocab import State

ACTOR = "nightly check"
DECIDED = frozenset(state.value for state in review.DECIDED)
# Second-level labels under which a name is registered one level down (nhs.uk, mind.org.uk).
_SECOND_LEVEL = frozenset(
    {"ac", "co", "com", "gov", "ltd", "me", "net", "nhs", "org", "plc", "sch"}
)
_POLICY_GONE = frozenset({"missing", "unreachable"})
_POLICY_KNOWN = frozenset({"found", *_POLICY_GONE})


def site_of(url: str | None) -> str:
    """Return the registered domain of a URL ('www.mind.org.uk' -> 'mind.org.uk')."""
    host = (urlsplit(url or "").hostname or "").rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def _earlier(session: Session, result: CheckResult):
    """Return a statement for the entry's results before this one, newest first."""
    return (
        select(CheckResult)
        .where(CheckResult.resource_id == result.resource_id, CheckResult.id < result.id)
        .order_by(CheckResult.id.desc())
    )


def failure_streak(session: Session, resource: Resource, *, limit: int) -> int:
    """Count the entry's latest results that failed in a row (up to limit), since its decision."""
    query = select(CheckResult.verdict).where(CheckResult.resource_id == resource.id)
    # A reviewer who decides again while the site still fails starts the count afresh.
    standing = review.latest_review(session, resource.id)
    if standing is not None:
        # Ids say what came after the decision whatever the clocks of the web server and the
        # check job said: the count starts after the result the reviewer saw.
        query = query.where(CheckResult.id > (standing.check_result_id or 0))
    elif resource.decided_at is not None:  # a decision set without a review
        query = query.where(CheckResult.checked_at > resource.decided_at)
    verdicts = session.exec(query.order_by(CheckResult.id.desc()).limit(limit)).all()
    streak = 0
    for verdict in verdicts:
        if verdict != "fail":
            break
        streak += 1
    return streak


def reasons_to_raise(
    session: Session, resource: Resource, result: CheckResult, *, threshold: int
) -> list[str]:
    """Say why this result should send the entry back to reviewers (empty: it should not)."""
    reasons = []
    streak = failure_streak(session, resource, limit=threshold)
    if streak >= threshold:
        reasons.append(f"its checks failed on {streak} runs in a row ({result.liveness_status})")

    previous = session.exec(_earlier(session, result).limit(1)).first()
    before = site_of(previous.final_url or previous.url) if previous else site_of(resource.url)
    now = site_of(result.final_url or result.url)
    if before and now and before != now:
        reasons.append(f"it moved to another domain: {before} now leads to {result.final_url}")

    if result.privacy_status in _POLICY_KNOWN:
        known = session.exec(
            _earlier(session, result)
            .where(CheckResult.privacy_status.in_(_POLICY_KNOWN))  # type: ignore[attr-defined]
            .limit(1)
        ).first()
        if known is not None and known.privacy_status == "found":
            if result.privacy_status in _POLICY_GONE:
                reasons.append(f"its privacy policy disappeared ({result.privacy_status})")
            elif (
                known.policy_fingerprint
                and result.policy_fingerprint
                and known.policy_fingerprint != result.policy_fingerprint
            ):
                reasons.append("its privacy policy changed")
    return reasons


def apply(
    session: Session, resource: Resource, result: CheckResult, *, threshold: int
) -> str | None:
    """Send a decided entry to needs_rereview if this result calls for it; return the reason."""
    if resource.state not in DECIDED:
        return None  # undecided entries are in front of reviewers already; retired ones are gone
    reasons = reasons_to_raise(session, resource, result, threshold=threshold)
    if not reasons:
        return None
    reason = "; ".join(reasons)
    # The lifecycle's own rule book, so the nightly job and the pages cannot disagree.
    review.change_state(
        session,
        resource,
        State.NEEDS_REREVIEW,
        reason=reason[0].upper() + reason[1:] + ".",
        actor_label=ACTOR,
    )
    return reason

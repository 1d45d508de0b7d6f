"""The rules that send a decided entry back to reviewers when its checks go bad."""

import functools
import ipaddress
import re
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList
from sqlmodel import Session, select

from registry.entries import status
from registry.models import CheckResult, CheckRun, PolicyText, Resource
from registry.review import lifecycle as review
from registry.vocab import FULL_RUN_TRIGGERS, State

ACTOR = "nightly check"
DECIDED = frozenset(state.value for state in review.DECIDED)
_POLICY_GONE = frozenset({"missing", "unreachable"})
_POLICY_KNOWN = frozenset({"found", *_POLICY_GONE})
# "www." (and www2., www3.) names the same site as the name without it.
_WWW = re.compile(r"^www\d*\.")


@functools.cache
def _suffixes() -> PublicSuffixList:
    # The list shipped inside the package: nothing is fetched at run time.
    return PublicSuffixList()


def site_of(url: str | None) -> str:
    """Return the site a URL belongs to: its registrable domain by the Public Suffix List.

    'www.mind.org.uk' -> 'mind.org.uk'; 'www.nhs.uk' -> 'nhs.uk' (itself a public suffix, so
    the name is the site); 'a.github.io' and 'b.github.io' are two sites.
    """
    host = (urlsplit(url or "").hostname or "").rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    if host.count(".") >= 2:
        host = _WWW.sub("", host)
    return _suffixes().privatesuffix(host) or host


def _earlier(result: CheckResult):
    """Return a statement for the entry's results before this one, newest first."""
    return (
        select(CheckResult)
        .where(CheckResult.resource_id == result.resource_id, CheckResult.id < result.id)
        .order_by(CheckResult.id.desc())
    )


def failure_streak(session: Session, resource: Resource, *, limit: int) -> int:
    """Count the nights in a row (up to limit) the entry's checks failed, since its decision.

    Only whole runs count (the schedule, or `registry check` over the whole registry): a hand
    check of one entry or the background check of a suggestion informs, but is not a night.
    """
    query = (
        select(CheckResult.verdict)
        .join(CheckRun, CheckRun.id == CheckResult.run_id)  # type: ignore[arg-type]
        .where(
            CheckResult.resource_id == resource.id,
            CheckRun.trigger.in_(FULL_RUN_TRIGGERS),  # type: ignore[attr-defined]
        )
    )
    # A reviewer who decides again while the site still fails starts the count afresh.
    standing = status.latest_review(session, resource.id)
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


def _moved(session: Session, resource: Resource, result: CheckResult) -> str | None:
    """Say where the entry moved, if its address now leads to another site than its own."""
    own, now = site_of(resource.url), site_of(result.final_url or result.url)
    if not own or not now or own == now:
        return None
    # Told once: not again if the reviewer decided knowing it (or the last check showed it).
    standing = status.latest_review(session, resource.id)
    seen_id = standing.check_result_id if standing is not None else None
    if seen_id is not None:
        seen = session.get(CheckResult, seen_id)
    else:
        seen = session.exec(_earlier(result).limit(1)).first()
    if seen is not None and site_of(seen.final_url or seen.url) == now:
        return None
    return f"it moved to another site: {own} now leads to {result.final_url}"


def _policy_reason(session: Session, result: CheckResult) -> str | None:
    """Say how the privacy policy went bad since the last check that knew, if it did."""
    if result.privacy_status not in _POLICY_KNOWN:
        return None  # not checked this time: nothing to compare
    known = session.exec(
        _earlier(result)
        .where(CheckResult.privacy_status.in_(_POLICY_KNOWN))  # type: ignore[attr-defined]
        .limit(1)
    ).first()
    if known is None or known.privacy_status != "found":
        return None
    if result.privacy_status in _POLICY_GONE:
        return f"its privacy policy disappeared ({result.privacy_status})"
    if result.policy_fingerprint is None:
        return None  # the policy's text was not read whole this time: not compared
    # Compared with the last policy text the registry kept that was fingerprinted the same way: a
    # fingerprint of an older kind (or of a read cut short) is never compared, so a change of
    # method raises nothing and the first check after it is the new baseline.
    before = session.exec(
        _earlier(result)
        .join(PolicyText, PolicyText.fingerprint == CheckResult.policy_fingerprint)  # type: ignore[arg-type]
        .where(
            CheckResult.privacy_status == "found",
            CheckResult.policy_scheme == result.policy_scheme,
        )
        .limit(1)
    ).first()
    if before is not None and before.policy_fingerprint != result.policy_fingerprint:
        return "its privacy policy changed"
    return None


# A fall in the policy's Flesch reading ease this large since the decision is a policy change:
# ten points is a band of the scale (from "plain English" to "fairly difficult", say).
READING_DROP = 10.0


def _reading_ease(result: CheckResult | None) -> float | None:
    score = (((result.report or {}).get("privacy") or {}) if result else {}).get("reading_ease")
    return float(score) if isinstance(score, int | float) else None


def _harder_to_read(session: Session, resource: Resource, result: CheckResult) -> str | None:
    """Say how much harder the policy became to read since the decision, if clearly."""
    now = _reading_ease(result)
    decided = status.latest_review(session, resource.id)
    if now is None or decided is None or decided.check_result_id is None:
        return None
    then = _reading_ease(session.get(CheckResult, decided.check_result_id))
    if then is None or then - now < READING_DROP:
        return None
    return f"its privacy policy became harder to read (reading ease {then:g}, now {now:g})"


def reasons_to_raise(
    session: Session, resource: Resource, result: CheckResult, *, threshold: int
) -> list[str]:
    """Say why this result should send the entry back to reviewers (empty: it should not)."""
    reasons = []
    streak = failure_streak(session, resource, limit=threshold)
    if streak >= threshold:
        # What failed, in words: the site's state, or what else failed while it was up.
        found = status.problems(result) if result.liveness_status == "up" else []
        what = found[0][:1].lower() + found[0][1:] if found else result.liveness_status
        reasons.append(f"its checks failed on {streak} nights in a row ({what})")
    for reason in (
        _moved(session, resource, result),
        _policy_reason(session, result),
        _harder_to_read(session, resource, result),
    ):
        if reason:
            reasons.append(reason)
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

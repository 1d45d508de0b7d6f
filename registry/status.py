"""What clinicians need at a glance: the standing review and the latest checks, in words."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from registry.db import aware
from registry.models import CheckResult, Review


def latest_reviews(session: Session, ids: list[int]) -> dict[int, Review]:
    """Return the standing review of each entry in ids that has one."""
    if not ids:
        return {}
    newest = (
        select(func.max(Review.id))
        .where(Review.resource_id.in_(ids))  # type: ignore[attr-defined]
        .group_by(Review.resource_id)
    )
    return {r.resource_id: r for r in session.exec(select(Review).where(Review.id.in_(newest)))}  # type: ignore[union-attr]


def latest_checks(session: Session, ids: list[int]) -> dict[int, CheckResult]:
    """Return the most recent check result of each entry in ids that has one."""
    if not ids:
        return {}
    newest = (
        select(func.max(CheckResult.id))
        .where(CheckResult.resource_id.in_(ids))  # type: ignore[attr-defined]
        .group_by(CheckResult.resource_id)
    )
    rows = session.exec(select(CheckResult).where(CheckResult.id.in_(newest)))  # type: ignore[union-attr]
    return {r.resource_id: r for r in rows}


# A certificate expiring sooner than this is a warning, as the checker says by default.
CERT_WARN_DAYS = 14


@dataclass(frozen=True)
class Line:
    """One check in words: what was checked, what was found, and whether that is good."""

    topic: str
    finding: str
    ok: bool


_LIVENESS = {
    "up": "Online",
    "down": "Not working: the site answers with an error",
    "unreachable": "Could not be reached",
    "blocked": "The site turned the automatic check away; a person needs to look",
    "parked": "The address now shows a domain-parking or for-sale page",
    "soft_404": "The page now says it cannot be found",
}
_HTTPS = {
    "ok": "Secure connection (HTTPS)",
    "no_https": "No secure connection (no HTTPS)",
    "cert_expired": "Its security certificate has expired",
    "cert_untrusted": "Its security certificate is not trusted",
    "hostname_mismatch": "Its security certificate is for a different site",
    "tls_error": "Its secure connection failed",
}
_PRIVACY = {
    "found": "Has a privacy policy",
    "missing": "No privacy policy could be found",
    "unreachable": "Its privacy policy link is broken",
    "not_checked": "Privacy policy not checked (the site could not be read)",
}


def _cert_days(result: CheckResult) -> int | None:
    return ((result.report or {}).get("https") or {}).get("cert_days_left")


def lines(result: CheckResult) -> list[Line]:
    """Return a check result as three plain findings, each with whether it is good."""
    days = _cert_days(result)
    secure = _HTTPS.get(result.https_status, result.https_status)
    expiring = result.https_status == "ok" and days is not None and days < CERT_WARN_DAYS
    if expiring:
        secure = f"Secure connection, but its certificate expires in {max(days, 0)} days"
    return [
        Line("Online", _LIVENESS.get(result.liveness_status, result.liveness_status),
             result.liveness_status == "up"),
        Line("Secure", secure, result.https_status == "ok" and not expiring),
        Line("Privacy", _PRIVACY.get(result.privacy_status, result.privacy_status),
             result.privacy_status == "found"),
    ]  # fmt: skip


def problems(result: CheckResult) -> list[str]:
    """Return what a result found wrong, in plain words (empty when it passed)."""
    report = result.report or {}
    if result.liveness_status != "up":
        words = _LIVENESS.get(result.liveness_status, result.liveness_status)
        status = (report.get("liveness") or {}).get("http_status")
        if result.liveness_status == "down" and status:
            words += f" (HTTP {status})"
        return [words]  # the rest could not be judged
    found = [line.finding for line in lines(result) if not line.ok and line.topic != "Online"]
    if (report.get("https") or {}).get("redirects_http_to_https") is False:
        found.append("It does not send visitors to its secure (HTTPS) address")
    return found


def _when(result: CheckResult) -> str:
    checked = aware(result.checked_at)
    return f"{checked.day} {checked:%B %Y}"


def _joined(findings: list[str]) -> str:
    return "; ".join(f[:1].lower() + f[1:] for f in findings)


def summary(result: CheckResult | None) -> str:
    """Say in one sentence what an entry's latest check found."""
    if result is None:
        return "Not checked yet."
    found = problems(result)
    if result.verdict == "pass" or not found:
        return (
            f"Passed the automatic check on {_when(result)}: online, secure, with a privacy policy."
        )
    what = "Failed" if result.verdict == "fail" else "Passed with warnings"
    return f"{what} the automatic check on {_when(result)}: {_joined(found)}."


def caution(result: CheckResult | None) -> str | None:
    """Return the caution to show at once when the latest check failed, else None."""
    if result is None or result.verdict != "fail":
        return None
    return f"At the last automatic check ({_when(result)}): {_joined(problems(result))}."

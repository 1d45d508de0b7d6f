"""What changed in an entry's privacy policy: the texts the checks kept, compared line by line."""

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from registry.models import CheckResult, PolicyText

MAX_LINES = 200  # of a diff shown on a page; a rewrite of a whole policy says so instead


@dataclass(frozen=True)
class PolicyChange:
    """One change of an entry's policy text: when the checks saw it, and the lines that changed."""

    checked_at: datetime
    policy_url: str | None
    removed: list[str]
    added: list[str]
    truncated: bool = False


def _diff(before: str, after: str) -> tuple[list[str], list[str], bool]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- ") and line[2:].strip():
            removed.append(line[2:])
        elif line.startswith("+ ") and line[2:].strip():
            added.append(line[2:])
    cut = len(removed) + len(added) > MAX_LINES
    return removed[: MAX_LINES // 2], added[: MAX_LINES // 2], cut


def changes(session: Session, resource_id: int, *, after_result_id: int = 0) -> list[PolicyChange]:
    """Return the changes of an entry's policy text seen after a result, newest first."""
    rows = session.exec(
        select(CheckResult, PolicyText.text)
        .join(PolicyText, PolicyText.fingerprint == CheckResult.policy_fingerprint)  # type: ignore[arg-type]
        .where(CheckResult.resource_id == resource_id, CheckResult.privacy_status == "found")
        .order_by(CheckResult.id)  # type: ignore[arg-type]
    ).all()
    found: list[PolicyChange] = []
    previous: tuple[CheckResult, str] | None = None
    for result, text in rows:
        # Only fingerprints taken the same way are compared (see checks.FINGERPRINT_SCHEME).
        if (
            previous is not None
            and previous[0].policy_scheme == result.policy_scheme
            and previous[0].policy_fingerprint != result.policy_fingerprint
            and result.id > after_result_id
        ):
            removed, added, cut = _diff(previous[1], text)
            url = ((result.report or {}).get("privacy") or {}).get("policy_url")
            found.append(PolicyChange(result.checked_at, url, removed, added, cut))
        previous = (result, text)
    return list(reversed(found))

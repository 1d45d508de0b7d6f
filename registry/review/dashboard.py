"""The reviewers' dashboard: entries by trouble, from the latest check results and states."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, select

from registry.entries.status import CERT_WARN_DAYS, latest_results, problems
from registry.models import CheckRun, Resource
from registry.review.queue import entered_state
from registry.vocab import State


@dataclass
class Trouble:
    """One entry in trouble, and what the trouble is."""

    resource: Resource
    what: str
    since: object = None


@dataclass
class Dashboard:
    failing: list[Trouble] = field(default_factory=list)
    raised: list[Trouble] = field(default_factory=list)
    expiring: list[Trouble] = field(default_factory=list)
    warning: list[Trouble] = field(default_factory=list)
    last_run: CheckRun | None = None


def build(session: Session) -> Dashboard:
    """Sort the live entries into the kinds of trouble reviewers act on."""
    board = Dashboard()
    entries = {
        r.id: r for r in session.exec(select(Resource).where(Resource.state != State.RETIRED.value))
    }
    for result in session.exec(latest_results()).all():
        entry = entries.get(result.resource_id)
        if entry is None:
            continue
        found = "; ".join(problems(result))
        if result.verdict == "fail":
            board.failing.append(Trouble(entry, found, result.checked_at))
        elif result.verdict == "warn":
            board.warning.append(Trouble(entry, found, result.checked_at))
        days = ((result.report or {}).get("https") or {}).get("cert_days_left")
        if result.https_status == "cert_expired" or (
            result.https_status == "ok" and days is not None and days < CERT_WARN_DAYS
        ):
            what = "expired" if result.https_status == "cert_expired" else f"expires in {days} days"
            board.expiring.append(Trouble(entry, f"Certificate {what}", result.checked_at))
    for entry in entries.values():
        if entry.state == State.NEEDS_REREVIEW.value:
            why = entered_state(session, entry)
            board.raised.append(
                Trouble(
                    entry, why.reason if why else "raised for re-review", why.at if why else None
                )
            )
    for group in (board.failing, board.raised, board.expiring, board.warning):
        group.sort(key=lambda t: t.resource.name.lower())
    board.last_run = session.exec(select(CheckRun).order_by(CheckRun.id.desc())).first()
    return board


def history_chart(results: Sequence, *, width: int = 300, height: int = 40) -> str:
    """Return an inline SVG bar chart of check results, oldest left, coloured by verdict.

    Each result needs only its verdict and checked_at: a CheckResult or a row of status.history.
    """
    from markupsafe import escape

    colours = {"pass": "#007f3b", "warn": "#ffb81c", "fail": "#d5281b"}
    heights = {"pass": 1.0, "warn": 0.66, "fail": 0.33}
    slots = 30
    bar = width / slots
    counts = {v: sum(1 for r in results if r.verdict == v) for v in colours}
    label = (
        f"The last {len(results)} automatic checks, oldest first: {counts['pass']} passed, "
        f"{counts['warn']} with warnings, {counts['fail']} failed."
    )
    parts = [
        f'<svg class="registry-chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="0" y="{height - 1}" width="{width}" height="1" fill="#768692"/>',
    ]
    for i, result in enumerate(results[-slots:]):
        h = (height - 2) * heights.get(result.verdict, 0.33)
        when = result.checked_at.strftime("%-d %b %Y %H:%M")
        parts.append(
            f'<rect x="{i * bar + 1:.1f}" y="{height - 1 - h:.1f}" width="{bar - 2:.1f}" '
            f'height="{h:.1f}" fill="{colours.get(result.verdict, "#768692")}">'
            f"<title>{escape(when)}: {escape(result.verdict)}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)

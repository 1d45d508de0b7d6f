"""The reviewers' digest: one email after a check run, listing what went bad and what recovered."""

import html
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlmodel import Session, select

from registry.db import aware, utcnow
from registry.entries import status
from registry.models import AuditEvent, CheckResult, CheckRun, Resource, User
from registry.review import lifecycle as review
from registry.review import transitions
from registry.vocab import Role

log = logging.getLogger(__name__)
_RANK = {"pass": 0, "warn": 1, "fail": 2}
# Who sends entries back during a run: its checks, and the expiry of reviews.
RAISED_BY = (transitions.ACTOR, review.EXPIRY_ACTOR)


@dataclass
class Item:
    """One entry in the digest: its name, a link to its page, and what happened."""

    resource_id: int
    name: str
    link: str
    detail: str


@dataclass
class Digest:
    """What one run changed: entries sent back to reviewers, gone bad, and recovered."""

    run: CheckRun
    raised: list[Item] = field(default_factory=list)
    went_bad: list[Item] = field(default_factory=list)
    recovered: list[Item] = field(default_factory=list)
    # New since the result before: a store version, an app gone stale, a tracker on the page.
    noticed: list[Item] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.raised or self.went_bad or self.recovered or self.noticed)

    def sections(self) -> list[tuple[str, list[Item]]]:
        return [
            ("Sent back to reviewers", self.raised),
            ("Went bad", self.went_bad),
            ("Recovered", self.recovered),
            ("New since the last check", self.noticed),
        ]


def _trackers(result: CheckResult) -> list[str] | None:
    """Return the trackers' names a result found; None when it could not tell."""
    found = ((result.report or {}).get("privacy") or {}).get("trackers")
    if not isinstance(found, list):
        return None
    return [t["name"] for t in found if isinstance(t, dict) and isinstance(t.get("name"), str)]


def noticed(before: CheckResult | None, result: CheckResult, *, stale_months: int) -> list[str]:
    """Say what a result shows that the one before did not: versions, staleness, trackers."""
    if before is None:
        return []
    found = [
        words.replace("reviewed version", "was version")
        for words in status.new_versions(before, result)
    ]
    was_stale = status.stale_listings(before, months=stale_months)
    found += [s for s in status.stale_listings(result, months=stale_months) if s not in was_stale]
    known, now = _trackers(before), _trackers(result)
    if known is not None and now is not None:
        new = [name for name in dict.fromkeys(now) if name not in known]
        if new:
            found.append(f"its pages now load {', '.join(new)}")
    return found


def entry_link(base_url: str, resource_id: int) -> str:
    """Return the address of an entry's page."""
    return f"{base_url.rstrip('/')}/resources/{resource_id}"


def collect(session: Session, run: CheckRun, *, base_url: str, stale_months: int = 12) -> Digest:
    """List what the run sent back to reviewers, then compare each result with the one before."""
    digest = Digest(run=run)
    finished = aware(run.finished_at) if run.finished_at else utcnow()
    raised = session.exec(
        select(AuditEvent, Resource.name)
        .join(Resource, Resource.id == AuditEvent.entity_id)  # type: ignore[arg-type]
        .where(
            AuditEvent.entity == "resource",
            AuditEvent.actor_label.in_(RAISED_BY),  # type: ignore[union-attr]
            AuditEvent.action == "state_changed",
            AuditEvent.at >= run.started_at,
            AuditEvent.at <= finished,
        )
        .order_by(Resource.name, AuditEvent.id)
    ).all()
    for event, name in raised:
        link = entry_link(base_url, event.entity_id)
        digest.raised.append(Item(event.entity_id, name, link, event.reason or ""))
    raised_ids = {item.resource_id for item in digest.raised}
    rows = session.exec(
        select(CheckResult, Resource.name)
        .join(Resource, Resource.id == CheckResult.resource_id)  # type: ignore[arg-type]
        .where(CheckResult.run_id == run.id)
        .order_by(Resource.name)
    ).all()
    for result, name in rows:
        if result.resource_id in raised_ids:
            continue
        link = entry_link(base_url, result.resource_id)
        previous = session.exec(
            select(CheckResult)
            .where(CheckResult.resource_id == result.resource_id, CheckResult.id < result.id)
            .order_by(CheckResult.id.desc())  # type: ignore[attr-defined]
            .limit(1)
        ).first()
        before = previous.verdict if previous else None
        news = noticed(previous, result, stale_months=stale_months)
        if news:
            words = "; ".join(news)
            digest.noticed.append(
                Item(result.resource_id, name, link, words[:1].upper() + words[1:])
            )
        now = _RANK.get(result.verdict, 2)
        if now > _RANK.get(before or "pass", 0):
            words = "; ".join(status.problems(result)) or "Something looked wrong"
            verb = "fails" if result.verdict == "fail" else "warns"
            digest.went_bad.append(Item(result.resource_id, name, link, f"{verb}: {words}"))
        elif before in ("fail", "warn") and result.verdict == "pass":
            digest.recovered.append(Item(result.resource_id, name, link, "passes again"))
    return digest


def recipients(session: Session) -> list[str]:
    """Return the addresses of active reviewers and admins."""
    roles = (Role.REVIEWER.value, Role.ADMIN.value)
    query = select(User.email).where(User.active.is_(True), User.role.in_(roles))  # type: ignore[attr-defined]
    return sorted(session.exec(query).all())


def _summary(run: CheckRun) -> str:
    return (
        f"{run.total} entries checked: {run.passed} passed, {run.warned} warned, "
        f"{run.failed} failed."
    )


def compose(digest: Digest, *, sender: str, recipient: str) -> EmailMessage:
    """Write the digest as an email, in plain text with an HTML alternative."""
    run = digest.run
    counts = (
        f"{len(digest.raised) + len(digest.went_bad)} went bad, {len(digest.recovered)} recovered"
    )
    message = EmailMessage()
    message["Subject"] = f"Registry checks, run {run.id}: {counts}"
    message["From"], message["To"] = sender, recipient
    started = aware(run.started_at)
    intro = f"The check run of {started.day} {started:%B %Y} (run {run.id}) found these changes."
    text = [intro, ""]
    page = [f"<p>{html.escape(intro)}</p>"]
    for title, items in digest.sections():
        if not items:
            continue
        text += [f"{title} ({len(items)})", ""]
        page.append(f"<h2>{html.escape(title)} ({len(items)})</h2><ul>")
        for item in items:
            text += [f"- {item.name}: {item.detail}", f"  {item.link}"]
            page.append(
                f'<li><a href="{html.escape(item.link)}">{html.escape(item.name)}</a>: '
                f"{html.escape(item.detail)}</li>"
            )
        text.append("")
        page.append("</ul>")
    text.append(_summary(run))
    page.append(f"<p>{html.escape(_summary(run))}</p>")
    message.set_content("\n".join(text) + "\n")
    message.add_alternative(
        "<!doctype html><html><body>" + "".join(page) + "</body></html>", subtype="html"
    )
    return message


def _connect(config: Mapping[str, Any]) -> smtplib.SMTP:
    host, port = config["REGISTRY_SMTP_HOST"], int(config["REGISTRY_SMTP_PORT"])
    context = ssl.create_default_context()
    if port == 465:  # implicit TLS, the older "SMTPS" port
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
        if config["REGISTRY_SMTP_STARTTLS"]:
            smtp.starttls(context=context)
    if config.get("REGISTRY_SMTP_USER"):
        smtp.login(config["REGISTRY_SMTP_USER"], config.get("REGISTRY_SMTP_PASSWORD") or "")
    return smtp


def send_for_run(config: Mapping[str, Any], session: Session, run: CheckRun) -> int:
    """Email the run's digest to reviewers; return how many were sent (0: off or nothing new)."""
    if not config.get("REGISTRY_SMTP_HOST"):
        return 0
    digest = collect(
        session,
        run,
        base_url=config["REGISTRY_BASE_URL"],
        stale_months=config["REGISTRY_STALE_APP_MONTHS"],
    )
    to = recipients(session)
    if digest.empty or not to:
        return 0
    with _connect(config) as smtp:
        for address in to:
            smtp.send_message(
                compose(digest, sender=config["REGISTRY_MAIL_FROM"], recipient=address)
            )
    log.info("sent the digest of run %s to %d reviewers", run.id, len(to))
    return len(to)

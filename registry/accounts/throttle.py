"""Sign-in rate limiting, kept in the database so it holds across processes and hosts."""

from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, select

from registry.db import aware, utcnow
from registry.models import SignInAttempt


def wait_seconds(
    session: Session,
    *,
    account: str,
    address: str,
    max_failures: int,
    max_per_address: int,
    window: timedelta,
    now: datetime | None = None,
) -> int:
    """Return how long this account or address must wait before trying again (0: not at all)."""
    now = now or utcnow()
    since = now - window
    last_success = session.exec(
        select(func.max(SignInAttempt.at)).where(
            SignInAttempt.account == account,
            SignInAttempt.succeeded.is_(True),  # type: ignore[attr-defined]
        )
    ).one()
    # A success wipes the account's slate: failures before it do not count against it.
    account_since = max(since, aware(last_success)) if last_success else since
    waits = []
    for column, value, limit, start in (
        (SignInAttempt.account, account, max_failures, account_since),
        (SignInAttempt.address, address, max_per_address, since),
    ):
        failures = session.exec(
            select(SignInAttempt.at)
            .where(column == value, SignInAttempt.succeeded.is_(False), SignInAttempt.at > start)  # type: ignore[attr-defined]
            .order_by(SignInAttempt.at.desc())  # type: ignore[attr-defined]
            .limit(limit)
        ).all()
        if len(failures) >= limit:
            # The oldest of the last `limit` failures leaves the window at this moment.
            waits.append(int((aware(failures[-1]) + window - now).total_seconds()) + 1)
    return max(waits, default=0)


def record(session: Session, *, account: str, address: str, succeeded: bool) -> None:
    """Keep one attempt; the caller commits."""
    session.add(SignInAttempt(account=account[:254], address=address[:64], succeeded=succeeded))


def prune(session: Session, *, window: timedelta, now: datetime | None = None) -> int:
    """Remove the attempts older than the window, which no limit counts any more; commit.

    Return how many were removed. A success older than the window no longer matters either:
    wait_seconds counts from the later of the two.
    """
    cutoff = (now or utcnow()) - window
    removed = session.exec(delete(SignInAttempt).where(SignInAttempt.at < cutoff))  # type: ignore[call-overload, arg-type]
    session.commit()
    return removed.rowcount or 0

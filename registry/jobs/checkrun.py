"""The check run: every live entry through `checks`, each result stored as it arrives."""

import logging
import os
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

import checks
from registry import faults
from registry.db import utcnow
from registry.jobs import lock
from registry.models import CheckResult, CheckRun, PolicyText, Resource
from registry.review import lifecycle as review
from registry.review import transitions
from registry.vocab import RunStatus, State, Trigger

log = logging.getLogger(__name__)

# Called as each entry is stored: (entries done, entries in the run, entry name, verdict).
Progress = Callable[[int, int, str, str], None]


class NoSuchEntry(LookupError):
    """`--resource` named an entry that is not in the registry."""


def abandon_stale_runs(session: Session) -> int:
    """Mark runs left `running` by a process that died as abandoned (call with the lock held)."""
    stale = session.exec(select(CheckRun).where(CheckRun.status == RunStatus.RUNNING.value)).all()
    for run in stale:
        last = session.exec(
            select(func.max(CheckResult.checked_at)).where(CheckResult.run_id == run.id)
        ).one()
        run.status = RunStatus.ABANDONED.value
        run.finished_at = last or run.started_at
        session.add(run)
    session.commit()
    return len(stale)


Entry = tuple[int, str, checks.Target]  # id, name, what to check


def _entries(session: Session, resource_id: int | None) -> list[Entry]:
    query = select(
        Resource.id, Resource.name, Resource.url, Resource.ios_url, Resource.android_url,
        Resource.phone_numbers,
    ).order_by(Resource.id)  # fmt: skip
    if resource_id is None:
        query = query.where(Resource.state != State.RETIRED.value)
    else:
        query = query.where(Resource.id == resource_id)
    rows = [
        (
            rid,
            name,
            checks.Target(url, ios_url=ios, android_url=android, phone_numbers=numbers or ()),
        )
        for rid, name, url, ios, android, numbers in session.exec(query).all()
    ]
    if resource_id is not None and not rows:
        raise NoSuchEntry(f"there is no entry with id {resource_id}; the entry pages show ids")
    return rows


def result_row(report: dict[str, Any], *, resource_id: int, run_id: int | None) -> CheckResult:
    """Return the row that keeps a check report (run_id None: a check outside any run)."""
    return CheckResult(
        run_id=run_id,
        resource_id=resource_id,
        # Stored when recorded, to the microsecond, so results order against decisions.
        checked_at=utcnow(),
        url=report["url"],
        final_url=report.get("final_url"),
        verdict=report["verdict"],
        liveness_status=report["liveness"]["status"],
        https_status=report["https"]["status"],
        privacy_status=report["privacy"]["status"],
        policy_fingerprint=report["privacy"].get("fingerprint"),
        policy_scheme=checks.FINGERPRINT_SCHEME,
        report=report,
    )


def keep_policy_text(session: Session, fingerprint: str | None, text: str | None) -> None:
    """Keep a policy's text once per fingerprint, so reviewers can be shown what changed."""
    if fingerprint is None or session.get(PolicyText, fingerprint) is not None:
        return
    session.add(PolicyText(fingerprint=fingerprint, text=text or ""))
    session.flush()


def store_result(
    session: Session,
    run_id: int,
    resource_id: int,
    report: dict[str, Any],
    *,
    threshold: int,
    policy_text: str | None = None,
) -> CheckResult | None:
    """Commit one entry's result, any change of state it causes, and the run's tally, together."""
    for attempt in (1, 2):
        try:
            resource = session.get(Resource, resource_id)
            if resource is None:  # removed while the run went on
                return None
            result = result_row(report, resource_id=resource_id, run_id=run_id)
            keep_policy_text(session, result.policy_fingerprint, policy_text)
            session.add(result)
            session.flush()
            transitions.apply(session, resource, result, threshold=threshold)
            run = session.get(CheckRun, run_id)
            assert run is not None
            field = {"pass": "passed", "warn": "warned"}.get(result.verdict, "failed")
            setattr(run, field, getattr(run, field) + 1)
            session.add(run)
            session.commit()
            return result
        except StaleDataError:
            # A reviewer changed the entry at the same moment: read it again and redo.
            session.rollback()
            if attempt == 2:
                raise
        except IntegrityError:
            # One result per entry per run: an earlier attempt whose commit reached the database
            # but whose answer was lost with the connection already stored it, tally and all.
            session.rollback()
            stored = session.exec(
                select(CheckResult).where(
                    CheckResult.run_id == run_id, CheckResult.resource_id == resource_id
                )
            ).first()
            if stored is None:
                raise
            return stored
    return None


def run_checks(
    engine: Engine,
    *,
    settings: checks.CheckSettings,
    resource_id: int | None = None,
    trigger: str = "manual",
    threshold: int = 3,
    lock_seconds: float = 7200,
    progress: Progress | None = None,
    db_wait_seconds: float = 120,
) -> CheckRun:
    """Run the checks over every entry not retired (or one), under the lock; return the run.

    While the database is away the run keeps its results in memory and tries again, for up to
    db_wait_seconds (the REGISTRY_DB_RETRY_SECONDS setting), then raises
    faults.DatabaseUnavailable.
    """
    if resource_id is not None:
        trigger = Trigger.RESOURCE.value  # one entry by hand: not a night of the streak
    with Session(engine) as session:
        entries = _entries(session, resource_id)
    lease = lock.acquire(engine, seconds=lock_seconds)
    faults.hold_reserve(engine)
    with lease, Session(engine) as session:
        abandon_stale_runs(session)
        run = CheckRun(
            trigger=trigger, host=socket.gethostname(), pid=os.getpid(), total=len(entries)
        )
        session.add(run)
        session.commit()
        run_id = run.id
        assert run_id is not None
        try:
            # Under the lock, so two processes starting runs cannot both raise an expired review.
            faults.retrying(partial(_raise_expired, session), session, wait_seconds=db_wait_seconds)
            _work(session, lease, run_id, entries, settings, threshold, progress, db_wait_seconds)
        except faults.DatabaseUnavailable:
            raise  # nothing can be written; the next run marks this one abandoned
        except BaseException as exc:
            faults.rollback_quietly(session)
            if isinstance(exc, faults.DiskFull):
                faults.give_back_reserve(engine)  # room to record the end and release the lock
            interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
            _mark_ended(session, run_id, RunStatus.ABANDONED if interrupted else RunStatus.FAILED)
            raise
        return faults.retrying(
            partial(_complete, session, run_id), session, wait_seconds=db_wait_seconds
        )


def _raise_expired(session: Session) -> None:
    """Send every decided entry whose review is past its date back to reviewers."""
    review.raise_expired_reviews(session)
    session.commit()


def _complete(session: Session, run_id: int) -> CheckRun:
    """Mark the run completed and return it, detached from the session."""
    run = session.get(CheckRun, run_id)
    assert run is not None
    run.status, run.finished_at = RunStatus.COMPLETED.value, utcnow()
    session.add(run)
    session.commit()
    session.refresh(run)
    session.expunge(run)
    return run


def _mark_ended(session: Session, run_id: int, status: RunStatus) -> None:
    """Record how the run ended, if the database still takes writes (a full disk may not)."""
    try:
        run = session.get(CheckRun, run_id)
        assert run is not None
        run.status, run.finished_at = status.value, utcnow()
        session.add(run)
        session.commit()
    except DBAPIError as exc:
        faults.rollback_quietly(session)
        log.error("could not record that check run %s ended (%s): %s", run_id, status, exc.orig)


def _work(
    session: Session,
    lease: lock.Lease,
    run_id: int,
    entries: list[Entry],
    settings: checks.CheckSettings,
    threshold: int,
    progress: Progress | None,
    db_wait: float,
) -> None:
    total, done = len(entries), 0
    if progress:
        progress(0, total, "", "")
    if not entries:
        return
    # The checker's own scheduler, as `registry check-url` uses: work queued per host, each
    # check's deadline starting when its first request may go, not when the run starts.
    with checks.CheckBatch([target for _, _, target in entries], settings=settings) as batch:
        # Wake at least this often to keep the lock fresh, even while every check is slow.
        heartbeat = max(min(lease.seconds / 4, 60.0), 0.05)
        while not batch.done:
            for index, report in batch.wait(timeout=heartbeat):
                rid, name, _target = entries[index]
                _store(session, run_id, rid, report, threshold, db_wait, saved=done, total=total)
                done += 1
                if progress:
                    progress(done, total, name, report.verdict)
            faults.retrying(lease.refresh, None, wait_seconds=db_wait)


def _store(
    session: Session,
    run_id: int,
    resource_id: int,
    report: checks.Report,
    threshold: int,
    db_wait: float,
    *,
    saved: int,
    total: int,
) -> None:
    """Store one report, trying again while the database is away; say so if its disk is full."""
    # The report is held here, in memory, while the database is away.
    store = partial(
        store_result, session, run_id, resource_id, report.to_dict(),
        threshold=threshold, policy_text=report.privacy.text,
    )  # fmt: skip
    try:
        faults.retrying(store, session, wait_seconds=db_wait)
    except DBAPIError as exc:
        if not faults.disk_full(exc):
            raise
        raise faults.DiskFull(
            f"the disk holding the database is full: {saved} of {total} results were "
            "saved before it filled"
        ) from exc

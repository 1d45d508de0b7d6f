"""The nightly job and its schedule, with a missed run caught up once on start."""

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import checks
from registry.accounts import throttle
from registry.config import make_trigger
from registry.db import aware, get_engine, utcnow
from registry.jobs import checkrun, digest
from registry.jobs.lock import LockHeld
from registry.models import CheckRun, Meta
from registry.vocab import FULL_RUN_TRIGGERS, RunStatus

log = logging.getLogger(__name__)

# Runs that count as "the registry was checked": whole runs that completed. One killed midway
# does not count, so the scheduler, restarted, runs again.
WHOLE_RUN_TRIGGERS = tuple(sorted(FULL_RUN_TRIGGERS))
SINCE_KEY = "check_schedule_since"


@dataclass
class JobResult:
    """A finished run, what became of its digest, and the housekeeping done after it."""

    run: CheckRun
    mailed: int = 0
    mail_error: str | None = None
    pruned_sign_ins: int = 0  # sign-in attempts older than the throttle's window, removed
    sign_in_window: timedelta = timedelta(0)

    def housekeeping(self) -> str:
        """Say what the housekeeping removed, in a sentence fragment."""
        minutes = int(self.sign_in_window.total_seconds() // 60)
        return (
            f"{self.pruned_sign_ins} sign-in attempt{'s' if self.pruned_sign_ins != 1 else ''} "
            f"older than {minutes} minutes removed"
        )


def run_job(
    app: Flask,
    *,
    trigger: str,
    resource_id: int | None = None,
    progress: Callable[[int, int, str, str], None] | None = None,
    settings=None,
) -> JobResult:
    """Run the checks under the lock, then email the digest; raise LockHeld if a run is on."""
    settings = settings or checks.CheckSettings.from_env()
    with app.app_context():
        engine = get_engine(app)
        run = checkrun.run_checks(
            engine,
            settings=settings,
            resource_id=resource_id,
            trigger=trigger,
            threshold=app.config["REGISTRY_CHECK_FAILURE_THRESHOLD"],
            lock_seconds=app.config["REGISTRY_CHECK_LOCK_SECONDS"],
            progress=progress,
            db_wait_seconds=app.config["REGISTRY_DB_RETRY_SECONDS"],
        )
        outcome = JobResult(run)
        _keep_house(app, engine, outcome)
        try:
            with Session(engine) as session:
                outcome.mailed = digest.send_for_run(app.config, session, run)
        except (OSError, smtplib.SMTPException) as exc:
            # The results are stored either way; a mail server that is down must not undo them.
            outcome.mail_error = f"could not send the reviewers' digest: {exc}"
            log.error("%s", outcome.mail_error)
    return outcome


def _keep_house(app: Flask, engine: Engine, outcome: JobResult) -> None:
    """Remove what nothing needs any more: sign-in attempts older than the throttle's window."""
    outcome.sign_in_window = timedelta(minutes=app.config["REGISTRY_SIGNIN_WINDOW_MINUTES"])
    with Session(engine) as session:
        outcome.pruned_sign_ins = throttle.prune(session, window=outcome.sign_in_window)


def _scheduled(app: Flask, trigger: str) -> None:
    try:
        outcome = run_job(app, trigger=trigger)
    except LockHeld as exc:
        log.info("skipped the %s check run: %s", trigger, exc)
    except Exception:
        log.exception("the %s check run failed", trigger)
    else:
        run = outcome.run
        log.info(
            "check run %s (%s) done: %s passed, %s warned, %s failed; %s",
            run.id, trigger, run.passed, run.warned, run.failed, outcome.housekeeping(),
        )  # fmt: skip


def checked_since(session: Session) -> datetime:
    """Return when the registry was last checked whole (or first scheduled, if never)."""
    last = session.exec(
        select(func.max(CheckRun.started_at)).where(
            CheckRun.trigger.in_(WHOLE_RUN_TRIGGERS),  # type: ignore[attr-defined]
            CheckRun.status == RunStatus.COMPLETED.value,
        )
    ).one()
    if last is not None:
        return aware(last)
    since = session.get(Meta, SINCE_KEY)
    if since is None:
        # A new installation has missed nothing: the schedule starts from now.
        since = Meta(key=SINCE_KEY, value=utcnow().isoformat())
        session.add(since)
        session.commit()
    return aware(datetime.fromisoformat(since.value))


def missed_run(app: Flask, trigger: CronTrigger, now: datetime | None = None) -> datetime | None:
    """Return the fire time missed while no scheduler ran, or None when nothing was missed."""
    now = now or utcnow()
    with Session(get_engine(app)) as session:
        since = checked_since(session)
    # The first fire time after the last run; a run that started at a fire time covers it.
    due = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    return due if due is not None and due <= now else None


def configure(scheduler: BaseScheduler, app: Flask) -> BaseScheduler:
    """Add the nightly job, and one catch-up run now if a fire time passed unseen."""
    trigger = make_trigger(app.config["REGISTRY_CHECK_SCHEDULE"], app.config["REGISTRY_TIMEZONE"])
    # APScheduler's own misfire handling lives in memory; the database remembers across restarts.
    missed = missed_run(app, trigger)
    scheduler.add_job(
        _scheduled,
        trigger,
        args=[app, "scheduled"],
        id="nightly-check",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
        replace_existing=True,
    )
    if missed is not None:
        log.info("the run due at %s was missed; running it now", missed.isoformat())
        scheduler.add_job(_scheduled, args=[app, "catch-up"], id="catch-up", max_instances=1)
    return scheduler


def start_background_scheduler(app: Flask) -> BackgroundScheduler:
    """Start the schedule in a thread of this process (for `registry serve`)."""
    scheduler = BackgroundScheduler(timezone=ZoneInfo(app.config["REGISTRY_TIMEZONE"]), daemon=True)
    configure(scheduler, app)
    scheduler.start()
    return scheduler


def run_scheduler(app: Flask, *, announce: Callable[[str], None] = log.info) -> None:
    """Run the schedule in this process until it is stopped (for `registry scheduler`)."""
    zone = ZoneInfo(app.config["REGISTRY_TIMEZONE"])
    scheduler = BlockingScheduler(timezone=zone)
    configure(scheduler, app)
    trigger = make_trigger(app.config["REGISTRY_CHECK_SCHEDULE"], app.config["REGISTRY_TIMEZONE"])
    upcoming = trigger.get_next_fire_time(None, utcnow().astimezone(zone))
    when = f"{upcoming:%Y-%m-%d %H:%M %Z}" if upcoming else "never"
    catching_up = " A missed run starts now." if scheduler.get_job("catch-up") else ""
    announce(
        f"Checking the registry on the schedule {app.config['REGISTRY_CHECK_SCHEDULE']!r} "
        f"({app.config['REGISTRY_TIMEZONE']}); the next run is at {when}.{catching_up} "
        "Press Ctrl+C to stop."
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass

"""Faults during a check run: the database away for a moment or for good, its disk full, the
clock jumping. Each runs `registry check` as a real process, as the nightly job would.
"""

import glob
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import CSV_HEADER, DOWN, Registry, start_registry
from sqlalchemy import text
from sqlmodel import select

from registry import create_app
from registry.cli._common import prepare_database
from registry.db import get_engine
from registry.models import RunLock
from tests.test_faults import empty_wal, fill, sqlite_file_ok

# Debian's libfaketime (./scripts/test installs the faketime package), for this machine's arch.
FAKETIME = next(iter(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")), "libfaketime missing")


def _job_app(url: str, tmp_path: Path):
    """An app with an empty registry on the database at url."""
    empty = tmp_path / "empty.csv"
    empty.write_text(CSV_HEADER)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret",
            "REGISTRY_SEED_FILE": str(empty),
            "REGISTRY_BASE_URL": "https://registry.test",
        }
    )
    prepare_database(app, seed=True)
    return app


@pytest.fixture
def pg_registry(own_postgres, request, tmp_path) -> Registry:
    """An empty registry on a new database of the module's own PostgreSQL server."""
    name = f"jobs_{request.node.name[:40].lower()}"
    own_postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    own_postgres.execute(f"CREATE DATABASE {name}")
    return Registry(_job_app(own_postgres.url(name), tmp_path))


def _slow_entries(registry: Registry, sites, count: int) -> None:
    """Add entries whose sites answer one after another, about 0.6 s apart."""
    for number in range(count):
        registry.add_entry(f"Site {number}", sites.add(f"site{number}", delay=0.3 + 0.6 * number))


def _wait_for(process: subprocess.Popen, words: str) -> str:
    """Read the process's progress (stderr) until a line holds words; return what was read."""
    seen = ""
    for line in process.stderr:
        seen += line
        if words in line:
            return seen
    raise AssertionError(f"the run ended before {words!r}:\n{seen}")


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=90)
    return process.returncode, out, err


def _results(registry: Registry) -> int:
    with registry.session() as session:
        return session.execute(text("SELECT count(*) FROM check_result")).scalar_one()


def _check_six_slow_sites(registry: Registry, sites, cli_env, *, db_wait: int):
    """Start `registry check` over six slow sites; return it once it has stored one result."""
    _slow_entries(registry, sites, 6)
    env = {**cli_env, "DATABASE_URL": registry.app.config["DATABASE_URL"],
           "REGISTRY_DB_RETRY_SECONDS": str(db_wait)}  # fmt: skip
    checking = start_registry(env, "check")
    _wait_for(checking, "[1/6]")
    return checking


def test_a_run_waits_for_the_database_to_come_back_and_stores_every_result(
    pg_registry, own_postgres, sites, cli_env
):
    checking = _check_six_slow_sites(pg_registry, sites, cli_env, db_wait=60)
    own_postgres.stop("immediate")
    time.sleep(3)  # the next results arrive while it is away
    own_postgres.start()
    status, out, err = _finish(checking)

    assert status == 0, out + err
    assert "6 entries, 6 pass" in out
    assert _results(pg_registry) == 6
    [done] = pg_registry.runs()
    assert done.status == "completed" and done.passed == 6


def test_a_run_whose_database_stays_away_stops_clearly_and_loses_nothing(
    pg_registry, own_postgres, sites, cli_env, check_settings
):
    checking = _check_six_slow_sites(pg_registry, sites, cli_env, db_wait=2)
    own_postgres.stop("immediate")
    try:
        status, out, err = _finish(checking)
    finally:
        own_postgres.start()

    assert status == 1, out + err
    assert "the database was unavailable for more than 2 s" in err
    assert "results stored before it went away are kept" in err
    assert "Traceback" not in err
    assert _results(pg_registry) >= 1  # those stored before it went away

    from registry.jobs.scheduler import run_job

    again = run_job(pg_registry.app, trigger="manual", settings=check_settings)
    assert again.run.status == "completed"
    first, _second = pg_registry.runs()
    assert first.status == "abandoned"  # the next run tidies the one that stopped


def test_a_full_disk_stops_the_run_clearly_keeps_what_was_saved_and_frees_the_lock(
    small_disk,
    sites,
    cli_env,
    tmp_path,
    check_settings,
):
    database = small_disk / "registry.sqlite3"
    registry = Registry(_job_app(f"sqlite:///{database}", tmp_path))
    _slow_entries(registry, sites, 6)
    get_engine(registry.app).dispose()
    empty_wal(database)
    checking = start_registry({**cli_env, "DATABASE_URL": f"sqlite:///{database}"}, "check")
    _wait_for(checking, "[1/6]")
    filler = fill(small_disk)
    status, out, err = _finish(checking)

    assert status == 1, out + err
    assert "the disk holding the database is full" in err
    assert "results were saved before it filled" in err
    assert "Traceback" not in err
    saved = int(err.split("full: ")[1].split(" of 6")[0])
    assert saved >= 1 and _results(registry) == saved
    assert sqlite_file_ok(database)
    with registry.session() as session:
        assert session.get(RunLock, "check-run") is None

    filler.unlink()
    from registry.jobs.scheduler import run_job

    again = run_job(registry.app, trigger="manual", settings=check_settings)
    assert again.run.status == "completed" and again.run.passed == 6
    assert [run.status for run in registry.runs()] == ["failed", "completed"]
    assert sqlite_file_ok(database)


def _faked_clock(env: dict, clock_file: Path, offset: str) -> dict:
    """Return env for a process whose wall clock reads clock_file (an offset such as '+3h').

    The monotonic clock is left alone, as a real jump (a clock set by hand or by NTP) leaves it.
    """
    clock_file.write_text(offset)
    return {
        **env,
        "LD_PRELOAD": FAKETIME,
        "FAKETIME_TIMESTAMP_FILE": str(clock_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def test_a_process_whose_clock_is_hours_ahead_cannot_take_a_held_lock(
    sites, registry, cli_env, tmp_path
):
    # On PostgreSQL the lease is timed by the server's clock, which the newcomer's cannot move;
    # on SQLite (one machine, one clock) the newcomer sees that the holder is alive.
    # The holder's run lasts well over the newcomer's start-up, however loaded the machine.
    registry.add_entry("Slow", sites.add("slow", delay=10))
    cli_env = {**cli_env, "REGISTRY_CHECK_DEADLINE": "30"}
    holder = start_registry(cli_env, "check")
    _wait_for(holder, "Checking 1 entries")
    time.sleep(0.5)  # the holder has the lock
    ahead = _faked_clock(cli_env, tmp_path / "clock", "+3h")
    newcomer = subprocess.run(
        start_registry(ahead, "check").args, env=ahead, capture_output=True, text=True, timeout=60
    )
    status, out, err = _finish(holder)

    assert "another check run is in progress" in newcomer.stderr, newcomer.stdout + newcomer.stderr
    assert newcomer.returncode == 0
    assert status == 0, out + err
    assert [run.status for run in registry.runs()] == ["completed"]


def test_a_holder_whose_clock_jumps_back_keeps_refreshing_its_lease(
    sites, registry, cli_env, tmp_path
):
    registry.add_entry("Slow", sites.add("slow", delay=5))
    clock = tmp_path / "clock"
    env = {**_faked_clock(cli_env, clock, "+0"), "REGISTRY_CHECK_LOCK_SECONDS": "2"}
    holder = start_registry(env, "check")
    _wait_for(holder, "Checking 1 entries")
    time.sleep(0.5)
    clock.write_text("-1h")  # mid-run, the holder's wall clock goes back an hour
    seen = set()
    for _ in range(12):
        time.sleep(0.25)
        with registry.session() as session:
            held = session.get(RunLock, "check-run")
            if held is not None:
                seen.add(held.expires_at)
    status, out, err = _finish(holder)

    assert status == 0, out + err
    assert len(seen) >= 3, f"the lease was refreshed {len(seen) - 1} times in 3 s after the jump"


def test_failures_after_a_decision_count_even_when_the_decision_was_stamped_by_a_clock_ahead(
    sites, registry, run, monkeypatch
):
    from sqlmodel import select

    from registry.db import utcnow
    from registry.models import Resource, User
    from registry.review import lifecycle as review
    from registry.review.rubric import ITEMS

    resource_id = registry.add_entry("alpha", sites.add("alpha"), state="in_review")
    run()  # the result the reviewer sees: all well
    registry.add_reviewer("reviewer@example.org")
    # The web server that records the decision has a clock an hour ahead of the check job's.
    monkeypatch.setattr(review, "utcnow", lambda: utcnow() + timedelta(hours=1))
    with registry.session() as session:
        reviewer = session.exec(select(User).where(User.email == "reviewer@example.org")).one()
        review.decide(
            session, session.get(Resource, resource_id), user=reviewer,
            decision=review.Decision("recommended"), rationale="Looks sound.", cautions=None,
            answers={item.key: {"answer": "yes"} for item in ITEMS},
        )  # fmt: skip
        session.commit()

    sites.mode["alpha"] = DOWN
    run(), run(), run()
    assert registry.state_of(resource_id) == "needs_rereview"


def test_after_the_clock_jumps_days_ahead_the_scheduler_runs_once_not_once_per_missed_night(
    job_app, monkeypatch
):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import apscheduler.schedulers.base as apscheduler_base
    from apscheduler.executors.base import BaseExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    from registry.jobs.scheduler import configure

    submitted = []

    class Recorder(BaseExecutor):
        """Keeps what the scheduler would run, and runs nothing."""

        def _do_submit_job(self, job, run_times):
            submitted.append((job.id, run_times))

    scheduler = BackgroundScheduler(
        timezone=ZoneInfo(job_app.config["REGISTRY_TIMEZONE"]), executors={"default": Recorder()}
    )
    configure(scheduler, job_app)
    scheduler.start(paused=True)
    ahead = datetime.now(UTC) + timedelta(days=3)  # three nightly fire times pass at once

    class Jumped(datetime):
        @classmethod
        def now(cls, tz=None):
            return ahead.astimezone(tz)

    monkeypatch.setattr(apscheduler_base, "datetime", Jumped)
    try:
        scheduler.resume()
        deadline = time.monotonic() + 5
        while not submitted and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=False)
    assert [(job, len(times)) for job, times in submitted] == [("nightly-check", 1)]


def test_a_result_stored_by_an_attempt_whose_answer_was_lost_is_not_stored_twice(registry):
    # The retry after a lost connection may resend a commit the database had already made.
    from sqlmodel import Session

    from registry.jobs.checkrun import store_result
    from registry.models import CheckResult, CheckRun

    entry = registry.add_entry("Healthy Minds", "https://healthy.example.org/")
    report = {
        "url": "https://healthy.example.org/", "final_url": "https://healthy.example.org/",
        "verdict": "pass", "liveness": {"status": "up", "detail": ""},
        "https": {"status": "valid", "detail": ""},
        "privacy": {"status": "found", "detail": "", "fingerprint": None},
    }  # fmt: skip
    with Session(get_engine(registry.app)) as session:
        run = CheckRun(trigger="manual", host="test", pid=1, total=1)
        session.add(run)
        session.commit()
        first = store_result(session, run.id, entry, report, threshold=3)
        again = store_result(session, run.id, entry, report, threshold=3)
        assert again.id == first.id
        assert len(session.exec(select(CheckResult)).all()) == 1
        session.refresh(run)
        assert run.passed == 1

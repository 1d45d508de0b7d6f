"""The schedule: nightly in its time zone, and a run missed while it was down caught up once."""

import re
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import start_registry

from registry import create_app
from registry.config import SettingError
from registry.db import utcnow
from registry.jobs import scheduler
from registry.models import CheckRun


def _ran_long_ago(registry, days: int = 3) -> None:
    with registry.session() as session:
        started = utcnow() - timedelta(days=days)
        session.add(
            CheckRun(
                trigger="scheduled",
                status="completed",
                started_at=started,
                finished_at=started + timedelta(minutes=5),
            )
        )
        session.commit()


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_a_run_missed_while_the_scheduler_was_down_happens_once_when_it_comes_back(
    sites, registry, job_app
):
    resource_id = registry.add_entry("alpha", sites.add("alpha"))
    _ran_long_ago(registry)  # three nightly runs were missed; one catch-up makes up for them

    background = scheduler.start_background_scheduler(job_app)
    try:
        _wait_for(lambda: any(r.status != "running" for r in registry.runs()[1:]))
        time.sleep(1)  # room for a second run, were there one
        assert background.get_job("nightly-check").next_run_time > utcnow()
    finally:
        background.shutdown()
    assert [(r.trigger, r.status) for r in registry.runs()] == [
        ("scheduled", "completed"),
        ("catch-up", "completed"),
    ]
    assert len(registry.results_of(resource_id)) == 1

    again = scheduler.start_background_scheduler(job_app)  # nothing missed now
    time.sleep(1)
    again.shutdown()
    assert len(registry.runs()) == 2


def test_a_new_installation_has_no_missed_run_to_catch_up(registry, job_app):
    background = scheduler.start_background_scheduler(job_app)
    time.sleep(1)
    background.shutdown()
    assert registry.runs() == []
    assert background.get_job("catch-up") is None


def test_the_schedule_keeps_the_time_zone_clock(job_app):
    # 02:30 in London in June is 01:30 UTC (British Summer Time).
    trigger = scheduler.make_trigger("30 2 * * *", "Europe/London")
    assert trigger.get_next_fire_time(None, datetime(2026, 6, 1, 0, 0, tzinfo=UTC)) == datetime(
        2026, 6, 1, 1, 30, tzinfo=UTC
    )
    assert trigger.get_next_fire_time(None, datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) == datetime(
        2026, 12, 1, 2, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("REGISTRY_CHECK_SCHEDULE", "every night", "REGISTRY_CHECK_SCHEDULE 'every night' is not"),
        ("REGISTRY_CHECK_SCHEDULE", "61 2 * * *", "REGISTRY_CHECK_SCHEDULE '61 2 * * *' is not"),
        ("REGISTRY_TIMEZONE", "Europe/Londres", "REGISTRY_TIMEZONE must be a time zone name"),
        ("REGISTRY_SCHEDULER", "maybe", "REGISTRY_SCHEDULER must be 1 or 0"),
        ("REGISTRY_CHECK_FAILURE_THRESHOLD", "0", "REGISTRY_CHECK_FAILURE_THRESHOLD must be 1"),
        ("REGISTRY_BASE_URL", "registry.trust.nhs.uk", "REGISTRY_BASE_URL must be"),
    ],
)
def test_a_bad_job_setting_is_named_in_the_error(tmp_path, monkeypatch, setting, value, message):
    monkeypatch.setenv("REGISTRY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(setting, value)
    with pytest.raises(SettingError, match=re.escape(message)):
        create_app()


def test_the_scheduler_command_catches_up_then_waits_for_the_next_night(sites, registry, cli_env):
    registry.add_entry("alpha", sites.add("alpha"))
    _ran_long_ago(registry, days=1)
    process = start_registry(cli_env, "scheduler")
    try:
        _wait_for(lambda: any(r.status == "completed" for r in registry.runs()[1:]), 60)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert "Checking the registry on the schedule '30 2 * * *' (Europe/London)" in out
    assert "A missed run starts now." in out
    assert "Traceback" not in err
    assert [r.trigger for r in registry.runs()] == ["scheduled", "catch-up"]


def test_a_night_whose_run_was_killed_is_caught_up(registry, job_app):
    trigger = scheduler.make_trigger("30 2 * * *", "UTC")
    night = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    with registry.session() as session:
        session.add(
            CheckRun(trigger="scheduled", status="completed", started_at=night - timedelta(days=1))
        )
        session.add(CheckRun(trigger="scheduled", status="abandoned", started_at=night))
        session.commit()
    morning = night + timedelta(hours=7)
    assert scheduler.missed_run(job_app, trigger, now=morning) == night

    with registry.session() as session:
        session.add(
            CheckRun(trigger="manual", status="completed", started_at=night + timedelta(hours=1))
        )
        session.commit()
    assert scheduler.missed_run(job_app, trigger, now=morning) is None

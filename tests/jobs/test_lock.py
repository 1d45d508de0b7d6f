"""One check run at a time, however many processes start one; a lock left behind expires."""

import threading
import time
from datetime import timedelta

import pytest
from conftest import Registry, start_registry

from registry.db import get_engine, utcnow
from registry.jobs import lock
from registry.models import RunLock


def test_of_many_starting_at_once_exactly_one_gets_the_lock(job_app):
    engine = get_engine(job_app)
    gate = threading.Barrier(8)
    won, lost = [], []

    def contend():
        gate.wait()
        try:
            won.append(lock.acquire(engine, seconds=60))
        except lock.LockHeld as exc:
            lost.append(str(exc))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7
    assert all(
        message.startswith("another check run is in progress (started at ") for message in lost
    )
    won[0].release()
    lock.acquire(engine, seconds=60).release()  # free again once released


def test_two_check_commands_started_together_one_runs_and_the_other_says_so(
    sites, registry, cli_env
):
    for name in ("alpha", "beta"):
        registry.add_entry(name, sites.add(name, delay=3))
    first = start_registry(cli_env, "check", "--no-progress")
    second = start_registry(cli_env, "check", "--no-progress")
    outputs = [process.communicate(timeout=60) for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0]
    said = [err for _out, err in outputs if "another check run is in progress" in err]
    assert len(said) == 1, outputs
    assert "Traceback" not in "".join(out + err for out, err in outputs)
    [only] = registry.runs()
    assert (only.status, only.total, only.passed) == ("completed", 2, 2)


def test_a_run_refused_by_the_lock_leaves_no_trace(sites, registry, run, job_app):
    registry.add_entry("alpha", sites.add("alpha"))
    held = lock.acquire(get_engine(job_app), seconds=60)
    with pytest.raises(lock.LockHeld):
        run()
    held.release()
    assert registry.runs() == []


def test_an_expired_lock_is_taken_over(sites, registry, run):
    registry.add_entry("alpha", sites.add("alpha"))
    with registry.session() as session:
        long_ago = utcnow() - timedelta(hours=3)
        session.add(
            RunLock(
                name=lock.CHECK_RUN,
                holder="elsewhere@4242:dead",
                acquired_at=long_ago,
                expires_at=long_ago + timedelta(hours=2),
            )
        )
        session.commit()
    assert run().run.status == "completed"
    with registry.session() as session:
        assert session.get(RunLock, lock.CHECK_RUN) is None  # released at the end


def test_a_lock_held_elsewhere_and_not_expired_is_respected(registry, job_app):
    with registry.session() as session:
        session.add(
            RunLock(
                name=lock.CHECK_RUN,
                holder="elsewhere@4242:live",
                expires_at=utcnow() + timedelta(minutes=5),
            )
        )
        session.commit()
    with pytest.raises(lock.LockHeld, match=r"by elsewhere/4242\)"):
        lock.acquire(get_engine(job_app), seconds=60)


def test_a_long_run_keeps_its_lock_fresh(sites, make_job_app, check_settings):
    from registry.jobs.scheduler import run_job

    app = make_job_app(REGISTRY_CHECK_LOCK_SECONDS=1)
    Registry(app).add_entry("slow", sites.add("slow", delay=2.5))
    running = threading.Thread(target=run_job, args=(app,), kwargs={
        "trigger": "manual", "settings": check_settings,
    })  # fmt: skip
    running.start()
    time.sleep(1.8)  # past the lock's first expiry, while the check still waits on the site
    try:
        with pytest.raises(lock.LockHeld):
            lock.acquire(get_engine(app), seconds=60)
    finally:
        running.join(timeout=30)
    [done] = Registry(app).runs()
    assert done.status == "completed"

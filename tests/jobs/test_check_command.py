"""`registry check` as a person runs it: progress, a summary, no network, killed halfway."""

import os
import signal
import socket
import time

from click.testing import CliRunner
from conftest import DOWN, NO_POLICY, start_registry

from registry.cli import main
from registry.db import utcnow


def test_check_shows_progress_and_ends_with_a_summary_of_what_failed(
    sites, registry, cli_env, monkeypatch
):
    registry.add_entry("Healthy Minds", sites.add("healthy"))
    registry.add_entry("Gone Away Forum", sites.add("gone", DOWN))
    registry.add_entry("Quiet About Data", sites.add("quiet", NO_POLICY))
    for name in ("DATABASE_URL", "SECRET_KEY", "REGISTRY_CHECK_ALLOW_NETWORKS", "SSL_CERT_FILE",
                 "REGISTRY_CHECK_RETRIES", "REGISTRY_CHECK_DEADLINE"):  # fmt: skip
        monkeypatch.setenv(name, cli_env[name])

    result = CliRunner().invoke(main, ["check"])

    assert result.exit_code == 0, result.output
    assert "Checking 3 entries..." in result.stderr
    assert "[3/3]" in result.stderr and "fail  Gone Away Forum" in result.stderr
    assert "Check run 1 completed in" in result.stdout
    assert "3 entries, 1 pass, 1 warn, 1 fail." in result.stdout
    table = result.stdout.split("Failed:")[1]
    assert "Gone Away Forum" in table and "down" in table
    assert "Healthy Minds" not in table and "Quiet About Data" not in table


def test_check_can_be_quiet_and_names_an_unknown_entry(sites, registry, cli_env, monkeypatch):
    resource_id = registry.add_entry("Healthy Minds", sites.add("healthy"))
    for name in ("DATABASE_URL", "SECRET_KEY", "REGISTRY_CHECK_ALLOW_NETWORKS", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, cli_env[name])

    quiet = CliRunner().invoke(main, ["check", "--no-progress", "--resource", str(resource_id)])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert "1 entries, 1 pass, 0 warn, 0 fail." in quiet.stdout

    unknown = CliRunner().invoke(main, ["check", "--resource", "999"])
    assert unknown.exit_code == 1
    assert "there is no entry with id 999" in unknown.stderr
    assert registry.runs()[-1].total == 1  # the unknown entry started no run


def test_with_no_network_every_entry_ends_unreachable_within_the_deadline(registry, cli_env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    for name, url in [
        ("Nowhere App", "https://resource.invalid/"),
        ("Nowhere Forum", "http://forum.nowhere.invalid/boards"),
        ("Intranet Page", "https://10.20.30.40/"),
        ("Local Page", f"http://127.0.0.1:{closed}/"),
    ]:
        registry.add_entry(name, url)
    env = {**cli_env, "REGISTRY_CHECK_ALLOW_NETWORKS": "", "REGISTRY_CHECK_DEADLINE": "3"}

    started = time.monotonic()
    process = start_registry(env, "check")
    out, err = process.communicate(timeout=60)
    took = time.monotonic() - started

    assert process.returncode == 0, err
    assert "Traceback" not in out + err
    assert "4 entries, 0 pass, 0 warn, 4 fail." in out
    assert took < 3 + 15  # one deadline (the checks run side by side) plus starting Python
    [run] = registry.runs()
    with registry.session() as session:
        from sqlmodel import select

        from registry.models import CheckResult

        statuses = session.exec(
            select(CheckResult.liveness_status).where(CheckResult.run_id == run.id)
        ).all()
    assert statuses == ["unreachable"] * 4


def test_a_run_killed_midway_keeps_its_results_and_the_next_run_completes(
    sites, registry, run, cli_env
):
    quick = [registry.add_entry(f"quick{i}", sites.add(f"quick{i}")) for i in range(3)]
    slow = [registry.add_entry(f"slow{i}", sites.add(f"slow{i}", delay=30)) for i in range(3)]
    env = {**cli_env, "REGISTRY_CHECK_DEADLINE": "60", "REGISTRY_CHECK_READ_TIMEOUT": "60"}
    process = start_registry(env, "check", "--no-progress")
    try:
        deadline = time.monotonic() + 60
        while sum(len(registry.results_of(i)) for i in quick) < 3:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    [killed] = registry.runs()
    assert killed.status == "running"  # as the killed process left it
    assert (killed.passed, killed.total) == (3, 6)
    kept = {i: registry.results_of(i) for i in quick + slow}
    assert all(len(kept[i]) == 1 for i in quick) and all(kept[i] == [] for i in slow)

    for i in range(3):
        sites.delay[f"slow{i}"] = 0
    started = utcnow()
    again = run().run  # the dead process's lock is taken over at once, not after it expires

    assert (again.status, again.total, again.passed) == ("completed", 6, 6)
    abandoned, completed = registry.runs()
    assert (abandoned.id, abandoned.status) == (killed.id, "abandoned")
    assert abandoned.finished_at is not None
    assert completed.id == again.id
    for i in quick:
        assert [r.run_id for r in registry.results_of(i)] == [killed.id, again.id]
    for i in slow:
        assert [r.run_id for r in registry.results_of(i)] == [again.id]
    assert (utcnow() - started).total_seconds() < 30


def test_a_check_stopped_politely_frees_the_lock_at_once(sites, registry, cli_env):
    registry.add_entry("quick", sites.add("quick"))
    registry.add_entry("slow", sites.add("slow", delay=30))
    process = start_registry(cli_env, "check", "--no-progress")
    try:
        deadline = time.monotonic() + 30
        while not registry.results_of(1):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _out, err = process.communicate(timeout=30)
    assert time.monotonic() - started < 5  # not held until the slow site's deadline
    assert process.returncode == 143
    assert "the run is marked abandoned" in err and "Traceback" not in err
    [stopped] = registry.runs()
    assert (stopped.status, stopped.passed) == ("abandoned", 1)
    with registry.session() as session:
        from registry.jobs.lock import CHECK_RUN
        from registry.models import RunLock

        assert session.get(RunLock, CHECK_RUN) is None

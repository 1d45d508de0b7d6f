"""Production footing: several web processes and two schedulers on one database.

On the PostgreSQL pass of the suite this is the deployment the README describes (gunicorn
workers and `registry scheduler` processes on one PostgreSQL); on the SQLite pass the same
processes share one SQLite file.
"""

import http.cookiejar
import re
import signal
import socket
import time
import urllib.request
from datetime import timedelta

import pytest
from conftest import start_registry
from sqlmodel import Session

from registry.accounts import services as accounts
from registry.db import get_engine, utcnow
from registry.jobs.scheduler import SINCE_KEY
from registry.models import Meta
from tests.pgserver import free_port

PASSWORD = "correct horse battery staple"


def _wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Browser:
    """Cookies and CSRF tokens carried between requests, to any of the web processes."""

    def __init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, port: int, path: str) -> tuple[int, str]:
        with self.opener.open(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, response.read().decode()

    def sign_in(self, port: int, email: str) -> str:
        _, page = self.get(port, "/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": PASSWORD})
        with self.opener.open(
            f"http://127.0.0.1:{port}/sign-in", data=form.encode(), timeout=30
        ) as response:
            return response.read().decode()


@pytest.fixture
def processes():
    """Start registry processes; stop each at the end (by its own pid), keeping its output."""
    started = []

    def start(env, *args):
        process = start_registry(env, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=20)
        except Exception:
            process.kill()
            process.wait()


def _output(process) -> str:
    out, err = process.communicate(timeout=20)
    return out + err


def test_two_web_processes_and_two_schedulers_make_exactly_one_check_run(
    registry, sites, cli_env, processes
):
    # A registry whose nightly run was missed three days ago: every scheduler that starts
    # wants to catch it up at once. Slow sites keep the run going while the others look.
    # A run of about 12 s (each site's page and policy take 6 s): time enough for the second
    # scheduler to start, however slowly the machine starts four processes at once.
    entries = {registry.add_entry(f"Site {n}", sites.add(f"site{n}", delay=6.0)) for n in range(4)}
    cli_env = {**cli_env, "REGISTRY_CHECK_DEADLINE": "30"}
    with Session(get_engine(registry.app)) as session:
        session.merge(Meta(key=SINCE_KEY, value=(utcnow() - timedelta(days=3)).isoformat()))
        accounts.create(
            session,
            email="reviewer@example.org",
            role="reviewer",
            password=PASSWORD,
            one_time=False,
        )
        session.commit()

    ports = [free_port(), free_port()]
    webs = [
        processes(cli_env, "serve", "--workers", "2", "--no-seed", "--port", str(port))
        for port in ports
    ]
    schedulers = [processes(cli_env, "scheduler"), processes(cli_env, "scheduler")]

    _wait_until(lambda: all(_listening(port) for port in ports), 60, "both web servers")
    _wait_until(
        lambda: [run for run in registry.runs() if run.status == "completed"], 90, "a check run"
    )
    time.sleep(3)  # time enough for a second run to start, were the lock not holding
    runs = registry.runs()
    assert len(runs) == 1, [(run.id, run.trigger, run.status) for run in runs]
    assert runs[0].trigger == "catch-up" and runs[0].total == len(entries)
    assert all(len(registry.results_of(entry)) == 1 for entry in entries)

    # Both web processes serve, from the same database, with the same key: a reviewer signed in
    # on one is signed in on the other and sees the run there.
    browser = Browser()
    for port in ports:
        status, page = browser.get(port, "/?show=all")
        assert status == 200 and "Site 3" in page
    browser.sign_in(ports[0], "reviewer@example.org")
    status, page = browser.get(ports[1], "/review/dashboard")
    assert status == 200 and "Sign out" in page and "4 passed" in page.replace("\n", " ")

    for process in webs + schedulers:
        assert process.poll() is None, _output(process)
        process.send_signal(signal.SIGTERM)
    logs = [_output(process) for process in schedulers]
    # One scheduler ran the catch-up; the other found it running (or already done) and did not.
    assert sum("check run 1 (catch-up) done" in log for log in logs) == 1, logs
    assert sum("skipped the catch-up check run" in log for log in logs) == 1, logs

"""`registry serve` as a person runs it: a real process, a real port, the seed loaded once."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import pytest
from sqlmodel import Session, func, select

from registry.config import default_seed_file
from registry.db import make_engine
from registry.exchange.seed import read_csv
from registry.models import AuditEvent, Resource


@contextmanager
def serving(
    tmp_path,
    port: int,
    *options: str,
    launcher: tuple[str, ...] = ("-m", "registry.cli"),
    env: dict | None = None,
):
    """Run `registry serve` on its own instance folder and port until the block ends."""
    env = {
        **os.environ,
        "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance"),
        "REGISTRY_PORT": str(port),
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, *launcher, "serve", *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"serve did not come up: {process.stdout.read()}"
                    ) from None
                time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.read().decode()


def _staff(tmp_path, port: int, *, new: bool = True):
    """Add a clinician with `registry user add` (once), sign in over HTTP; return a page getter."""
    import http.cookiejar
    import re
    import urllib.parse

    password = "correct horse battery staple"
    if new:
        subprocess.run(
            [sys.executable, "-m", "registry.cli", "user", "add", "nurse@trust.test",
             "--role", "clinician", "--password-stdin"],
            input=password + "\n", text=True, check=True, capture_output=True,
            env={**os.environ, "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance")},
        )  # fmt: skip
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    base = f"http://127.0.0.1:{port}"
    form = opener.open(f"{base}/sign-in", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    body = {"csrf_token": token, "email": "nurse@trust.test", "password": password}
    opener.open(f"{base}/sign-in", urllib.parse.urlencode(body).encode(), timeout=10).read()
    return lambda path: opener.open(f"{base}{path}", timeout=10).read().decode()


def _counts(tmp_path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{tmp_path / 'instance' / 'registry.sqlite3'}")
    with Session(engine) as session:
        return (
            session.exec(select(func.count()).select_from(Resource)).one(),
            session.exec(select(func.count()).select_from(AuditEvent)).one(),
        )


def test_serve_brings_up_the_seeded_catalogue_and_a_restart_loads_nothing_twice(
    tmp_path, free_port
):
    seed_rows = len(read_csv(default_seed_file()))
    with serving(tmp_path, free_port):
        # Nothing is reviewed yet: the public is told so, and staff see every seeded entry.
        assert "No resource has been reviewed yet" in _get(free_port, "/?q=bipolar")
        assert "Bipolar UK" not in _get(free_port, "/?q=bipolar&show=all")
        staff = _staff(tmp_path, free_port)
        assert "Bipolar UK" in staff("/?q=bipolar&show=all")
        assert staff("/resources/1").count("nhsuk-summary-list__row") >= 17
    assert _counts(tmp_path) == (seed_rows, seed_rows + 1)  # the seed, and the new account
    with serving(tmp_path, free_port) as process:
        assert "Bipolar UK" in _staff(tmp_path, free_port, new=False)("/?q=bipolar&show=all")
    output = process.stdout.read()
    assert "Loaded" not in output
    assert _counts(tmp_path) == (seed_rows, seed_rows + 1)  # the seed, and the new account


# The registry's command, in an interpreter where the PostgreSQL driver cannot be imported.
WITHOUT_THE_POSTGRESQL_DRIVER = (
    "-c",
    "import sys; sys.modules['psycopg'] = None; from registry.cli import main; main()",
)


def test_the_embedded_registry_runs_without_the_postgresql_driver(tmp_path, free_port):
    # ./scripts/serve installs the registry without its postgresql extra: nothing on the
    # SQLite path may need psycopg.
    with serving(tmp_path, free_port, launcher=WITHOUT_THE_POSTGRESQL_DRIVER):
        assert "Find a digital resource" in _get(free_port, "/")
        assert "Bipolar UK" in _staff(tmp_path, free_port)("/?q=bipolar&show=all")


def test_web_processes_keep_pages_and_cards_in_one_file_of_their_own_removed_when_they_stop(
    tmp_path, free_port
):
    temp = tmp_path / "temp"
    temp.mkdir()
    with serving(tmp_path, free_port, "--workers", "2", env={"TMPDIR": str(temp)}):
        (folder,) = temp.glob("registry-kept-*")
        assert folder.stat().st_mode & 0o777 == 0o700  # only the server's user opens it
        for _ in range(3):
            assert 'value="bipolar"' in _get(free_port, "/?q=bipolar")
        shown = _staff(tmp_path, free_port)("/?q=bipolar&show=all").count(
            "nhsuk-card registry-result"
        )
        with sqlite3.connect(folder / "kept.sqlite") as store:
            kept = [key for (key,) in store.execute("SELECT key FROM kept WHERE kind = 'page'")]
            (cards,) = store.execute("SELECT count(*) FROM kept WHERE kind = 'card'").fetchone()
        assert sum("'/?q=bipolar'" in key for key in kept) == 1, kept
        # Staff pages are never kept whole; their results' cards are, for every process.
        assert shown > 0 and cards >= shown, (shown, cards)
    assert not folder.exists()


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one process", "workers"])
def test_serve_says_plainly_when_its_port_is_taken(tmp_path, free_port, workers):
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", free_port))
        blocker.listen()
        env = {**os.environ, "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance")}
        result = subprocess.run(
            [sys.executable, "-m", "registry.cli", "serve", "--port", str(free_port), *workers],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{free_port}" in result.stderr
    assert "Traceback" not in result.stderr

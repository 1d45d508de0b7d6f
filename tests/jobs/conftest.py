"""Real components for the nightly job: switchable web sites on loopback, a mail server, entries.

`sites` serves HTTPS (trusted through a throwaway CA) on 127.0.0.1, and the "other domain" a
site can move to on 127.0.0.2. `smtp` is an aiosmtpd server that keeps what it receives.
"""

import email
import email.policy
import http.server
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from checks import CheckSettings
from registry.accounts import services as accounts
from registry.db import get_engine
from registry.entries.schemas import url_key
from registry.models import AuditEvent, CheckResult, CheckRun, Resource, User
from tests.conftest import PASSWORD, Web
from tests.test_faults import own_postgres, small_disk  # noqa: F401  (for test_faults_jobs.py)

CSV_HEADER = (
    "name,url,kind,provider,description,conditions,audience,cost,platforms,ios_url,android_url,"
    "works_offline,low_data,languages,moderation,crisis_signposting,evidence,source\n"
)
HEALTHY, DOWN, MOVED, NO_POLICY = "healthy", "down", "moved", "no_policy"


@pytest.fixture(autouse=True)
def _no_job_settings_from_the_developer(monkeypatch):
    """Keep the developer's own job and checker settings out of the tests."""
    import os

    for name in list(os.environ):
        if name.startswith(("REGISTRY_CHECK_", "REGISTRY_SMTP_")) or name in (
            "REGISTRY_MAIL_FROM", "REGISTRY_BASE_URL", "REGISTRY_TIMEZONE", "REGISTRY_SCHEDULER",
            "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE",
        ):  # fmt: skip
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def ca_file(tmp_path_factory) -> tuple[trustme.CA, Path]:
    """A throwaway certificate authority, and its certificate in a file the checker trusts."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@dataclass
class Sites:
    """Web sites by name, each healthy, down, moved to another domain, or without a policy."""

    mode: dict[str, str] = field(default_factory=dict)
    policy: dict[str, str] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, mode: str = HEALTHY, *, delay: float = 0.0) -> str:
        self.mode[name], self.delay[name] = mode, delay
        self.policy[name] = f"{name} keeps your personal data safe and never sells it."
        return self.url(name)

    def url(self, name: str) -> str:
        return f"https://127.0.0.1:{self.ports['127.0.0.1']}/{name}/"

    def new_home(self, name: str) -> str:
        return f"https://127.0.0.2:{self.ports['127.0.0.2']}/{name}/"


def _page(name: str, *, privacy_link: bool) -> str:
    link = f'<footer><a href="/{name}/privacy">Privacy policy</a></footer>' if privacy_link else ""
    return (
        f"<!doctype html><html><head><title>{name} peer support</title></head><body>"
        f"<h1>{name}: living well with psychosis</h1><p>{name} offers moderated peer support, "
        f"self-management tools and stories of recovery for people and their carers.</p>"
        f"{link}</body></html>"
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        sites: Sites = self.server.sites  # type: ignore[attr-defined]
        elsewhere: bool = self.server.elsewhere  # type: ignore[attr-defined]
        parts = self.path.split("?")[0].strip("/").split("/")
        name = parts[0]
        if self.path == "/":
            return self._send(200, "<!doctype html><title>Loopback</title><p>Test sites.</p>")
        if name not in sites.mode:
            return self._send(404, "<!doctype html><title>Not found</title><h1>Not found</h1>")
        mode = HEALTHY if elsewhere else sites.mode[name]
        if self.path == f"/{name}/":
            time.sleep(sites.delay.get(name, 0.0))  # a slow site is slow to show its page
            if mode == DOWN:
                return self._send(410, "<!doctype html><title>Gone</title><h1>Gone</h1>")
            if mode == MOVED:
                return self._send(301, "", location=sites.new_home(name))
            return self._send(200, _page(name, privacy_link=mode != NO_POLICY))
        if parts[1:] == ["privacy"] and mode not in (DOWN, NO_POLICY):
            text = sites.policy[name]
            return self._send(200, f"<!doctype html><title>Privacy</title><p>{text}</p>")
        return self._send(404, "<!doctype html><title>Not found</title><h1>Not found</h1>")

    def _send(self, status: int, body: str, *, location: str | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args) -> None:
        pass


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, context: ssl.SSLContext):
        self.context = context
        super().__init__(address, _Handler)

    def get_request(self):
        sock, addr = super().get_request()
        # The handshake happens in the request's thread, so one stuck client stalls no other.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


@pytest.fixture
def sites(ca_file):
    """Switchable HTTPS sites on 127.0.0.1, and their other domain on 127.0.0.2."""
    ca, _path = ca_file
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "127.0.0.2", "localhost").configure_cert(context)
    found = Sites()
    servers = []
    for address, elsewhere in (("127.0.0.1", False), ("127.0.0.2", True)):
        server = _TLSServer((address, 0), context)
        server.sites, server.elsewhere = found, elsewhere  # type: ignore[attr-defined]
        found.ports[address] = server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
    yield found
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def check_settings(ca_file) -> CheckSettings:
    """Checker settings for loopback: short deadlines, no retries, the throwaway CA trusted."""
    return CheckSettings(
        deadline=8,
        connect_timeout=2,
        read_timeout=4,
        retries=0,
        backoff=0.01,
        max_per_host=16,
        allow_networks="127.0.0.0/8",
        ca_bundle=str(ca_file[1]),
    )


class Inbox:
    """What the mail server received: each message, parsed, with its envelope recipients."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, _server, _session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    """A real SMTP server on a free loopback port, keeping what it receives."""
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def make_job_app(make_app, tmp_path):
    """Return a factory for apps with an empty registry (tests add the entries they check)."""
    empty = tmp_path / "empty.csv"
    empty.write_text(CSV_HEADER)

    def factory(**config):
        return make_app(seed=empty, REGISTRY_BASE_URL="https://registry.test", **config)

    return factory


@pytest.fixture
def job_app(make_job_app):
    return make_job_app()


@pytest.fixture
def mail_app(make_job_app, smtp):
    """An app that sends its digest to the test's mail server."""
    return make_job_app(
        REGISTRY_SMTP_HOST="127.0.0.1",
        REGISTRY_SMTP_PORT=smtp.port,
        REGISTRY_SMTP_STARTTLS=False,
        REGISTRY_MAIL_FROM="registry@registry.test",
    )


class Registry:
    """The registry's database as a test sets it up and reads it back."""

    def __init__(self, app):
        self.app = app

    def session(self) -> Session:
        return Session(get_engine(self.app))

    def add_entry(self, name: str, url: str, *, state: str = "recommended") -> int:
        """Add an entry straight into the database, decided unless told otherwise."""
        decided = state in ("recommended", "recommended_with_cautions", "not_recommended")
        with self.session() as session:
            resource = Resource(
                name=name,
                url=url,
                url_key=url_key(url),
                kind="website",
                state=state,
                decision=state if decided else None,
            )
            session.add(resource)
            session.commit()
            assert resource.id is not None
            return resource.id

    def add_reviewer(self, address: str, role: str = "reviewer", *, active: bool = True) -> None:
        """Add a staff account straight into the database."""
        with self.session() as session:
            session.add(User(email=address, password_hash="x", role=role, active=active))
            session.commit()

    def state_of(self, resource_id: int) -> str:
        with self.session() as session:
            resource = session.get(Resource, resource_id)
            assert resource is not None
            return resource.state

    def results_of(self, resource_id: int) -> list[CheckResult]:
        """Return the entry's results, oldest first."""
        with self.session() as session:
            query = select(CheckResult).where(CheckResult.resource_id == resource_id)
            return list(session.exec(query.order_by(CheckResult.id)).all())

    def runs(self) -> list[CheckRun]:
        with self.session() as session:
            return list(session.exec(select(CheckRun).order_by(CheckRun.id)).all())

    def audit_of(self, resource_id: int) -> list[AuditEvent]:
        with self.session() as session:
            query = select(AuditEvent).where(
                AuditEvent.entity == "resource", AuditEvent.entity_id == resource_id
            )
            return list(session.exec(query.order_by(AuditEvent.id)).all())


@pytest.fixture
def registry(job_app) -> Registry:
    return Registry(job_app)


@pytest.fixture
def run(job_app, check_settings):
    """Return a function that does one whole check run, as the nightly job does."""
    from registry.jobs.scheduler import run_job

    def once(**kwargs):
        return run_job(job_app, trigger="manual", settings=check_settings, **kwargs)

    return once


@pytest.fixture
def cli_env(job_app, ca_file):
    """Return the environment for a `registry` process on job_app's database, loopback opened."""
    import os

    return {
        **os.environ,
        "DATABASE_URL": job_app.config["DATABASE_URL"],
        "SECRET_KEY": "test-secret",
        "REGISTRY_BASE_URL": "https://registry.test",
        "REGISTRY_CHECK_ALLOW_NETWORKS": "127.0.0.0/8",
        "SSL_CERT_FILE": str(ca_file[1]),
        "REGISTRY_CHECK_DEADLINE": "8",
        "REGISTRY_CHECK_RETRIES": "0",
        "REGISTRY_CHECK_PER_HOST": "16",
    }


def start_registry(env: dict, *args: str):
    """Start `registry ARGS` in its own process, its output kept for the test."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "registry.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signed_in_reviewer(app):
    """Return a reviewer signed in at a browser (the test client, sending CSRF tokens)."""
    with Session(get_engine(app)) as session:
        accounts.create(
            session, email="lead@example.org", role="reviewer", password=PASSWORD, one_time=False
        )
        session.commit()
    browser = Web(app.test_client())
    browser.sign_in("lead@example.org")
    return browser

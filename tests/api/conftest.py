"""Fixtures for the API: tokens for accounts, and a client that sends them."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from registry.accounts import tokens as api_tokens
from registry.db import get_engine, utcnow
from registry.jobs.checkrun import result_row
from registry.models import Resource


@pytest.fixture
def make_token(app, people):
    """Return a factory that makes a token for an account by email; it returns (id, secret)."""

    def factory(email: str = "clinician@example.org", name: str = "test") -> tuple[int, str]:
        with Session(get_engine(app)) as db_session:
            token, secret = api_tokens.create(db_session, email=email, name=name)
            db_session.commit()
            return token.id, secret

    return factory


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def report(url: str, verdict: str, liveness: str = "up", *, stores: list | None = None) -> dict:
    """A check report as the checker writes it (with a stores section when stores is given)."""
    found = {"stores": stores} if stores is not None else {}
    return {
        **found,
        "url": url,
        "final_url": url,
        "checked_at": utcnow().isoformat(timespec="seconds"),
        "verdict": verdict,
        "liveness": {"status": liveness, "http_status": 200, "redirects": 0,
                     "elapsed_ms": 10, "detail": ""},
        "https": {"status": "ok", "redirects_http_to_https": True, "hsts": True,
                  "cert_days_left": 80, "detail": ""},
        "privacy": {"status": "found", "policy_url": url + "privacy", "detail": "",
                    "fingerprint": "0" * 64},
    }  # fmt: skip


def store(which: str, url: str, status: str = "listed", http_status: int = 200) -> dict:
    """One store listing of a report's stores section (DESIGN.md's contract)."""
    return {"store": which, "url": url, "status": status, "http_status": http_status,
            "last_updated": None, "version": None, "detail": ""}  # fmt: skip


def add_check(app, name: str, verdict: str, liveness: str = "up", *, stores=None) -> None:
    """Record a check result for the entry called name, as a check outside any run does."""
    with Session(get_engine(app)) as db_session:
        resource = db_session.exec(select(Resource).where(Resource.name == name)).one()
        db_session.add(result_row(report(resource.url, verdict, liveness, stores=stores),
                                  resource_id=resource.id, run_id=None))  # fmt: skip
        db_session.commit()


def add_check_history(app, verdicts=("pass", "warn", "fail")) -> dict[str, list[int]]:
    """Give every entry check results with these verdicts, oldest first; return their ids."""
    ids: dict[str, list[int]] = {}
    with Session(get_engine(app)) as db_session:
        for resource in db_session.exec(select(Resource).order_by(Resource.id)).all():
            for n, verdict in enumerate(verdicts):
                liveness = "down" if verdict == "fail" else "up"
                row = result_row(report(resource.url, verdict, liveness),
                                 resource_id=resource.id, run_id=None)  # fmt: skip
                row.checked_at = utcnow() - timedelta(days=len(verdicts) - n)
                db_session.add(row)
                db_session.flush()
                ids.setdefault(resource.name, []).append(row.id)
        db_session.commit()
    return ids

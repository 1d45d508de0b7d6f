"""After a night, the sign-in attempts no limit counts any more are gone, and the job says so."""

import logging
from datetime import timedelta

from sqlmodel import select

from registry.accounts import throttle
from registry.db import aware, utcnow
from registry.jobs import scheduler
from registry.models import SignInAttempt


def _attempts(registry, *ages_and_outcomes: tuple[timedelta, bool]) -> None:
    with registry.session() as session:
        now = utcnow()
        for age, succeeded in ages_and_outcomes:
            session.add(SignInAttempt(at=now - age, account="clinician@example.org",
                                      address="192.0.2.7", succeeded=succeeded))  # fmt: skip
        session.commit()


def test_a_night_removes_sign_in_attempts_older_than_their_window_and_says_how_many(
    registry, job_app, caplog
):
    minute = timedelta(minutes=1)
    window = job_app.config["REGISTRY_SIGNIN_WINDOW_MINUTES"]
    _attempts(
        registry,
        (timedelta(days=40), False), (timedelta(hours=2), True), ((window + 1) * minute, False),
        *[(age * minute, False) for age in range(1, window - 1, 3)],  # still counted: kept
    )  # fmt: skip
    started = utcnow()

    with caplog.at_level(logging.INFO, logger="registry.jobs.scheduler"):
        scheduler._scheduled(job_app, "scheduled")  # what the scheduler calls each night

    with registry.session() as session:
        left = session.exec(select(SignInAttempt.at).order_by(SignInAttempt.at)).all()
        # The limit still holds over what is left: five failures inside the window.
        wait = throttle.wait_seconds(
            session, account="clinician@example.org", address="192.0.2.7", max_failures=5,
            max_per_address=20, window=window * minute,
        )  # fmt: skip
    assert len(left) == 5 and all(aware(at) > started - window * minute for at in left)
    assert wait > 0
    [summary] = [r.getMessage() for r in caplog.records if "check run" in r.getMessage()]
    assert "done" in summary
    assert f"3 sign-in attempts older than {window} minutes removed" in summary
    assert [run.status for run in registry.runs()] == ["completed"]


def test_a_night_with_nothing_to_remove_says_so(registry, job_app, caplog):
    _attempts(registry, (timedelta(minutes=2), False))

    with caplog.at_level(logging.INFO, logger="registry.jobs.scheduler"):
        scheduler._scheduled(job_app, "scheduled")

    assert "0 sign-in attempts older than 15 minutes removed" in caplog.text
    with registry.session() as session:
        assert len(session.exec(select(SignInAttempt)).all()) == 1

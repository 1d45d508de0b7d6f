"""Work the web app does in the background: checking a newly suggested resource at once."""

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait

from flask import Flask, current_app
from sqlmodel import Session

import checks
from registry.db import get_engine
from registry.jobs import checkrun
from registry.models import Resource

log = logging.getLogger(__name__)


def _check(app: Flask, resource_id: int) -> None:
    with app.app_context():
        engine = get_engine(app)
        with Session(engine) as session:
            resource = session.get(Resource, resource_id)
            if resource is None:
                return
            target = checks.Target(
                resource.url,
                ios_url=resource.ios_url,
                android_url=resource.android_url,
                phone_numbers=resource.phone_numbers or (),
            )
        report = checks.check_target(target, settings=checks.CheckSettings.from_env())
        with Session(engine) as session:
            result = checkrun.result_row(report.to_dict(), resource_id=resource_id, run_id=None)
            checkrun.keep_policy_text(session, result.policy_fingerprint, report.privacy.text)
            session.add(result)
            session.commit()


def _log_failure(future: Future) -> None:
    if future.exception() is not None:
        log.error("background check failed", exc_info=future.exception())


def check_soon(resource_id: int) -> Future:
    """Check an entry's URL in the background and keep the result; return the pending work."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions["registry.background"]
    future = state["executor"].submit(_check, app, resource_id)
    future.add_done_callback(_log_failure)
    state["pending"] = [f for f in state["pending"] if not f.done()] + [future]
    return future


def drain(app: Flask, timeout: float = 60) -> None:
    """Wait for the background work in hand to finish (the tests call it before they look)."""
    wait(app.extensions["registry.background"]["pending"], timeout=timeout)


def init_app(app: Flask) -> None:
    """Give the app a small pool of background workers."""
    app.extensions["registry.background"] = {
        "executor": ThreadPoolExecutor(max_workers=2, thread_name_prefix="registry-check"),
        "pending": [],
    }

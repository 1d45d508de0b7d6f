"""The job commands: `registry check` (one run, by hand) and `registry scheduler` (nightly)."""

import logging
import os
import signal
import sys
import time
from typing import NoReturn

import click
from sqlmodel import Session, select

import checks
from registry import faults
from registry.cli._common import make_app, prepare_database
from registry.db import get_engine
from registry.jobs.checkrun import NoSuchEntry
from registry.jobs.lock import LockHeld
from registry.jobs.scheduler import run_job, run_scheduler
from registry.models import CheckResult, Resource

# Exit statuses of `registry check`: 0 the run finished (whatever it found) or another run
# was already going; 1 an error (a bad setting, no such entry, the run failed, the database
# was away too long or its disk full).
EXIT_OK = 0
EXIT_ERROR = 1


def _app():
    app = make_app()
    prepare_database(app, seed=False)
    return app


def _settings():
    try:
        return checks.CheckSettings.from_env()
    except checks.SettingsError as exc:
        raise click.ClickException(str(exc)) from None


class _Progress:
    """Show progress on stderr: a bar on a terminal, a line per entry otherwise."""

    def __init__(self, *, quiet: bool):
        self.quiet, self.bar = quiet, None
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, name: str, verdict: str) -> None:
        if self.quiet:
            return
        if not self.tty:
            if done:
                click.echo(f"[{done}/{total}] {verdict:4}  {name}", err=True)
            else:
                click.echo(f"Checking {total} entries...", err=True)
            return
        if self.bar is None:
            self.bar = click.progressbar(
                length=total, label=f"Checking {total} entries", file=sys.stderr, show_pos=True
            )
            self.bar.__enter__()
        if done:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _stop(message: str, status: int) -> NoReturn:
    """Say why the run stopped and end the process at once."""
    click.echo(message, err=True)
    sys.stdout.flush(), sys.stderr.flush()
    # Checks still waiting on slow sites would hold the exit until their deadline.
    os._exit(status)


def _database_fault(exc: Exception) -> str | None:
    """Say in words what went wrong with the database, or None if it was something else."""
    if isinstance(exc, faults.DiskFull):
        return (
            f"Stopped: {exc}. They are kept. Free space on that disk, then run `registry check` "
            "again."
        )
    if isinstance(exc, faults.DatabaseUnavailable):
        return (
            f"Stopped: {exc}. The results stored before it went away are kept; the next run "
            "marks this one abandoned. Check that the database server is running, then run "
            "`registry check` again."
        )
    explained = faults.explain(exc)
    return f"Not checking: {explained}" if explained else None


def _summary(run, seconds: float) -> None:
    """Print the counts by verdict and a table of the entries that failed."""
    click.echo(
        f"Check run {run.id} {run.status} in {seconds:.0f} s: {run.total} entries, "
        f"{run.passed} pass, {run.warned} warn, {run.failed} fail."
    )
    with Session(get_engine()) as session:
        rows = session.exec(
            select(Resource.id, Resource.name, CheckResult)
            .join(CheckResult, CheckResult.resource_id == Resource.id)  # type: ignore[arg-type]
            .where(CheckResult.run_id == run.id, CheckResult.verdict == "fail")
            .order_by(Resource.name)
        ).all()
    if not rows:
        return
    click.echo("\nFailed:")
    head = f"{'ID':>5}  {'Entry':40}  {'Liveness':12}  {'HTTPS':17}  Privacy"
    click.echo(head)
    click.echo("-" * len(head))
    for rid, name, result in rows:
        short = name if len(name) <= 40 else name[:39] + "…"
        click.echo(
            f"{rid:>5}  {short:40}  {result.liveness_status:12}  {result.https_status:17}  "
            f"{result.privacy_status}"
        )


@click.command("check")
@click.option("--resource", "resource_id", type=int, help="Check only the entry with this id.")
@click.option("--no-progress", is_flag=True, help="Print only the summary at the end.")
def check(resource_id: int | None, no_progress: bool) -> None:
    """Run the checks once over every entry not retired, and store the results."""
    app = _app()
    settings = _settings()
    # A polite stop (SIGTERM) ends the run as abandoned and frees the lock, as Ctrl+C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    progress = _Progress(quiet=no_progress)
    started = time.monotonic()
    try:
        outcome = run_job(
            app,
            trigger="resource" if resource_id else "manual",
            resource_id=resource_id,
            progress=progress,
            settings=settings,
        )
    except LockHeld as exc:
        progress.close()
        click.echo(f"Not checking: {exc}.", err=True)
        sys.exit(EXIT_OK)
    except NoSuchEntry as exc:
        progress.close()
        raise click.ClickException(str(exc)) from None
    except (KeyboardInterrupt, SystemExit) as exc:
        progress.close()
        _stop(
            "Stopped. The results so far are kept; the run is marked abandoned.",
            130 if isinstance(exc, KeyboardInterrupt) else 143,
        )
    except Exception as exc:
        progress.close()
        message = _database_fault(exc)
        if message is None:
            raise
        _stop(message, EXIT_ERROR)
    progress.close()
    with app.app_context():
        if outcome.run.total == 0:
            click.echo(
                "The registry has no entries to check. Load the seed data with "
                "`registry seed` (or start `registry serve`), then try again."
            )
            return
        _summary(outcome.run, time.monotonic() - started)
    click.echo(f"Housekeeping: {outcome.housekeeping()}.")
    if outcome.mailed:
        click.echo(f"Sent the reviewers' digest to {outcome.mailed} people.")
    if outcome.mail_error:
        click.echo(f"Warning: {outcome.mail_error}", err=True)


@click.command("scheduler")
def scheduler() -> None:
    """Run the nightly check on its schedule, until stopped (no web app)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = _app()
    _settings()  # a bad checker setting is reported now, not at 02:30
    run_scheduler(app, announce=click.echo)

"""The `registry` command: serve the app, migrate the database, load the seed, check URLs."""

import sys
from pathlib import Path

import click
from flask import Flask

from checks.cli import check_url
from registry import create_app
from registry.cli.backup import register_backup
from registry.cli.exchange import export_command, import_command
from registry.cli.jobs import register_jobs
from registry.cli.tokens import token
from registry.cli.users import user
from registry.config import SettingError
from registry.exchange.seed import SeedError


def _app(**overrides) -> Flask:
    try:
        return create_app(overrides or None)
    except SettingError as exc:
        raise click.ClickException(str(exc)) from None


def prepare_database(app: Flask, *, seed: bool) -> int | None:
    """Migrate the database to the latest schema and, if asked, load the seed once."""
    from sqlmodel import Session

    from registry import migrate
    from registry.db import get_engine
    from registry.exchange import seed as seed_module
    from registry.models import SQLModel  # noqa: F401

    engine = get_engine(app)
    migrate.upgrade(engine)
    if not seed:
        return None
    with Session(engine) as session:
        return seed_module.load_once(session, Path(app.config["REGISTRY_SEED_FILE"]))


class _Registry(click.Group):
    """The command group: a database that cannot be reached is said plainly, not as a traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import DBAPIError

        from registry import faults

        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            message = faults.explain(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=_Registry)
@click.version_option(package_name="smi-resource-registry")
def main() -> None:
    """A registry of digital self-management resources for people with severe mental illness."""


@main.command()
@click.option(
    "--host", default=None, help="Address to listen on (REGISTRY_HOST, default 127.0.0.1)."
)
@click.option(
    "--port", type=int, default=None, help="Port to listen on (REGISTRY_PORT, default 5000)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Web processes (REGISTRY_WORKERS, default 1). More than one runs gunicorn and no "
    "in-process scheduler: run `registry scheduler` beside them.",
)
@click.option("--no-seed", is_flag=True, help="Do not load the seed data into a new database.")
@click.option(
    "--no-scheduler", is_flag=True, help="Do not run the nightly check here (REGISTRY_SCHEDULER=0)."
)
def serve(
    host: str | None, port: int | None, workers: int | None, no_seed: bool, no_scheduler: bool
) -> None:
    """Create or migrate the database, load the seed once, and serve the web app."""
    from registry import server
    from registry.db import get_engine

    overrides = {
        k: v
        for k, v in {
            "REGISTRY_HOST": host,
            "REGISTRY_PORT": port,
            "REGISTRY_WORKERS": workers,
        }.items()
        if v
    }
    app = _app(**overrides)
    try:
        added = prepare_database(app, seed=not no_seed)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    if added:
        click.echo(f"Loaded {added} seed entries from {app.config['REGISTRY_SEED_FILE']}.")
    host, port = app.config["REGISTRY_HOST"], app.config["REGISTRY_PORT"]
    workers = app.config["REGISTRY_WORKERS"]
    threads = app.config["REGISTRY_THREADS"]
    try:
        if workers > 1:
            get_engine(app).dispose()  # the workers open their own connections after the fork
            click.echo(
                f"Serving the registry on http://{host}:{port}/ with {workers} processes "
                "(press Ctrl+C to stop). The nightly check runs in `registry scheduler`."
            )
            server.serve_workers(host, port, workers=workers, threads=threads, settings=overrides)
            return
        if app.config["REGISTRY_SCHEDULER"] and not no_scheduler:
            from registry.jobs.scheduler import start_background_scheduler

            start_background_scheduler(app)
        click.echo(f"Serving the registry on http://{host}:{port}/ (press Ctrl+C to stop).")
        server.serve_one_process(app, host, port, threads)
    except server.ListenError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror}. "
            "Is another server using it? Choose another with --port."
        ) from None


@main.group()
def db() -> None:
    """Manage the database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (running it again changes nothing)."""
    from registry import migrate
    from registry.db import get_engine

    app = _app()
    engine = get_engine(app)
    migrate.upgrade(engine)
    click.echo(f"Database is at revision {migrate.current_revision(engine)}.")


@main.command("seed")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
def seed_command(file: Path | None) -> None:
    """Add the entries of a seed CSV that are not in the registry yet (all or nothing)."""
    from sqlmodel import Session

    from registry import migrate
    from registry.db import get_engine
    from registry.exchange import seed as seed_module

    app = _app()
    engine = get_engine(app)
    migrate.upgrade(engine)
    path = file or Path(app.config["REGISTRY_SEED_FILE"])
    try:
        with Session(engine) as session:
            added = seed_module.load(session, path)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Added {added} entries from {path}.")


main.add_command(check_url)
main.add_command(user)
main.add_command(import_command)
main.add_command(export_command)
main.add_command(token)
register_backup(main)
register_jobs(main)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The `registry` command: serve the app, migrate the database, load the seed, check URLs."""

import gc
import sys
from pathlib import Path

import click
from flask import Flask

from checks.cli import check_url
from registry import create_app
from registry.api_cli import token
from registry.config import SettingError
from registry.exchange_cli import export_command, import_command
from registry.jobs_cli import register_jobs
from registry.seed import SeedError
from registry.users_cli import user


def _app(**overrides) -> Flask:
    try:
        return create_app(overrides or None)
    except SettingError as exc:
        raise click.ClickException(str(exc)) from None


def prepare_database(app: Flask, *, seed: bool) -> int | None:
    """Migrate the database to the latest schema and, if asked, load the seed once."""
    from sqlmodel import Session

    from registry import migrate
    from registry import seed as seed_module
    from registry.db import get_engine
    from registry.models import SQLModel  # noqa: F401

    engine = get_engine(app)
    migrate.upgrade(engine)
    if not seed:
        return None
    with Session(engine) as session:
        return seed_module.load_once(session, Path(app.config["REGISTRY_SEED_FILE"]))


@click.group()
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
@click.option("--no-seed", is_flag=True, help="Do not load the seed data into a new database.")
@click.option(
    "--no-scheduler", is_flag=True, help="Do not run the nightly check here (REGISTRY_SCHEDULER=0)."
)
def serve(host: str | None, port: int | None, no_seed: bool, no_scheduler: bool) -> None:
    """Create or migrate the database, load the seed once, and serve the web app."""
    import waitress

    overrides = {k: v for k, v in {"REGISTRY_HOST": host, "REGISTRY_PORT": port}.items() if v}
    app = _app(**overrides)
    try:
        added = prepare_database(app, seed=not no_seed)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    if added:
        click.echo(f"Loaded {added} seed entries from {app.config['REGISTRY_SEED_FILE']}.")
    if app.config["REGISTRY_SCHEDULER"] and not no_scheduler:
        from registry.scheduler import start_background_scheduler

        start_background_scheduler(app)
    # Everything loaded so far lives as long as the server: keep it out of the garbage collector's
    # full sweeps, which otherwise pause requests (measured in tests/bench/search_latency.py).
    gc.freeze()
    host, port = app.config["REGISTRY_HOST"], app.config["REGISTRY_PORT"]
    click.echo(f"Serving the registry on http://{host}:{port}/ (press Ctrl+C to stop).")
    try:
        waitress.serve(
            app, host=host, port=port, threads=app.config["REGISTRY_THREADS"], ident="registry"
        )
    except OSError as exc:
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
    from registry import seed as seed_module
    from registry.db import get_engine

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
register_jobs(main)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

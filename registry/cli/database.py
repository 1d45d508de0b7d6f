"""`registry db upgrade` and `registry seed`: the schema and the seed, by hand."""

from pathlib import Path

import click
from sqlmodel import Session

from registry import migrate
from registry.cli._common import make_app
from registry.db import get_engine
from registry.exchange import seed as seed_module
from registry.exchange.seed import SeedError


@click.group()
def db() -> None:
    """Manage the database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (running it again changes nothing)."""
    app = make_app()
    engine = get_engine(app)
    migrate.upgrade(engine)
    click.echo(f"Database is at revision {migrate.current_revision(engine)}.")


@click.command("seed")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
def seed_command(file: Path | None) -> None:
    """Add the entries of a seed CSV that are not in the registry yet (all or nothing)."""
    app = make_app()
    engine = get_engine(app)
    migrate.upgrade(engine)
    path = file or Path(app.config["REGISTRY_SEED_FILE"])
    try:
        with Session(engine) as session:
            added = seed_module.load(session, path)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Added {added} entries from {path}.")

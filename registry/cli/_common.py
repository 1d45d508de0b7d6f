"""What every command group shares: the app, its migrated database, a session on it.

The leaves of registry.cli import this module, never registry.cli itself: the root imports
the leaves to add their commands, so the other way round would be a cycle.
"""

from pathlib import Path

import click
from flask import Flask
from sqlmodel import Session

from registry import create_app, migrate
from registry.config import SettingError
from registry.db import get_engine
from registry.exchange import seed as seed_module


def make_app(**overrides) -> Flask:
    """Build the app from the settings; a bad setting stops the command with its message."""
    try:
        return create_app(overrides or None)
    except SettingError as exc:
        raise click.ClickException(str(exc)) from None


def prepare_database(app: Flask, *, seed: bool) -> int | None:
    """Migrate the database to the latest schema and, if asked, load the seed once."""
    engine = get_engine(app)
    migrate.upgrade(engine)
    if not seed:
        return None
    with Session(engine) as session:
        return seed_module.load_once(session, Path(app.config["REGISTRY_SEED_FILE"]))


def open_session() -> Session:
    """Open a session on the configured, migrated database, for a command."""
    engine = get_engine(make_app())
    migrate.upgrade(engine)
    return Session(engine)

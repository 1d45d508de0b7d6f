"""`registry backup` and `registry restore`: the whole database to one file and back."""

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from registry.backup import services as backup
from registry.cli._common import make_app


def _database_url() -> str:
    return make_app().config["DATABASE_URL"]


@click.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it already exists.")
def backup_command(file: Path, force: bool) -> None:
    """Write a backup of the whole database to FILE, safely while the registry runs.

    SQLite: a copy of the database file. PostgreSQL: a pg_dump archive (custom format). FILE
    appears only once complete. It holds everything, password hashes included: keep it private.
    """
    try:
        made = backup.backup(_database_url(), file, force=force)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote {file} ({made.size:,} bytes, schema revision {made.revision}).")
    click.echo(f"It holds {made.describe()}.")


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(file: Path, yes: bool) -> None:
    """Replace everything in the database with the backup in FILE.

    Stop the web processes and the scheduler first, and start them again afterwards. FILE is
    checked before anything changes; a restore that fails leaves the database as it was. The
    restored database is then migrated to this version's schema.
    """
    url = _database_url()
    try:
        revision = backup.check(url, file)
        if not yes:
            shown = make_url(url).render_as_string(hide_password=True)
            click.confirm(
                f"Replace everything in {shown} with {file} (schema revision {revision})?",
                abort=True,
            )
        restored = backup.restore(url, file)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {file}; the database is at schema revision {restored.revision}.")
    click.echo(f"It holds {restored.describe()}.")

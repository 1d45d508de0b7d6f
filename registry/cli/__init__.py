"""The `registry` command: serve the app, migrate the database, load the seed, check URLs.

Each command group is a module of this package; this root adds them, and they never import it.
"""

import click
from sqlalchemy.exc import DBAPIError

from checks.cli import check_url
from registry import faults
from registry.cli.backup import register_backup
from registry.cli.database import db, seed_command
from registry.cli.exchange import export_command, import_command
from registry.cli.jobs import register_jobs
from registry.cli.serve import serve
from registry.cli.tokens import token
from registry.cli.users import user


class _Registry(click.Group):
    """The command group: a database that cannot be reached is said plainly, not as a traceback."""

    def invoke(self, ctx: click.Context):
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


main.add_command(serve)
main.add_command(db)
main.add_command(seed_command)
main.add_command(check_url)
main.add_command(user)
main.add_command(import_command)
main.add_command(export_command)
main.add_command(token)
register_backup(main)
register_jobs(main)

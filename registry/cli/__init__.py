"""The `registry` command: serve the app, migrate the database, load the seed, check URLs.

Each command group is a module of this package; this root adds them, and they never import it.
"""

import importlib
import sys

import click

# Each command and the module attribute that holds it, imported only when it runs (or when
# --help lists them): `registry check-url` needs checks/ alone, not Flask and the database,
# and spends the memory it saves on its worker processes.
COMMANDS = {
    "backup": "registry.cli.backup:backup_command",
    "check": "registry.cli.jobs:check",
    "check-url": "checks.cli:check_url",
    "db": "registry.cli.database:db",
    "export": "registry.cli.exchange:export_command",
    "import": "registry.cli.exchange:import_command",
    "restore": "registry.cli.backup:restore_command",
    "scheduler": "registry.cli.jobs:scheduler",
    "seed": "registry.cli.database:seed_command",
    "serve": "registry.cli.serve:serve",
    "token": "registry.cli.tokens:token",
    "user": "registry.cli.users:user",
}


class _Registry(click.Group):
    """The command group: commands loaded as they are asked for; a database that cannot be
    reached is said plainly, not as a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attribute)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Only a command that used the database can have raised its error.
            if "sqlalchemy" in sys.modules:
                from sqlalchemy.exc import DBAPIError

                from registry import faults

                message = faults.explain(exc) if isinstance(exc, DBAPIError) else None
                if message is not None:
                    raise click.ClickException(message) from None
            raise


@click.group(cls=_Registry)
@click.version_option(package_name="smi-resource-registry")
def main() -> None:
    """A registry of digital self-management resources for people with severe mental illness."""

"""`registry user …`: accounts from the command line, such as the first admin."""

import sys

import click
from sqlmodel import Session, select

from registry.accounts import services as accounts
from registry.cli._common import open_session
from registry.models import User
from registry.vocab import Role


def active_account(session: Session, email: str, *, option: str = "--as"):
    """Return the active account with this email, or stop the command saying what to do."""
    found = accounts.find(session, email)
    if found is None:
        raise click.BadParameter(
            f"there is no account for {email}. Give the email of an existing staff account, "
            f"or add one first: registry user add {email} --role admin",
            param_hint=f"'{option}'",
        )
    if not found.active:
        raise click.BadParameter(
            f"the account {found.email} is disabled. Give the email of an active account, "
            "or ask an admin to enable it again.",
            param_hint=f"'{option}'",
        )
    return found


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("No password was given on standard input.")
    return password


@click.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="What the account may do.",
)
@click.option("--name", default=None, help="The person's name, as reviewers will see it.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def add(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Add an account; without --password-stdin, print a one-time password to give the person."""
    one_time = not password_stdin
    password = _read_password() if password_stdin else accounts.one_time_password()
    with open_session() as session:
        try:
            created = accounts.create(
                session, email=email, role=role, name=name, password=password, one_time=one_time
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"Added {created.email} as {role}.")
    if one_time:
        click.echo(f"One-time password: {password}")
        click.echo("They must choose their own password when they first sign in.")


@user.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def reset_password(email: str, password_stdin: bool) -> None:
    """Give an account a new password (one-time unless --password-stdin); end its sessions."""
    one_time = not password_stdin
    password = _read_password() if password_stdin else accounts.one_time_password()
    with open_session() as session:
        found = accounts.find(session, email)
        if found is None:
            raise click.ClickException(f"There is no account for {email}.")
        try:
            accounts.set_password(session, found, password, by=None, one_time=one_time)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(
        f"Password of {email} replaced." + (f"\nOne-time password: {password}" if one_time else "")
    )


@user.command("list")
def list_users() -> None:
    """List the accounts with their roles."""
    with open_session() as session:
        for account in session.exec(select(User).order_by(User.email)):
            status = "" if account.active else " (disabled)"
            click.echo(f"{account.email}\t{account.role}{status}")

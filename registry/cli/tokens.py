"""`registry token …`: API tokens for programs that read the registry as an account."""

import click

from registry.accounts import tokens as api_tokens
from registry.cli._common import open_session


@click.group()
def token() -> None:
    """Manage API tokens (sent as `Authorization: Bearer <secret>`)."""


@token.command("create")
@click.argument("email")
@click.option("--name", default=None, help="What the token is for, to tell tokens apart.")
def create(email: str, name: str | None) -> None:
    """Make a token for the account EMAIL and print its secret (shown this once only)."""
    with open_session() as session:
        try:
            made, secret = api_tokens.create(session, email=email, name=name)
        except api_tokens.TokenError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"Token {made.id} ({made.name}) for {email.strip().lower()}:", err=True)
        click.echo(secret)
        click.echo("Keep the secret safe: it is not stored and cannot be shown again.", err=True)


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def revoke(token_id: int) -> None:
    """Stop the token ID working."""
    with open_session() as session:
        try:
            api_tokens.revoke(session, token_id)
        except api_tokens.TokenError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"Token {token_id} is revoked.")


@token.command("list")
@click.argument("email", required=False)
def list_tokens(email: str | None) -> None:
    """List tokens (of one account, or all): id, account, name, created, last used, revoked."""
    with open_session() as session:
        for made, user in session.exec(api_tokens.tokens(email)).all():
            used = made.last_used_at.isoformat(timespec="seconds") if made.last_used_at else "never"
            revoked = (
                f"revoked {made.revoked_at.isoformat(timespec='seconds')}"
                if made.revoked_at
                else ""
            )
            click.echo(
                f"{made.id}\t{user.email}\t{made.name}\t"
                f"{made.created_at.isoformat(timespec='seconds')}\t{used}\t{revoked}".rstrip()
            )

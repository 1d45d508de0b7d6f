"""`registry import` and `registry export`: the registry in and out as CSV, JSON or HSDS 3."""

from pathlib import Path

import click

from registry.cli._common import open_session
from registry.cli.users import active_account
from registry.exchange import services as exchange
from registry.exchange.seed import RowError


def _short(value: object) -> str:
    text = "empty" if value in (None, []) else repr(value)
    return text if len(text) <= 50 else text[:47] + "…"


def _report(planned: exchange.Plan, *, dry_run: bool, unit: str) -> None:
    would = "Would " if dry_run else ""
    verb = {"add": "add" if dry_run else "Added", "change": "change" if dry_run else "Changed"}
    if planned.additions:
        click.echo(f"{would}{verb['add']} {len(planned.additions)} entries:")
        for line, data in planned.additions:
            click.echo(f"  {unit} {line}: {data.name} ({data.url})")
    if planned.changes:
        click.echo(f"{would}{verb['change']} {len(planned.changes)} entries:")
        for change in planned.changes:
            click.echo(f"  {unit} {change.line}: {change.resource.name} (id {change.resource.id})")
            for name, (old, new) in change.changes.items():
                click.echo(f"      {name}: {_short(old)} → {_short(new)}")
    if planned.unchanged:
        click.echo(f"{len(planned.unchanged)} entries already in the registry, unchanged.")


def _rejections(errors: list[RowError], verb: str = "Rejected") -> str:
    shown = "\n".join(f"  {error}" for error in errors[:50])
    more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
    return f"{verb} {len(errors)} problem(s):\n{shown}{more}"


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(exchange.FORMATS), default=None,
    help="The file's format (default: told from its name and content).",
)  # fmt: skip
@click.option(
    "--as", "as_email", metavar="EMAIL", default=None,
    help="Required, dry runs too: the staff account running the import. It is named in the "
    "history and is the suggester of every entry added, so someone else must approve them.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Say what would be added, changed and rejected.")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows even if some are bad.")
def import_command(
    file: Path, fmt: str | None, as_email: str | None, dry_run: bool, skip_invalid: bool
) -> None:
    """Add and update entries from a CSV, JSON or HSDS 3 file, matched by URL (all or nothing).

    A decided entry whose address, kind or store links the file changes goes back to review.
    """
    if not (as_email or "").strip():
        raise click.UsageError(
            "Say who is importing: --as EMAIL, the email of an active staff account (dry runs "
            "too). The entries it adds are that person's suggestions: another reviewer decides."
        )
    try:
        fmt, rows, errors = exchange.read_file(file, fmt)
    except exchange.ExchangeError as exc:
        raise click.ClickException(f"{file} {exc}") from None
    if errors and not rows and any(error.line == 0 for error in errors):
        hint = "Is it a CSV file whose first row names the columns?" if fmt == "csv" else ""
        raise click.ClickException(f"{file}: nothing was imported.\n{_rejections(errors)}\n{hint}")
    unit = "line" if fmt == "csv" else "entry"
    with open_session() as session:
        importer = active_account(session, as_email)
        planned = exchange.plan(session, rows, errors)
        if dry_run:
            _report(planned, dry_run=True, unit=unit)
            if planned.rejections:
                click.echo(_rejections(planned.rejections, "Would reject"))
            click.echo(f"Dry run of {file} ({fmt}): nothing was changed.")
            return
        if planned.rejections and not skip_invalid:
            raise click.ClickException(
                f"{file}: nothing was imported.\n{_rejections(planned.rejections)}\n"
                "Fix these rows, or run again with --skip-invalid to import the others."
            )
        try:
            exchange.apply(
                session, planned, source=file.name, user=importer, skip_invalid=skip_invalid
            )
        except exchange.ExchangeError as exc:
            raise click.ClickException(f"{file}: nothing was imported: {exc}") from None
        _report(planned, dry_run=False, unit=unit)
    if planned.rejections:
        click.echo(_rejections(planned.rejections) + " (skipped)")
    click.echo(
        f"Imported {file} ({fmt}): {len(planned.additions)} added, "
        f"{len(planned.changes)} changed, {len(planned.unchanged)} unchanged, "
        f"{len(planned.rejections)} rejected."
    )


@click.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(exchange.FORMATS), default="csv", show_default=True,
    help="CSV or JSON as in the design, or HSDS 3 services.",
)  # fmt: skip
@click.option("--recommended-only", is_flag=True, help="Only the recommended entries.")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write to this file (default: standard output).",
)  # fmt: skip
def export_command(fmt: str, recommended_only: bool, output: Path | None) -> None:
    """Write the registry (or its recommended entries) as CSV, JSON or HSDS 3."""
    with open_session() as session:
        # At the command line, the whole registry is an administrator's: proposals included.
        records = exchange.export_records(
            session, recommended_only=recommended_only, proposals=not recommended_only
        )
    text = exchange.WRITERS[fmt](records)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"Wrote {len(records)} entries to {output} ({fmt}).", err=True)

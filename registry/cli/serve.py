"""`registry serve`: migrate the database, load the seed once, and serve the web app."""

import click

from registry import server
from registry.cli._common import make_app, prepare_database
from registry.db import get_engine
from registry.exchange.seed import SeedError
from registry.jobs.scheduler import start_background_scheduler


@click.command()
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
    overrides = {
        k: v
        for k, v in {
            "REGISTRY_HOST": host,
            "REGISTRY_PORT": port,
            "REGISTRY_WORKERS": workers,
        }.items()
        if v
    }
    app = make_app(**overrides)
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
            start_background_scheduler(app)
        click.echo(f"Serving the registry on http://{host}:{port}/ (press Ctrl+C to stop).")
        server.serve_one_process(app, host, port, threads)
    except server.ListenError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror}. "
            "Is another server using it? Choose another with --port."
        ) from None

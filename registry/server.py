"""The web server behind `registry serve`: waitress in one process, or gunicorn with several.

One process (the default) suits the embedded demo and small teams. A trust or region runs
several web processes (`--workers N`, gunicorn's pre-fork model; Linux and macOS) and one
`registry scheduler` beside them, all on one PostgreSQL database. Each web process listens
for PostgreSQL's notices of changed data (catalogue/notices.py).
"""

import gc
import os

from flask import Flask

from registry import create_app
from registry.catalogue import notices


class ListenError(OSError):
    """The address cannot be listened on (taken, or not this machine's)."""


def _keep_out_of_gc() -> None:
    # Everything loaded so far lives as long as the server: keep it out of the garbage collector's
    # full sweeps, which otherwise pause requests (measured in tests/bench/search_latency.py).
    gc.freeze()


def serve_one_process(app: Flask, host: str, port: int, threads: int) -> None:
    """Serve app with waitress in this process until stopped."""
    import waitress

    notices.start(app)
    _keep_out_of_gc()
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="registry")
    except OSError as exc:
        raise ListenError(exc.errno, exc.strerror) from None


def serve_workers(
    host: str, port: int, *, workers: int, threads: int, settings: dict | None = None
) -> None:
    """Serve with gunicorn: a master process and `workers` processes of `threads` threads each.

    Each worker builds its own app (and so its own database connections) after the fork, from
    the environment and the command's own settings, as the master did. The workers share one
    file of kept public pages and result cards (catalogue/keeping.py), in a folder of this
    server's own that only its user can open, removed when it stops.
    """
    import shutil
    import socket
    import tempfile

    from gunicorn.app.base import BaseApplication

    # gunicorn retries a taken port for several seconds and then exits; say it plainly at once.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ListenError(exc.errno, exc.strerror) from None

    class Registry(BaseApplication):
        def load_config(self) -> None:
            for name, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "proc_name": "registry",
                # A worker stuck this long is restarted; the slowest pages take well under 1 s.
                "timeout": 60,
                "graceful_timeout": 20,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
            }.items():
                self.cfg.set(name, value)

        def load(self) -> Flask:
            app = create_app({**(settings or {}), "REGISTRY_KEPT_FILE": kept})
            notices.start(app)  # in the worker, after the fork
            _keep_out_of_gc()
            return app

    folder = tempfile.mkdtemp(prefix="registry-kept-")  # mode 700
    kept = os.path.join(folder, "kept.sqlite")
    master = os.getpid()
    try:
        Registry().run()
    finally:
        if os.getpid() == master:  # a worker leaves through here too, when it stops
            shutil.rmtree(folder, ignore_errors=True)

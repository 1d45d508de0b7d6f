"""A throw-away PostgreSQL server of our own, for the tests and the benchmarks.

It runs Debian's packaged server binaries (``apt-get install postgresql``; ./scripts/test does it)
on a temporary data folder, listening on 127.0.0.1 only, on a free port, its socket in that
folder, with trust authentication. Any system cluster is left alone. As root it runs as the
``postgres`` user, since initdb and pg_ctl refuse root.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

MISSING = (
    "PostgreSQL's server binaries were not found under /usr/lib/postgresql/*/bin. "
    "Install Debian's package (`sudo apt-get install -y postgresql`; ./scripts/test does it), "
    "or set REGISTRY_TEST_PG_BIN to a directory holding initdb, pg_ctl and postgres."
)


class PostgresUnavailable(RuntimeError):
    """The server could not be found, set up or started; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bin_dir(override: str | None = None) -> Path:
    """Return the newest installed PostgreSQL's bin directory (or the override)."""
    candidates = [override] if override else glob.glob("/usr/lib/postgresql/*/bin")
    found = [Path(d) for d in candidates if (Path(d) / "initdb").is_file()]
    if not found:
        raise PostgresUnavailable(MISSING)
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


class PostgresServer:
    """One server: ``start()``, ``stop()``, ``url(database)``; a context manager too."""

    def __init__(self, *, bin_override: str | None = None, settings: dict[str, str] | None = None):
        self.bin = bin_dir(bin_override)
        self.root = Path(tempfile.mkdtemp(prefix="registry-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = free_port()
        self.settings = {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            **(settings or {}),
        }
        self._as_postgres: list[str] = []
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("Running as root needs runuser (util-linux).")
            try:
                shutil.chown(self.root, user="postgres", group="postgres")
            except LookupError:
                raise PostgresUnavailable(
                    f"No `postgres` user to run the server as. {MISSING}"
                ) from None
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip

    @property
    def server(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def url(self, database: str = "postgres") -> str:
        return f"{self.server}/{database}"

    def tool(self, name: str) -> Path:
        """The path of one of this server's client programs (pg_dump, psql, …)."""
        return self.bin / name

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self._as_postgres, *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            server_log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}{server_log}"
            )

    def start(self) -> "PostgresServer":
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} " + " ".join(
            f"-c {name}={value}" for name, value in self.settings.items()
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", options, "-w", "start")  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; "immediate" is what a crash or a pulled plug looks like to clients."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE DATABASE and the like)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()

    def remove(self) -> None:
        try:
            self.stop()
        except PostgresUnavailable:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        try:
            return self.start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def __exit__(self, *_exc) -> None:
        self.remove()

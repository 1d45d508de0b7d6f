"""Benchmark: the nightly job (`registry check`) at scale, on SQLite and on PostgreSQL.

For each backend and each size (10,000 entries, and 1,000 beside it for comparison), a new
database is made as the project makes one (`registry db upgrade`), the entries are inserted in
bulk (SQL through SQLAlchemy on registry.models' tables: 70% recommended, 30% suggested, a few
tags each), and one `registry check --no-progress` runs over them against the site farm of
tests/bench/farm.py (1,000 loopback sites, every answer after 50 ms). Entries share the sites,
each with its own address on one: http://127.10.0.1:18080/r/17 redirects to https://…/r/17, a
home page linking a privacy policy. Printed per backend and size: wall, CPU and peak memory of
the job's process tree (the summed RSS of it and all its descendants, polled every 20 ms), the
requests the sites saw, the database's growth over the run (SQLite: the file and its -wal;
PostgreSQL: pg_database_size), the results stored, and the ratio of peak memory at the largest
size to the smallest (target: within 1.5x).

    .venv/bin/python tests/bench/nightly_scale.py [--entries 10000] [--compare 1000] [--sites 1000]
        [--backends sqlite,postgresql] [--concurrency N] [--https]

PostgreSQL is a throwaway server of the benchmark's own (tests/pgserver.py: Debian's binaries,
its own port and socket folder, as the postgres user when run as root), with fsync and
synchronous commits on, as SQLite's default is; without the binaries only SQLite runs.
Run by hand, never by pytest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import farm
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from registry.entries.schemas import url_key  # noqa: E402
from registry.models import CheckResult, CheckRun, Resource, ResourceTag  # noqa: E402
from tests import pgserver  # noqa: E402

MEMORY_RATIO = 1.5  # the target: peak memory at the largest size within this of the smallest
REQUESTS_PER_ENTRY = 4  # the http:// redirect, the page, the soft-404 probe, the policy
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
KINDS = ("app", "website", "forum", "helpline")
CONDITIONS = ("psychosis", "bipolar", "schizophrenia", "smi")
PLATFORMS = ("web", "ios", "android")


@dataclass
class Outcome:
    backend: str
    entries: int
    m: farm.Measured
    requests: int
    farm_cpu: float
    before: int  # bytes
    after: int
    stored: int
    run: str


# --- the database ----------------------------------------------------------------------------


class Database:
    """One new, empty database for one run: its environment for the registry, its size."""

    def __init__(self, backend: str, name: str, folder: Path, pg: pgserver.PostgresServer | None):
        self.backend = backend
        if backend == "sqlite":
            # The embedded default: no DATABASE_URL, the file in the instance folder.
            self.instance = folder / name
            self.instance.mkdir()
            self.file = self.instance / "registry.sqlite3"
            self.url = f"sqlite:///{self.file}"
            self.env = {"REGISTRY_INSTANCE_PATH": str(self.instance)}
        else:
            assert pg is not None
            pg.execute(f"CREATE DATABASE {name} TEMPLATE template0")
            self.url = pg.url(name)
            self.env = {"DATABASE_URL": self.url, "SECRET_KEY": "benchmark-only-not-secret"}

    def engine(self) -> Engine:
        return create_engine(self.url)

    def size(self) -> int:
        """Bytes the database takes: SQLite's file and its -wal; PostgreSQL's pg_database_size."""
        if self.backend == "sqlite":
            files = (self.file, self.file.with_name(self.file.name + "-wal"))
            return sum(f.stat().st_size for f in files if f.exists())
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        finally:
            engine.dispose()


def populate(engine: Engine, count: int, sites: int, *, https: bool) -> None:
    """Insert count entries the nightly job checks (none retired), a few tags each."""
    now = datetime.now(UTC)
    decided_at, due = now - timedelta(days=30), (now + timedelta(days=335)).date()
    with engine.begin() as conn:
        for start in range(0, count, 2000):
            resources, tags = [], []
            for i in range(start, min(count, start + 2000)):
                rid = i + 1
                url = farm.site_url(i % sites, f"/r/{rid}", https=https)
                decided = i % 10 < 7
                resources.append({
                    "id": rid, "name": f"Resource {rid}", "url": url, "url_key": url_key(url),
                    "kind": KINDS[i % len(KINDS)], "provider": f"Provider {i % 97}",
                    "description": "Self-management for people living with bipolar disorder.",
                    "cost": "free", "state": "recommended" if decided else "suggested",
                    "decision": "recommended" if decided else None,
                    "decided_at": decided_at if decided else None,
                    "review_due": due if decided else None, "suggested_by_label": "seed data",
                    "version": 1, "created_at": now, "updated_at": now,
                })  # fmt: skip
                tags += [
                    {"resource_id": rid, "facet": "condition", "value": CONDITIONS[i % 4]},
                    {"resource_id": rid, "facet": "platform", "value": PLATFORMS[i % 3]},
                    {"resource_id": rid, "facet": "language", "value": "en"},
                ]
            conn.execute(Resource.__table__.insert(), resources)
            conn.execute(ResourceTag.__table__.insert(), tags)
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('resource', 'id'), :n)"), {"n": count}
            )


def stored_results(engine: Engine) -> tuple[int, str]:
    """Return the results the last run stored and how it ended."""
    with engine.connect() as conn:
        run = conn.execute(select(CheckRun.__table__).order_by(CheckRun.id.desc())).first()
        if run is None:
            return 0, "no run recorded"
        count = conn.execute(
            select(func.count())
            .select_from(CheckResult.__table__)
            .where(CheckResult.run_id == run.id)
        ).scalar()
    return count, f"{run.status}: {run.passed} pass, {run.warned} warn, {run.failed} fail"


# --- one run ---------------------------------------------------------------------------------


def registry_command() -> list[str]:
    script = Path(sys.executable).parent / "registry"
    return [str(script)] if script.exists() else [sys.executable, "-m", "registry.cli"]


def one_run(f: farm.Farm, db: Database, entries: int, args, base_env: dict) -> Outcome:
    env = {**base_env, **db.env}
    done = subprocess.run(
        [*registry_command(), "db", "upgrade"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"registry db upgrade failed on {db.backend}:\n{done.stdout}{done.stderr}")
    engine = db.engine()
    try:
        populate(engine, entries, args.sites, https=args.https)
    finally:
        engine.dispose()
    before = db.size()
    requests, farm_cpu = f.requests(), f.cpu()
    with tempfile.TemporaryFile() as out:
        m = farm.measure([*registry_command(), "check", "--no-progress"], env, stdout=out)
        out.seek(0)
        summary = out.read().decode(errors="replace").strip().splitlines()
    farm_cpu, requests = f.cpu() - farm_cpu, f.requests() - requests
    after = db.size()
    engine = db.engine()
    try:
        stored, run = stored_results(engine)
    finally:
        engine.dispose()
    if m.code != 0:
        print(
            f"registry check exited {m.code} on {db.backend}, {entries} entries:", file=sys.stderr
        )
        print("\n".join(summary[:20]), m.stderr[-3000:], file=sys.stderr)
    return Outcome(db.backend, entries, m, requests, farm_cpu, before, after, stored, run)


# --- the report ------------------------------------------------------------------------------


def report(args, load: float, settings: str, outcomes: list[Outcome]) -> None:
    MB = 1024 * 1024
    print(
        f"{args.sites} sites, {args.latency * 1000:.0f} ms per answer; entries at "
        f"{'https://' if args.https else 'http://'}<site>/r/<id>; one `registry check` per run"
    )
    print(f"checker settings: {settings}")
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} when the run began")
    print(
        f"{'backend':10} {'entries':>7} {'wall s':>7} {'ms/entry':>8} {'CPU s':>7} "
        f"{'peak MiB':>8} {'PSS MiB':>8} {'main HWM':>8} {'requests':>8} {'wall/floor':>10} "
        f"{'farm CPU':>8} {'DB before':>9} {'DB after':>9} {'growth':>8} {'B/result':>8} "
        f"{'stored':>7}  run"
    )
    for o in outcomes:
        floor = o.requests * args.latency / args.floor_concurrency
        growth = o.after - o.before
        print(
            f"{o.backend:10} {o.entries:7d} {o.m.wall:7.2f} {o.m.wall * 1000 / o.entries:8.2f} "
            f"{o.m.cpu:7.2f} {o.m.peak_mb:8.1f} {o.m.pss_mb:8.1f} {o.m.hwm_mb:8.1f} "
            f"{o.requests:8d} {o.m.wall / floor if floor else 0:10.2f} {o.farm_cpu:8.2f} "
            f"{o.before / MB:8.1f}M "
            f"{o.after / MB:8.1f}M {growth / MB:7.2f}M {growth / max(o.stored, 1):8.0f} "
            f"{o.stored:7d}  {o.run}; {o.m.seen}"
        )
    print(
        "peak MiB: the summed RSS of `registry check` and all its descendants (not the "
        "PostgreSQL server; PSS MiB: the same with shared pages counted once); main HWM: its "
        "own VmHWM; CPU: user + system of all of them; "
        f"floor: requests x latency / {args.floor_concurrency}; DB sizes in MiB"
    )
    targets = []
    for backend in dict.fromkeys(o.backend for o in outcomes):
        mine = sorted((o for o in outcomes if o.backend == backend), key=lambda o: o.entries)
        small, large = mine[0], mine[-1]
        if small is large:
            continue
        ratio = large.m.peak_mb / small.m.peak_mb
        print(
            f"{backend}: peak memory at {large.entries} / at {small.entries} entries = {ratio:.2f}; "
            f"wall {large.m.wall / small.m.wall:.2f}x for {large.entries / small.entries:.0f}x "
            "the entries"
        )
        targets.append((f"{backend} memory ratio within {MEMORY_RATIO}x", ratio <= MEMORY_RATIO))
    for o in outcomes:
        targets.append((f"{o.backend} {o.entries}: every entry stored", o.stored == o.entries))
    print("targets: " + "; ".join(f"{t}: {'yes' if ok else 'NO'}" for t, ok in targets))


def checker_settings(env: dict) -> tuple[str, int]:
    """Say what the checker will run with; return that and the concurrency in effect."""
    try:
        from checks.settings import CheckSettings

        s = CheckSettings.from_env(env)
    except Exception as exc:  # the checker is being changed under us: say so, carry on
        return f"could not be read ({exc!r})", int(env.get("REGISTRY_CHECK_CONCURRENCY") or 32)
    parts = [f"max_concurrency {s.max_concurrency}", f"max_per_host {s.max_per_host}"]
    if hasattr(s, "processes"):
        parts.append(f"worker processes {s.processes}")
    return ", ".join(parts), s.max_concurrency


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--compare", type=int, default=1_000, help="the smaller size (0: none)")
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--concurrency", type=int, help="REGISTRY_CHECK_CONCURRENCY (default: the checker's)"
    )
    ap.add_argument("--https", action="store_true", help="entries at https:// (no redirect)")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        sys.exit(f"--backends takes sqlite and postgresql, not {', '.join(sorted(unknown))}")
    sizes = sorted({args.compare, args.entries} - {0})

    load = os.getloadavg()[0]
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REGISTRY_INSTANCE_PATH", "SECRET_KEY")
    }
    base_env["PYTHONPATH"] = str(ROOT)
    base_env["REGISTRY_CHECK_ALLOW_NETWORKS"] = farm.ALLOW_NETWORKS
    if args.concurrency:
        base_env["REGISTRY_CHECK_CONCURRENCY"] = str(args.concurrency)

    pg = None
    if "postgresql" in backends:
        try:
            # Started before anything is measured (measuring adopts orphans, as the server is).
            pg = pgserver.PostgresServer(settings=DURABLE).start()
        except pgserver.PostgresUnavailable as exc:
            print(f"PostgreSQL skipped, SQLite only: {exc}", file=sys.stderr)
            backends.remove("postgresql")
    outcomes: list[Outcome] = []
    try:
        with farm.Farm(args.sites, args.latency) as f, tempfile.TemporaryDirectory() as folder:
            base_env["REQUESTS_CA_BUNDLE"] = str(f.ca)
            settings, args.floor_concurrency = checker_settings(base_env)
            for backend in backends:
                for n in sizes:
                    db = Database(backend, f"bench_{n}", Path(folder), pg)
                    print(f"{backend}, {n} entries ...", file=sys.stderr, flush=True)
                    outcomes.append(one_run(f, db, n, args, base_env))
            if pg is not None:
                settings += f"; PostgreSQL {pg.bin.parent.name} with " + ", ".join(
                    f"{k}={v}" for k, v in DURABLE.items()
                )
    finally:
        if pg is not None:
            pg.remove()
    report(args, load, settings, outcomes)


if __name__ == "__main__":
    main()

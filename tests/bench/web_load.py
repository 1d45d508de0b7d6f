"""Benchmark: the web app under load — gunicorn workers on PostgreSQL, concurrent clients.

Run by hand:  .venv/bin/python tests/bench/web_load.py [--workers 4] [--entries 10000]
                  [--clients 16,64] [--seconds 60] [--static-seconds 20] [--rounds 4]

It starts its own PostgreSQL server (Debian's binaries, as the tests do: its own port and data
folder, durable settings — fsync on), fills a database with generated entries, starts
`registry serve --workers N` on it, and runs client processes on loopback that load the pages
clinicians use — the catalogue with a search (words and filters drawn at random) and entry pages
(at random) — as fast as each answers, for the given time. It prints requests per second,
the median and 99th-percentile latency, and the errors (anything but a 200, and failed
connections), overall and per page. The baseline, in the same run: the same workers serving one
static file (the stylesheet) to the same number of clients; the mix's rate is also given as a
share of it. The two take turns (--rounds of each, sharing --seconds and --static-seconds), so
that a machine busier for a minute slows both, not one; the share is also given for each round.
Each number of clients in --clients is a run of its own. The clients run on the
same machine as the server and the database, so the figures are a floor for a server of its own.
"""

import argparse
import http.client
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.search_latency import WORDS, populate  # noqa: E402
from tests.pgserver import PostgresServer, free_port  # noqa: E402

FILTERS = [
    {},
    {},
    {"condition": "psychosis"},
    {"kind": "app"},
    {"kind": "forum", "moderated": "1"},
    {"platform": "android", "offline": "1"},
    {"cost": "free"},
    {"show": "all"},
]


def search_path(rng: random.Random) -> str:
    params = dict(rng.choice(FILTERS))
    words = rng.randint(0, 2)
    if words:
        params["q"] = " ".join(rng.sample(WORDS, words))
    if rng.random() < 0.2:
        params["page"] = str(rng.randint(2, 4))
    return "/" + ("?" + urlencode(params) if params else "")


STATIC = "/static/registry.css"


def client(
    port: int, entries: list[int], span: tuple[float, float], seed: int, queue, static=False
):
    """One client: a kept-alive connection, requests back to back from span's start to its end."""
    start, until = span
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {"search": [], "entry": [], "static": []}
    errors: dict[str, int] = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    time.sleep(max(0.0, start - time.monotonic()))  # all together, once every client is up
    while time.monotonic() < until:
        if static:
            page, path = "static", STATIC
        else:
            page = "search" if rng.random() < 0.6 else "entry"
            path = search_path(rng) if page == "search" else f"/resources/{rng.choice(entries)}"
        started = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        if status == 200:
            samples[page].append(elapsed)
        else:
            key = f"{page} {status}"
            errors[key] = errors.get(key, 0) + 1
    queue.put((samples, errors))


def public_entries(engine) -> list[int]:
    """Return the ids of the entries whose pages the public may open (the rest answer 404)."""
    from sqlmodel import Session, select

    from registry.entries import visibility
    from registry.models import Resource

    with Session(engine) as session:
        rows = session.exec(select(Resource.id, Resource.state, Resource.decision)).all()
    return [
        i
        for i, state, decision in rows
        if visibility.is_visible(visibility.Audience.PUBLIC, state, decision)
    ]


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def wait_for(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"registry serve stopped:\n{process.stdout.read()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("registry serve did not come up")


def run_clients(
    port: int, entries: list[int], clients: int, seconds: float, *, static=False, seed=0
):
    """Run clients processes for seconds; return their pooled samples, errors and the time.

    The clients start together, a moment after they are started (so the time does not count
    starting them), and their random choices are seeded seed, seed + 1, ...
    """
    queue: multiprocessing.Queue = multiprocessing.Queue()
    start = time.monotonic() + 0.5
    span = (start, start + seconds)
    processes = [
        multiprocessing.Process(target=client, args=(port, entries, span, seed + n, queue, static))
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    elapsed = time.monotonic() - start  # to the end of the last request
    for process in processes:
        process.join()
    return pooled([(samples, errors, elapsed) for samples, errors in results])[:2] + (elapsed,)


def pooled(runs: list[tuple[dict, dict, float]]) -> tuple[dict, dict, float]:
    """Return the samples, errors and time of several runs of run_clients as one run's."""
    samples: dict[str, list[float]] = {"search": [], "entry": [], "static": []}
    errors: dict[str, int] = {}
    for run_samples, run_errors, _elapsed in runs:
        for page, values in run_samples.items():
            samples[page].extend(values)
        for key, count in run_errors.items():
            errors[key] = errors.get(key, 0) + count
    return samples, errors, sum(elapsed for _s, _e, elapsed in runs)


def report(title: str, rows: list[tuple[str, list[float]]], errors, elapsed: float) -> float:
    """Print a table of rate, median and p99 per page; return the rate of the last row."""
    print(title)
    print(f"{'page':<8} {'requests':>9} {'req/s':>7} {'median ms':>10} {'p99 ms':>8}")
    rate = 0.0
    for name, values in rows:
        ordered = sorted(values)
        rate = len(ordered) / elapsed
        print(
            f"{name:<8} {len(ordered):>9,} {rate:>7.1f} "
            f"{statistics.median(ordered) if ordered else 0:>10.1f} "
            f"{percentile(ordered, 0.99):>8.1f}"
        )
    total = sum(len(v) for _, v in rows[-1:]) + sum(errors.values())
    print(f"errors: {sum(errors.values())} of {total:,} requests {errors or ''}".rstrip())
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--clients", default="16,64", help="numbers of clients, one run each")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--static-seconds", type=float, default=20)
    parser.add_argument(
        "--rounds", type=int, default=4,
        help="the static file and the mix take turns, this many times each, sharing the seconds",
    )  # fmt: skip
    args = parser.parse_args()
    runs = [int(n) for n in args.clients.split(",")]

    from registry import create_app
    from registry.cli._common import prepare_database
    from registry.db import get_engine

    durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    with PostgresServer(settings=durable) as server:
        server.execute("CREATE DATABASE registry")
        url = server.url("registry")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        prepare_database(app, seed=False)
        started = time.perf_counter()
        populate(get_engine(app), args.entries)
        public = public_entries(get_engine(app))
        get_engine(app).dispose()
        # The steady state: autovacuum clears the row versions the generation left (each tag
        # added rewrote its entry's search row) and gathers statistics within a minute or so.
        server.execute("VACUUM ANALYZE", database="registry")
        print(f"generated {args.entries:,} entries in {time.perf_counter() - started:.1f} s")

        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + os.urandom(8).hex()}
        web = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "serve", "--workers", str(args.workers),
             "--no-seed", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        measured = []
        try:
            wait_for(port, web)
            # A short warm-up: every worker builds its filter index on its first catalogue page.
            run_clients(port, public, args.workers * 2, 5)
            for clients in runs:
                statics, mixes = [], []
                for turn in range(args.rounds):
                    statics.append(
                        run_clients(
                            port, public, clients, args.static_seconds / args.rounds, static=True
                        )
                    )
                    # Seeds of their own: the warm-up's clients are seeded from 0.
                    seed = 1000 + turn * clients
                    mixes.append(
                        run_clients(port, public, clients, args.seconds / args.rounds, seed=seed)
                    )
                measured.append((clients, statics, mixes))
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)

    for clients, statics, mixes in measured:
        s_samples, s_errors, s_elapsed = pooled(statics)
        samples, errors, elapsed = pooled(mixes)
        head = (
            f"{args.workers} web processes (gunicorn, {os.cpu_count()} cores), PostgreSQL, "
            f"{args.entries:,} entries, {clients} clients"
        )
        static_rate = report(
            f"{head}: the baseline, {STATIC}, {s_elapsed:.0f} s",
            [("static", s_samples["static"])], s_errors, s_elapsed,
        )  # fmt: skip
        every = samples["search"] + samples["entry"]
        rate = report(
            f"{head}: searches and entry pages, {elapsed:.0f} s",
            [("search", samples["search"]), ("entry", samples["entry"]), ("all", every)],
            errors, elapsed,
        )  # fmt: skip
        turns = sorted(
            (len(m[0]["search"]) + len(m[0]["entry"])) / m[2] / (len(st[0]["static"]) / st[2])
            for st, m in zip(statics, mixes, strict=True)
        )
        print(
            f"ratio: the mix served {rate / static_rate:.0%} of the static rate"
            f" (each round: {', '.join(f'{t:.0%}' for t in turns)})\n"
        )


if __name__ == "__main__":
    main()

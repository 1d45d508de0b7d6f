"""Benchmark: the CPU one page costs the web process, beside a static file, in the same run.

Run by hand:  .venv/bin/python tests/bench/page_cost.py [--entries 10000] [--pages 1000]

It starts its own PostgreSQL server (as tests/bench/web_load.py does), fills a database with the
same generated entries, and makes the app as a web process of `registry serve` runs it, with its
listener for PostgreSQL's notices (catalogue/notices.py). Then, in this one thread, through
Flask's test client with no cookies (every request a first visit, as web_load.py's clients are),
it measures the CPU time (time.thread_time) each kind of request costs:

- the static file web_load.py's baseline asks for, and a bare 304 of a public page;
- a search page whose cards and order are kept (the same address again and again), and the
  same for a browser that sends its cookie (the difference is what a first visit costs: a new
  form token and a new session cookie);
- entry pages, at random;
- entry pages of 300 entries with a review and 30 nightly checks behind them, as in a registry
  that has run for a month (the generated entries have neither; these 300 are kept out of the
  mix's entry pages), each asked for once;
- searches with two words not searched before (after the warm-up, so the index is built);
- web_load.py's mix (60% searches, 40% entry pages), after a warm-up of 1,500 of them.

Each is printed in ms a request and as a multiple of the static file's. Then the parts of the
mix: the CPU spent, per request of the mix, in the functions that make a page (the template,
the cards, the order, the counts, an entry page's statements), and what the kept pages take.
The database's own CPU (another process) is not counted. Machines are noisy: compare the multiples, not the times.
"""

import argparse
import functools
import itertools
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.search_latency import WORDS, populate  # noqa: E402
from tests.bench.web_load import STATIC, public_entries, search_path  # noqa: E402
from tests.pgserver import PostgresServer  # noqa: E402


def cost(client, paths: list[str], headers: dict | None = None, status: int = 200) -> float:
    """Return the CPU time one request of paths costs, in ms, on average."""
    began = time.thread_time()
    for path in paths:
        response = client.get(path, headers=headers or {})
        assert response.status_code == status, (path, response.status_code)
    return (time.thread_time() - began) * 1000 / len(paths)


# A check report as the nightly job writes it (the contract in DESIGN.md), about 1 KB.
REPORT = {
    "url": "http://example.org/", "final_url": "https://example.org/", "verdict": "pass",
    "checked_at": "2026-11-26T02:30:00+00:00",
    "liveness": {"status": "up", "http_status": 200, "redirects": 1, "elapsed_ms": 212, "detail": ""},
    "https": {"status": "ok", "redirects_http_to_https": True, "hsts": True, "cert_days_left": 83, "detail": ""},
    "privacy": {"status": "found", "policy_url": "https://example.org/privacy", "detail": "",
                "trackers": [{"name": "Google Analytics", "host": "www.google-analytics.com"}]},
    "stores": [{"store": "app_store", "url": "https://apps.apple.com/gb/app/x/id123456789", "status": "listed",
                "http_status": 200, "last_updated": "2026-08-01", "version": "3.2", "detail": ""}],
    "contacts": [],
}  # fmt: skip


def add_histories(engine, ids: list[int], checks: int = 30) -> None:
    """Give each of these entries a standing review and `checks` nightly results."""
    from datetime import UTC, date, datetime, timedelta

    from sqlmodel import Session

    from registry.models import CheckResult, CheckRun, Review, User

    with Session(engine) as session:
        reviewer = User(email="bench-reviewer@example.org", role="reviewer", password_hash="-")
        runs = [CheckRun(status="finished") for _ in range(checks)]
        session.add_all([reviewer, *runs])
        session.flush()
        first = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)
        for entry_id in ids:
            session.add(Review(resource_id=entry_id, reviewer_id=reviewer.id, decision="recommended",
                               rationale="Clear, kind and well run; " * 12, valid_until=date(2027, 11, 1)))  # fmt: skip
            for night, run in enumerate(runs):
                session.add(CheckResult(run_id=run.id, resource_id=entry_id, url="https://example.org/",
                                        checked_at=first + timedelta(days=night), verdict="pass",
                                        liveness_status="up", https_status="ok", privacy_status="found",
                                        report=REPORT))  # fmt: skip
        session.commit()


def mix(rng: random.Random, entries: list[int], count: int) -> list[str]:
    return [
        search_path(rng) if rng.random() < 0.6 else f"/resources/{rng.choice(entries)}"
        for _ in range(count)
    ]


# The functions that make a page, by what the breakdown calls them.
PARTS = {
    "template": [("registry.catalogue.views", "render_template")],
    "cards made or taken": [("registry.catalogue.cards", "for_page")],
    "order of the page": [("registry.catalogue.ranking", "page_ids")],
    "counts": [("registry.catalogue.facets", name) for name in ("tally", "total", "count")],
    "data's version": [("registry.catalogue.caching", "data_version")],
    "entry with its tags": [("registry.catalogue.views", "visible_or_404")],
    "entry's decisions and checks": [
        ("registry.review.panel", "decision_history"),
        ("registry.entries.status", "history"),
        ("registry.entries.status", "reviewed_versions"),
    ],
}


def measure_parts(spent: Counter) -> None:
    """Wrap each part's functions so the CPU spent in them (outermost call only) is added up."""
    import importlib

    depth = [0]
    for part, names in PARTS.items():
        for module_name, name in names:
            module = importlib.import_module(module_name)
            original = getattr(module, name)

            @functools.wraps(original)
            def timed(*args, _original=original, _part=part, **kwargs):
                if depth[0]:
                    return _original(*args, **kwargs)
                depth[0] += 1
                began = time.thread_time()
                try:
                    return _original(*args, **kwargs)
                finally:
                    spent[_part] += time.thread_time() - began
                    depth[0] -= 1

            setattr(module, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=1_000, help="requests measured of each kind")
    args = parser.parse_args()
    spent: Counter = Counter()
    measure_parts(spent)  # before the app imports the views' names

    from registry import create_app
    from registry.catalogue import cards, kept_pages, notices
    from registry.cli._common import prepare_database
    from registry.db import get_engine

    durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    with PostgresServer(settings=durable) as server:
        server.execute("CREATE DATABASE registry")
        app = create_app({"DATABASE_URL": server.url("registry"), "SECRET_KEY": "bench"})
        prepare_database(app, seed=False)
        populate(get_engine(app), args.entries)
        entries = public_entries(get_engine(app))
        reviewed, entries = entries[:300], entries[300:]
        add_histories(get_engine(app), reviewed)
        server.execute("VACUUM ANALYZE", database="registry")
        watch = notices.start(app)
        try:
            while not watch.listening:
                time.sleep(0.05)
            client = app.test_client(use_cookies=False)
            rng = random.Random(5)
            warm_up = mix(rng, entries, 1_500)
            for path in warm_up:
                client.get(path)
            # Two words the warm-up did not search, in either order, with or without filters.
            seen = {
                frozenset(words.split())
                for path in warm_up
                for words in parse_qs(urlsplit(path).query).get("q", [])
            }
            new_pairs = [
                "/?" + urlencode({"q": " ".join(pair)})
                for pair in itertools.combinations(WORDS, 2)
                if frozenset(pair) not in seen
            ]
            rng.shuffle(new_pairs)
            pages = args.pages
            cold = cost(client, new_pairs[:pages])
            # A browser that kept the page kept its cookie too (the tag covers its form token).
            browser = app.test_client()
            tag = browser.get("/?q=mood").headers["ETag"]
            spent.clear()
            mixed = cost(client, mix(rng, entries, pages))
            parts = {part: seconds * 1000 / pages for part, seconds in spent.items()}
            rows = [
                ("static file", cost(client, [STATIC] * pages)),
                ("304 of a public page", cost(browser, ["/?q=mood"] * pages, {"If-None-Match": tag}, 304)),
                ("search, cards and order kept", cost(client, ["/?q=mood"] * pages)),
                # The same kept page for a browser that sent its cookie: no new form token and
                # no new session cookie, which a first visit (every request above) is given.
                ("the same, cookie sent", cost(browser, ["/?q=mood"] * pages)),
                ("entry page", cost(client, [f"/resources/{rng.choice(entries)}" for _ in range(pages)])),
                ("entry, review and 30 checks", cost(client, [f"/resources/{i}" for i in rng.sample(reviewed, len(reviewed))])),
                ("search, two new words", cold),
                ("the mix", mixed),
            ]  # fmt: skip
            with app.app_context():
                pages_kept, packed = kept_pages.held()
                cards_kept, cards_size = cards.held()
            # What the mix's pages weigh as sent (untimed, addresses of their own).
            sent = [len(client.get(path).data) for path in mix(rng, entries, 300)]
            search_page = len(client.get("/?q=mood").data)
        finally:
            watch.stop()
            get_engine(app).dispose()

    static = rows[0][1]
    print(f"PostgreSQL, {args.entries:,} entries, {pages:,} requests of each kind, one thread")
    print(f"{'request':<30} {'CPU ms':>7} {'x static':>9}")
    for name, ms in rows:
        print(f"{name:<30} {ms:>7.2f} {ms / static:>9.1f}")
    print("\nparts of the mix, CPU ms a request (the rest: Flask, the session, the headers)")
    for part, ms in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"{part:<30} {ms:>7.2f}")
    print(f"{'the rest':<30} {mixed - sum(parts.values()):>7.2f}")
    print(
        f"\npages kept at the end: {pages_kept:,}, {packed / 2**20:.1f} MB packed,"
        f" {packed / max(pages_kept, 1) / 1024:.1f} KB each; a page of the mix is"
        f" {statistics.mean(sent) / 1024:.1f} KB as sent, a search of one word"
        f" {search_page / 1024:.1f} KB"
    )
    print(f"cards kept at the end: {cards_kept:,}, {cards_size / 2**20:.1f} MB,"
          f" {cards_size / max(cards_kept, 1) / 1024:.2f} KB each")  # fmt: skip


if __name__ == "__main__":
    main()

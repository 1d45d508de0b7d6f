"""Benchmark: search latency over 50,000 generated entries, beside a plain LIKE scan.

Run by hand:  .venv/bin/python tests/bench/search_latency.py [--entries 50000] [--rounds 20]
                  [--backend sqlite|postgresql]
It prints the median and 95th percentile of the search function (results, count and filter
counts), of the search page rendered through the app (Flask's test client: the whole request,
without the network) both for a query not seen before and for a repeated one, and of a plain
LIKE scan of the same queries with the same filters, all in the same run on the same database,
and the ratio of the page's p95 to the scan's. With --backend postgresql it starts its own
PostgreSQL server (tests/pgserver.py, durable settings) and removes it afterwards.
"""

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import and_, exists, func, or_, select, text
from sqlmodel import Session
from werkzeug.datastructures import MultiDict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from registry import create_app  # noqa: E402
from registry.catalogue import cards, facets, kept_pages, ranking  # noqa: E402
from registry.catalogue.search import COLUMN_FACETS, TAG_FACETS, Filters  # noqa: E402
from registry.cli._common import prepare_database  # noqa: E402
from registry.db import get_engine  # noqa: E402
from registry.entries import visibility  # noqa: E402
from registry.models import Resource, ResourceTag  # noqa: E402
from tests.pgserver import PostgresServer  # noqa: E402


def _has_tag(facet: str, values):
    return exists().where(
        ResourceTag.resource_id == Resource.id,
        ResourceTag.facet == facet,
        ResourceTag.value.in_(sorted(values)),  # type: ignore[attr-defined]
    )


def _conditions(filters: Filters) -> list:
    """The filters as SQL conditions, for the LIKE baseline (the page reads the filter index)."""
    where: list = [visibility.where(filters.rule())]
    for name, chosen in filters.values.items():
        if name in TAG_FACETS:
            where.append(_has_tag(TAG_FACETS[name][0], chosen))
        else:
            where.append(COLUMN_FACETS[name][0].in_(sorted(chosen)))
    if "offline" in filters.flags:
        where.append(Resource.works_offline.is_(True))  # type: ignore[union-attr]
    if "low_data" in filters.flags:
        where.append(Resource.low_data.is_(True))  # type: ignore[union-attr]
    if "moderated" in filters.flags:
        where.append(
            and_(Resource.kind == "forum", Resource.moderation.in_(["professional", "peer"]))
        )  # type: ignore[union-attr]
    return where


WORDS = ("mood tracker bipolar psychosis voices hearing support peer forum carers family sleep "
         "recovery wellbeing crisis helpline journal diary medication anxiety community group "
         "coping skills relapse warning signs early intervention schizophrenia paranoia").split()  # fmt: skip
QUERIES = [
    ("", {}),
    ("bipolar", {}),
    ("mood tracker", {}),
    ("voices", {"condition": "psychosis"}),
    ("peer forum", {"kind": "forum", "moderated": "1"}),
    ("sleep diary", {"platform": "android", "offline": "1"}),
    ("helpline crisis", {"show": "all"}),
    ("zzzz nothing matches", {}),
    ("carers", {"cost": "free", "language": "en"}),
    ("early intervention psychosis", {"show": "all", "kind": "website"}),
]


def populate(engine, count: int, seed: int = 7) -> None:
    """Insert count generated entries with tags, straight through SQL."""
    rng = random.Random(seed)
    kinds = ["app", "forum", "website", "helpline", "other"]
    states = ["recommended"] * 5 + [
        "recommended_with_cautions",
        "not_recommended",
        "suggested",
        "needs_rereview",
    ]
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgresql:
            # Triggers off while loading (each statement would bump the search version); the
            # version is bumped once afterwards.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for start in range(0, count, 5000):
            resources, tags = [], []
            for i in range(start, min(count, start + 5000)):
                name = " ".join(rng.sample(WORDS, 2)).title() + f" {i}"
                resources.append({
                    "id": i + 1, "name": name, "url": f"https://r{i}.example.org/", "url_key": f"r{i}.example.org",
                    "kind": rng.choice(kinds), "provider": f"Provider {i % 500}",
                    "description": " ".join(rng.choices(WORDS, k=12)), "cost": rng.choice(["free", "freemium", "paid", None]),
                    "works_offline": rng.random() < 0.3, "low_data": rng.random() < 0.4,
                    "moderation": rng.choice(["peer", "professional", "none", None]),
                    "state": rng.choice(states), "version": 1,
                })  # fmt: skip
                for facet, values in (("condition", ["psychosis", "bipolar", "schizophrenia", "smi"]),
                                      ("platform", ["web", "ios", "android"]), ("language", ["en", "cy", "pl"])):  # fmt: skip
                    for value in rng.sample(values, rng.randint(1, 2)):
                        tags.append({"resource_id": i + 1, "facet": facet, "value": value})
            conn.execute(
                text(
                    "INSERT INTO resource (id, name, url, url_key, kind, provider, description, cost, works_offline,"
                    " low_data, moderation, state, version, created_at, updated_at) VALUES (:id, :name, :url,"
                    " :url_key, :kind, :provider, :description, :cost, :works_offline, :low_data, :moderation,"
                    " :state, :version, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                resources,
            )
            conn.execute(
                text(
                    "INSERT INTO resource_tag (resource_id, facet, value) VALUES (:resource_id, :facet, :value)"
                ),
                tags,
            )
        if postgresql:
            conn.execute(text("SET LOCAL session_replication_role = origin"))
            # A statement that changes nothing still fires the search version's statement trigger.
            conn.execute(text("UPDATE resource SET version = version WHERE false"))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def timed(fn, rounds: int, *, forget=None) -> list[float]:
    """Time fn over every query, rounds times; forget() runs untimed before each call."""
    out = []
    for _ in range(rounds):
        for query in QUERIES:
            if forget:
                forget()
            started = time.perf_counter()
            fn(*query)
            out.append((time.perf_counter() - started) * 1000)
    return out


def like_where(q: str, filters: Filters) -> list:
    """The plain scan: every word somewhere in name, description or provider, and the filters."""
    where = list(_conditions(filters))
    for word in q.lower().split():
        pattern = f"%{word}%"
        where.append(or_(*(func.lower(func.coalesce(c, "")).like(pattern)
                           for c in (Resource.name, Resource.description, Resource.provider))))  # fmt: skip
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.backend == "postgresql":
        durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
        with PostgresServer(settings=durable) as server:
            server.execute("CREATE DATABASE registry")
            run(args, server.url("registry"), server)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(args, f"sqlite:///{folder}/bench.sqlite3")


def run(args, url: str, server: PostgresServer | None = None) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    prepare_database(app, seed=False)
    engine = get_engine(app)
    started = time.perf_counter()
    populate(engine, args.entries)
    if server is not None:
        # The steady state: autovacuum would clear the loading's row versions and gather statistics.
        engine.dispose()
        server.execute("VACUUM ANALYZE", database="registry")
    print(
        f"{args.backend}: generated {args.entries:,} entries in {time.perf_counter() - started:.1f} s"
    )
    client = app.test_client()
    started = time.perf_counter()
    client.get("/")  # builds the filter index once, as the first page view after a change does
    print(f"first page view, building the filter index: {time.perf_counter() - started:.2f} s")
    gc.freeze()  # as `registry serve` does

    def search_function(q, extra):
        with Session(engine) as session:
            tally = facets.tally(session, q, Filters.from_args(MultiDict(extra)))
            ranking.page(session, tally, offset=0, limit=20)

    def search_page(q, extra):
        response = client.get("/?" + urlencode({"q": q, **extra}))
        assert response.status_code == 200

    def like_scan(q, extra):
        where = like_where(q, Filters.from_args(MultiDict(extra)))
        with engine.connect() as conn:
            conn.execute(select(func.count()).select_from(Resource).where(*where)).one()
            conn.execute(
                select(Resource.__table__)
                .where(*where)
                .order_by(func.lower(Resource.name))
                .limit(20)
            ).all()

    def forget():
        facets.clear()
        with app.app_context():
            kept_pages.clear()  # so that the next page is made, not sent whole
        client.get("/?q=")  # rebuild the index, untimed: only the query's own work is cold
        with app.app_context():
            cards.clear()  # and make every result card again, those of "/?q=" too
            kept_pages.clear()  # and that page too

    for fn in (search_function, search_page, like_scan):  # warm the caches once
        timed(fn, 1)
    print(f"{len(QUERIES)} queries x {args.rounds} rounds each; milliseconds")
    print(f"{'what':<58}{'median':>9}{'p95':>9}")
    rows = (
        ("search function: results, count, filter counts (cold)", search_function, forget),
        ("search page, whole request (cold: query not seen before)", search_page, forget),
        ("search page, whole request (warm: query seen before)", search_page, None),
        ("plain LIKE scan, same filters: results and count only", like_scan, None),
    )
    p95s = []
    for label, fn, before in rows:
        median, p95 = percentiles(timed(fn, args.rounds, forget=before))
        p95s.append(p95)
        print(f"{label:<58}{median:>9.1f}{p95:>9.1f}")
    print(
        f"ratio of p95s, page / LIKE scan: cold {p95s[1] / p95s[3]:.3f}, warm {p95s[2] / p95s[3]:.3f}"
    )


if __name__ == "__main__":
    main()

"""Filter counts from an in-memory bitmap index: one bit per entry for every filter option.

Counting with SQL takes a query per filter group over every matching entry, which is too slow
for the catalogue page on a large registry. Here each option keeps a bitset of the entries that
have it; a count is the population count of (matching entries AND other filters AND option).
The index is rebuilt when the search version (bumped by database triggers on every change to
entries or their tags, migration 0006) moves on, so it is never stale.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select

from registry.catalogue.search import (
    COLUMN_FACETS,
    FLAGS,
    STATUSES,
    TAG_FACETS,
    Filters,
    _fts_query,
    _matching,
    terms,
)
from registry.entries import visibility
from registry.entries.visibility import Audience
from registry.models import Meta, Resource, ResourceTag

SEARCH_VERSION = "search_version"


@dataclass
class Index:
    """Bitsets of entry ids: every entry, and the entries with each (facet, value)."""

    version: str
    every: int = 0
    options: dict[tuple[str, str], int] = field(default_factory=dict)
    # The entries with each (state, standing decision): the visibility rules are read over these.
    lifecycle: dict[tuple[str, str | None], int] = field(default_factory=dict)

    def add(self, facet: str, value: str | None, entry_id: int) -> None:
        if value is not None:
            key = (facet, value)
            self.options[key] = self.options.get(key, 0) | (1 << entry_id)

    def any_of(self, facet: str, values) -> int:
        found = 0
        for value in values:
            found |= self.options.get((facet, value), 0)
        return found

    def passing(self, rule: visibility.Rule) -> int:
        """Return the entries whose state and decision pass a visibility rule."""
        found = 0
        for (state, decision), bits in self.lifecycle.items():
            if rule(state, decision):
                found |= bits
        return found


_cache: dict[str, Index] = {}
_lock = threading.Lock()
# Recent text matches, by database, search version and words: a repeated search costs nothing.
_matches: OrderedDict[tuple[str, str, tuple[str, ...]], int] = OrderedDict()
MATCHES_KEPT = 256


def clear() -> None:
    """Forget every index and remembered match (for benchmarks that measure cold searches)."""
    with _lock:
        _cache.clear()
        _matches.clear()


def _version(session: Session) -> str:
    if session.get_bind().dialect.name in ("sqlite", "postgresql"):
        row = session.get(Meta, SEARCH_VERSION)
        return row.value if row else "0"
    # Databases without the version triggers: changes bump updated_at or add rows.
    count, latest = session.exec(select(func.count(), func.max(Resource.updated_at))).one()
    tags = session.exec(select(func.count()).select_from(ResourceTag)).one()
    return f"{count}:{latest}:{tags}"


def _build(session: Session, version: str) -> Index:
    index = Index(version)
    rows = session.exec(
        select(
            Resource.id,
            Resource.state,
            Resource.decision,
            Resource.kind,
            Resource.cost,
            Resource.works_offline,
            Resource.low_data,
            Resource.moderation,
        )  # fmt: skip
    )
    for entry_id, state, decision, kind, cost, offline, low_data, moderation in rows:
        bit = 1 << entry_id
        index.every |= bit
        index.lifecycle[(state, decision)] = index.lifecycle.get((state, decision), 0) | bit
        index.add("kind", kind, entry_id)
        index.add("cost", cost, entry_id)
        if offline:
            index.add("flag", "offline", entry_id)
        if low_data:
            index.add("flag", "low_data", entry_id)
        if kind == "forum" and moderation in ("professional", "peer"):
            index.add("flag", "moderated", entry_id)
    for entry_id, facet, value in session.exec(
        select(ResourceTag.resource_id, ResourceTag.facet, ResourceTag.value)
    ):
        index.add(facet, value, entry_id)
    return index


def index(session: Session) -> Index:
    """Return the current index for this database, rebuilding it if the data moved on."""
    key = str(session.get_bind().url)
    version = _version(session)
    found = _cache.get(key)
    if found is not None and found.version == version:
        return found
    with _lock:
        found = _cache.get(key)
        if found is None or found.version != version:
            found = _cache[key] = _build(session, version)
    return found


def count(session: Session, rule: visibility.Rule) -> int:
    """Return how many entries pass a visibility rule (registry/entries/visibility.py)."""
    return index(session).passing(rule).bit_count()


def recommended_count(session: Session) -> int:
    """Return how many entries stand recommended now, with or without cautions."""
    return count(session, visibility.public_default_rule)


def _bits(ids) -> int:
    ids = list(ids)
    if not ids:
        return 0
    bitmap = bytearray(max(ids) // 8 + 1)
    for entry_id in ids:
        bitmap[entry_id >> 3] |= 1 << (entry_id & 7)
    return int.from_bytes(bitmap, "little")


def _text_matches(session: Session, query: str | None, built: Index) -> int:
    words = terms(query)
    if not words:
        return built.every
    key = (str(session.get_bind().url), built.version, tuple(words))
    with _lock:
        if key in _matches:
            _matches.move_to_end(key)
            return _matches[key]
    found = _find_text(session, words, built)
    with _lock:
        _matches[key] = found
        while len(_matches) > MATCHES_KEPT:
            _matches.popitem(last=False)
    return found


def _find_text(session: Session, words: list[str], built: Index) -> int:
    if session.get_bind().dialect.name == "sqlite":
        # Straight through the driver: tens of thousands of ids, no ORM needed.
        cursor = session.connection().exec_driver_sql(
            "SELECT rowid FROM resource_fts WHERE resource_fts MATCH ?", (_fts_query(words),)
        )
        ids = [row[0] for row in cursor.fetchall()]
    else:  # PostgreSQL's tsvector index, or LIKE elsewhere: no ranking needed to count.
        stmt, _rank = _matching(
            select(Resource.id), words, session.get_bind().dialect.name, relevance=False
        )
        ids = session.exec(stmt).all()
    return _bits(ids) & built.every


def _masks(built: Index, filters: Filters) -> dict[str, int]:
    """Return, per filter group, the entries that group lets through."""
    masks = {"status": built.passing(filters.rule())}
    for name, chosen in filters.values.items():
        facet = TAG_FACETS[name][0] if name in TAG_FACETS else name
        masks[name] = built.any_of(facet, chosen)
    for flag in filters.flags:
        masks[flag] = built.options.get(("flag", flag), 0)
    return masks


def counts(session: Session, query: str | None, filters: Filters) -> dict[str, dict[str, int]]:
    """Count, for every filter option, the results there would be with that option chosen too."""
    built = index(session)
    matching = _text_matches(session, query, built)
    masks = _masks(built, filters)

    def others(group: str) -> int:
        through = matching
        for name, mask in masks.items():
            if name != group:
                through &= mask
        return through

    out: dict[str, dict[str, int]] = {}
    for name, (facet, allowed) in TAG_FACETS.items():
        base = others(name)
        out[name] = {
            v: n for v in allowed if (n := (base & built.options.get((facet, v), 0)).bit_count())
        }
    for name, (_column, allowed) in COLUMN_FACETS.items():
        base = others(name)
        out[name] = {v: (base & built.options.get((name, v), 0)).bit_count() for v in allowed}
    base = others("status")
    # Counts of statuses the public may not choose are staff's, and not even shown as 0.
    shown = STATUSES if filters.audience is Audience.STAFF else visibility.PUBLIC_STATUSES
    out["status"] = {
        status: (base & built.passing(visibility.option_rule(filters.audience, status,
                                                            filters.statuses))).bit_count()
        for status in STATUSES
        if status in shown
    }  # fmt: skip
    everything = others("")
    out["flags"] = {f: (everything & built.options.get(("flag", f), 0)).bit_count() for f in FLAGS}
    out["total"] = {"results": everything.bit_count(), "text_matches": matching.bit_count()}
    return out

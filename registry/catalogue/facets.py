"""Filter counts from an in-memory bitmap index: one bit per entry for every filter option.

Counting with SQL takes a query per filter group over every matching entry, which is too slow
for the catalogue page on a large registry. Here each option keeps a bitset of the entries that
have it; a count is the population count of (matching entries AND other filters AND option).
The index is rebuilt when the search version (bumped by database triggers on every change to
entries or their tags, migration 0006) moves on, so it is never stale. It also keeps the entries
in alphabetical order, so a results page is picked from it (registry/catalogue/ranking.py)
without sorting every match in the database, and every entry's words (words.py), so what was
typed is matched without asking the database.
"""

import threading
from array import array
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

from flask import g, has_request_context, request
from sqlalchemy import func
from sqlmodel import Session, select

from registry.catalogue.search import (
    COLUMN_FACETS,
    FLAGS,
    STATUSES,
    TAG_FACETS,
    Filters,
    terms,
)
from registry.catalogue.words import Words, bits_of
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
    # Names lower-cased, every id in alphabetical order (name, then id), and each id's place in it.
    names: dict[int, str] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    position: dict[int, int] = field(default_factory=dict)
    # Ids by lower-cased name, as tuples (the garbage collector soon stops tracking those).
    by_name: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Every word of every entry's text, for matching what was typed, and of names alone (words.py).
    words: Words = field(default_factory=Words)
    name_words: Words = field(default_factory=Words)

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


@dataclass
class Match:
    """The entries matching some words, and (once asked for) how well each matches."""

    words: tuple[str, ...]
    bits: int
    # The matches whose name holds every word (a name match comes first), once asked for.
    named: int | None = None
    # Every match best first, whatever the filters (ranking.py), once a page needs it; how well
    # each matches is reckoned for this and not kept.
    ordered: array | None = None


@dataclass(frozen=True)
class Tally:
    """One search counted: the filter counts, the results as a bitset, and what they came from."""

    counts: dict[str, dict[str, int]]
    found: int
    index: Index
    match: Match | None


_cache: dict[str, Index] = {}
_lock = threading.Lock()
# Recent text matches, by database, search version and words: a repeated search costs nothing.
_matches: OrderedDict[tuple[str, str, tuple[str, ...]], Match] = OrderedDict()
MATCHES_KEPT = 1024  # each two bitsets and at most RELEVANCE_LIMIT ids: ~20 KB at 50,000 entries


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


# How much a word counts in relevance by where it is: the name, the kind and tags, the provider,
# the description (the weights the database's own ranking gave them).
TEXT_WEIGHTS = (10, 4, 2, 1)


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
            Resource.name,
            Resource.provider,
            Resource.description,
        )  # fmt: skip
    )
    names = index.names
    # The text each entry's words come from, as in the database's documents (migration 0004).
    texts: dict[int, list[str | None]] = {}
    # Ids gathered per option first: setting bits one by one in a big integer copies it each time.
    having: dict[tuple[str, str], list[int]] = defaultdict(list)
    lifecycle: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for (entry_id, state, decision, kind, cost, offline, low_data, moderation, name,
         provider, description) in rows:  # fmt: skip
        names[entry_id] = name.lower()
        texts[entry_id] = [name, kind, provider, description]
        lifecycle[(state, decision)].append(entry_id)
        having["kind", kind].append(entry_id)
        if cost is not None:
            having["cost", cost].append(entry_id)
        if offline:
            having["flag", "offline"].append(entry_id)
        if low_data:
            having["flag", "low_data"].append(entry_id)
        if kind == "forum" and moderation in ("professional", "peer"):
            having["flag", "moderated"].append(entry_id)
    for entry_id, facet, value in session.exec(
        select(ResourceTag.resource_id, ResourceTag.facet, ResourceTag.value)
    ):
        having[facet, value].append(entry_id)
        if entry_id in texts:
            texts[entry_id].append(value)
    index.every = bits_of(names)
    index.lifecycle = {key: bits_of(ids) for key, ids in lifecycle.items()}
    index.options = {key: bits_of(ids) for key, ids in having.items()}
    for entry_id, (name, kind, provider, description, *tags) in texts.items():
        labels = " ".join((kind, *tags))
        index.words.add(entry_id, (name, labels, provider, description), TEXT_WEIGHTS)
        index.name_words.add(entry_id, (name,))
    index.words.finish()
    index.name_words.finish()
    # The catalogue's alphabetical order: the same in Python on every database (collations differ).
    index.order = sorted(names, key=lambda entry_id: (names[entry_id], entry_id))
    index.position = {entry_id: place for place, entry_id in enumerate(index.order)}
    for entry_id in index.order:
        name = names[entry_id]
        index.by_name[name] = (*index.by_name.get(name, ()), entry_id)
    return index


def _current_version(session: Session, key: str) -> str:
    """Return the search version, read once per page view: a page asks for the index a few times."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return _version(session)
    read = g.setdefault("search_versions", {})
    if key not in read:
        read[key] = _version(session)
    return read[key]


def note_version(session: Session, value: str | None) -> None:
    """Take the search version another query of this page view read already (caching.py)."""
    if has_request_context() and session.get_bind().dialect.name in ("sqlite", "postgresql"):
        read = g.setdefault("search_versions", {})
        read[str(session.get_bind().url)] = value if value is not None else "0"


def index(session: Session) -> Index:
    """Return the current index for this database, rebuilding it if the data moved on."""
    key = str(session.get_bind().url)
    version = _current_version(session, key)
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


def _text_matches(session: Session, query: str | None, built: Index) -> Match | None:
    words = terms(query)
    if not words:
        return None
    key = (str(session.get_bind().url), built.version, tuple(words))
    with _lock:
        if key in _matches:
            _matches.move_to_end(key)
            return _matches[key]
    found = Match(tuple(words), built.words.matching(words) & built.every)
    with _lock:
        _matches[key] = found
        while len(_matches) > MATCHES_KEPT:
            _matches.popitem(last=False)
    return found


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
    return tally(session, query, filters).counts


def total(session: Session, query: str | None, filters: Filters) -> int:
    """Return how many results a search has (no counts per option)."""
    built = index(session)
    match = _text_matches(session, query, built)
    found = built.every if match is None else match.bits
    for mask in _masks(built, filters).values():
        found &= mask
    return found.bit_count()


def tally(session: Session, query: str | None, filters: Filters) -> Tally:
    """Count a search's results and its filter options, from the index and the text match."""
    built = index(session)
    match = _text_matches(session, query, built)
    matching = built.every if match is None else match.bits
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
    return Tally(out, everything, built, match)

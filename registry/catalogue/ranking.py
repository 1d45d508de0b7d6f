"""Put a search's results in order and load one page of them, without sorting what is not shown.

The filter index (facets.py) already knows which entries a search finds, as a bitset, and keeps
every entry in alphabetical order. A page is picked from those: an exact name first, then names
holding every word, then, for text queries with at most RELEVANCE_LIMIT matches, relevance
(from the words index, reckoned once per words and search version: words.py), then alphabetical
order, walked only until the page is full. The page's rows are then loaded by id: the same few
queries whatever the page size, on every database.
"""

import heapq
from array import array
from collections.abc import Iterable

from sqlmodel import Session, select

from registry.catalogue.facets import Index, Match, Tally
from registry.catalogue.search import RELEVANCE_LIMIT
from registry.catalogue.words import bits_of, members
from registry.models import Resource


def page_ids(tally: Tally, *, offset: int, limit: int) -> list[int]:
    """Return the ids of one page of a search's results, best first."""
    count, stop = tally.found.bit_count(), offset + limit
    if limit <= 0 or offset >= count:
        return []
    built, match = tally.index, tally.match
    if match is None:
        return _alphabetical(built, tally.found, count, offset, stop)
    found = tally.found
    if match.bits.bit_count() <= RELEVANCE_LIMIT:
        return _first_found(_ordered(built, match), found, stop)[offset:]
    phrase = " ".join(match.words)
    exact = [i for i in built.by_name.get(phrase, ()) if found >> i & 1]
    named = _named(built, match) & found & ~bits_of(exact)
    # Too many to rank: an exact name first, then names holding every word, then the rest, each
    # alphabetical, each walked only until the page is full.
    picked = exact[offset:stop]
    skip = max(0, offset - len(exact))
    in_names = named.bit_count()
    picked += _alphabetical(built, named, in_names, skip, stop - len(exact))
    if len(exact) + in_names >= stop:
        return picked
    rest = found & ~named & ~bits_of(exact)
    skip = max(0, offset - len(exact) - in_names)
    return picked + _alphabetical(built, rest, rest.bit_count(), skip, stop - len(exact) - in_names)


def _ordered(built: Index, match: Match) -> array:
    """Return every match best first, sorted once per words: the filters only pick from it.

    Best first is an exact name, then names holding every word, then the rest; within each,
    higher relevance first, then alphabetical. Sorted by position and then, stably, by score
    (keys Python looks up in C, not a function called per entry), then split into the tiers.
    """
    if match.ordered is None:
        every = members(match.bits)
        # Relevance from the words index (words.py): higher scores first.
        scores = built.words.relevance(match.words, match.bits)
        by_score = sorted(
            sorted(every, key=built.position.__getitem__), key=scores.__getitem__, reverse=True
        )
        exact = set(built.by_name.get(" ".join(match.words), ()))
        named = set(members(_named(built, match))) - exact
        first = [i for i in by_score if i in exact]
        first += [i for i in by_score if i in named]
        first += [i for i in by_score if i not in exact and i not in named]
        match.ordered = array("i", first)  # 4 bytes an id, kept
    return match.ordered


def _first_found(ordered: Iterable[int], found: int, stop: int) -> list[int]:
    """Return the first stop entries of ordered that are in the bitset found."""
    bitmap = found.to_bytes((found.bit_length() + 7) // 8, "little")
    size = len(bitmap)
    picked: list[int] = []
    for entry_id in ordered:
        byte = entry_id >> 3
        if byte < size and bitmap[byte] >> (entry_id & 7) & 1:
            picked.append(entry_id)
            if len(picked) == stop:
                break
    return picked


def _named(built: Index, match: Match) -> int:
    """Return the matches whose name holds a word beginning with each word typed."""
    if match.named is None:
        match.named = built.name_words.matching(match.words) & match.bits
    return match.named


def page(session: Session, tally: Tally, *, offset: int, limit: int) -> list[Resource]:
    """Return one page of a search's results as entries (with their tags), best first."""
    ids = page_ids(tally, offset=offset, limit=limit)
    if not ids:
        return []
    rows = {r.id: r for r in session.exec(select(Resource).where(Resource.id.in_(ids)))}  # type: ignore[union-attr]
    return [
        rows[i] for i in ids if i in rows
    ]  # an entry deleted since the index was read: left out


def _alphabetical(built: Index, found: int, count: int, start: int, stop: int) -> list[int]:
    """Return found's entries from start to stop in alphabetical order."""
    if count <= 0 or start >= stop:
        return []
    every = len(built.order)
    # Walking the order takes about stop * every / count steps, listing and sorting every
    # result about count plus a pass over the bitset: take the cheaper.
    if stop * every <= count * (count + every // 8):
        return _first_found(built.order, found, stop)[start:]
    return heapq.nsmallest(stop, members(found), key=built.position.__getitem__)[start:]

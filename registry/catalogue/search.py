"""Search the registry: what a person typed and their filters.

Words are matched and ranked in memory, the same on every database (words.py, built with the
filter index in facets.py; the order of a page: ranking.py).
"""

import re
from dataclasses import dataclass, field, replace
from typing import Any

from registry.entries import visibility
from registry.entries.visibility import Audience
from registry.models import Resource
from registry.vocab import LANGUAGES, Condition, Cost, Kind, Platform

MAX_TERMS = 12
MAX_TERM_LENGTH = 60

# The statuses of the status filter, and what each shows to whom: registry/entries/visibility.py.
STATUSES = visibility.STATUSES
DEFAULT_STATUSES = visibility.DEFAULT_STATUSES
ALL_LIVE_STATUSES = visibility.ALL_LIVE_STATUSES

# List facets: filter name -> (column or tag facet, allowed values).
TAG_FACETS: dict[str, tuple[str, frozenset[str]]] = {
    "condition": ("condition", frozenset(c.value for c in Condition)),
    "platform": ("platform", frozenset(p.value for p in Platform)),
    "language": ("language", frozenset(LANGUAGES)),
}
COLUMN_FACETS: dict[str, tuple[Any, frozenset[str]]] = {
    "kind": (Resource.kind, frozenset(k.value for k in Kind)),
    "cost": (Resource.cost, frozenset(c.value for c in Cost)),
}
FLAGS: tuple[str, ...] = ("offline", "low_data", "moderated")


@dataclass(frozen=True)
class Filters:
    """What a person asked to narrow the results to; values within a facet are alternatives."""

    values: dict[str, frozenset[str]] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    statuses: frozenset[str] = DEFAULT_STATUSES
    # Who is searching: the public sees only what the visibility policy lets it.
    audience: Audience = Audience.PUBLIC

    @classmethod
    def from_args(cls, args, *, audience: Audience = Audience.PUBLIC) -> "Filters":
        """Read filters from request arguments (a MultiDict); unknown values are ignored."""
        values = {}
        for name, (_target, allowed) in {**TAG_FACETS, **COLUMN_FACETS}.items():
            chosen = frozenset(v for v in args.getlist(name) if v in allowed)
            if chosen:
                values[name] = chosen
        flags = frozenset(f for f in FLAGS if args.get(f) in ("1", "yes", "on", "true"))
        if args.get("show") == "all":
            statuses = ALL_LIVE_STATUSES
        else:
            statuses = (
                frozenset(v for v in args.getlist("status") if v in STATUSES) or DEFAULT_STATUSES
            )
        return cls(values=values, flags=flags, statuses=statuses, audience=audience)

    def without(self, facet: str) -> "Filters":
        """Return these filters with one facet cleared (for counting that facet's options)."""
        if facet == "status":
            return replace(self, statuses=frozenset(STATUSES))
        if facet in FLAGS:
            return replace(self, flags=self.flags - {facet})
        return replace(self, values={k: v for k, v in self.values.items() if k != facet})

    @property
    def shows_unrecommended(self) -> bool:
        return not self.statuses <= DEFAULT_STATUSES

    def rule(self) -> visibility.Rule:
        """Return which (state, decision) these filters show to their audience."""
        return visibility.shown_rule(self.audience, self.statuses)


def terms(query: str | None) -> list[str]:
    """Return the words of what someone typed: letters and digits only, lower-case, at most 12."""
    words = re.findall(r"[^\W_]+", (query or "")[:4000].lower())
    return [w[:MAX_TERM_LENGTH] for w in words][:MAX_TERMS]


# Above this many text matches, relevance (reckoned for every match) costs more than it tells;
# name matches still come first, then the rest alphabetically.
RELEVANCE_LIMIT = 2000

"""The catalogue's result cards, each made once per data version and kept for the next page.

A card shows an entry as a results page lists it: its name, kind, provider and conditions, its
status, the standing review's rationale and cautions, and its latest check. All of that comes
from the entry, its standing review and its latest check, and from the day (a review falls
overdue, a store listing goes stale); nothing of the person looking. So a card is rendered once
and kept, in the store the web processes of a server share (keeping.py), under the release, the
data's version (caching.data_version: every change to an entry, every decision and every check
result moves it), the day, the address the registry is served under (its links) and the
audience; a page whose cards are all kept loads no rows at all. A card's Add-to-handout button
and Report-a-problem link are kept with it; what differs per browser (whether an entry is in
its handout already, its form token, the address to come back to) catalogue.html adds.

At most ROOM bytes of cards are kept, the least lately shown going first; cards of an
older version are never shown again and go as room runs out.
"""

import json
import re
from dataclasses import dataclass

from flask import current_app, request
from markupsafe import Markup
from sqlalchemy import bindparam
from sqlmodel import Session, select

from registry import db
from registry.catalogue import caching, keeping
from registry.entries.status import latest_checks, latest_reviews
from registry.entries.visibility import Audience, may_hand_out
from registry.models import Resource, ResourceTag
from registry.vocab import label

# Every card of a registry of 10,000 entries (the size the load benchmarks run at), for the
# public and for staff: a card is 0.8 KB with generated entries (tests/bench/page_cost.py prints
# it), up to 2 KB with long rationales and cautions. With room for half the public cards, a
# process serving searches over 10,000 entries kept remaking cards it had just dropped
# (page_cost.py's mix spent 0.29-0.32 ms a request on cards with 5,000 and 0.13-0.19 ms with
# 10,000, 6 December, two runs each).
ROOM = 32 * 2**20
_KIND = "card"


@dataclass(frozen=True)
class Card:
    """One entry as the results list shows it, all of it the same for everyone who sees it.

    `hand_out` is its Add-to-handout button (empty if it may not be handed out), `report` its
    Report-a-problem link; catalogue.html shows "In your handout" instead of the button when
    it is, and the one form the buttons send.
    """

    id: int
    may_hand_out: bool
    body: Markup
    hand_out: Markup
    report: Markup

    def value(self) -> bytes:
        """Return the card as the store keeps it: a line of JSON, then the markup as it is.

        Not packed: a page's cards are read back on most searches, and unpacking twenty with
        zlib and JSON took 0.08 ms against 0.01 for this (a throwaway timing, 7 December).
        """
        head = json.dumps([self.may_hand_out, str(self.hand_out), str(self.report)])  # one line
        return head.encode() + b"\n" + self.body.encode()

    @classmethod
    def of(cls, entry_id: int, value: bytes) -> "Card":
        head, body = value.split(b"\n", 1)
        hand_out, button, report = json.loads(head)
        return cls(entry_id, hand_out, Markup(body.decode()), Markup(button), Markup(report))  # noqa: S704 (kept as rendered)


def held() -> tuple[int, int]:
    """Return how many cards this app keeps and the bytes they take.

    For tests/bench/page_cost.py, which prints it beside the kept pages'.
    """
    return keeping.store().held(_KIND)


def clear() -> None:
    """Forget every kept card of this app (for benchmarks and tests that measure cold pages)."""
    keeping.store().clear(_KIND)


def for_page(session: Session, ids: list[int], audience: Audience) -> list[Card]:
    """Return the cards of these entries in this order, making only those not kept already.

    Call it in a request. The data's version is read before any card is made, so a kept card is
    never older than the version it is kept under; an entry deleted since the ids were picked is
    left out.
    """
    if not ids:
        return []
    store = keeping.store()
    # The links in a card follow the address the registry is served under (a proxy's prefix).
    version = repr(
        (
            current_app.config["REGISTRY_RELEASE"],
            caching.data_version(),
            db.utcnow().date().isoformat(),
            request.script_root,
            audience.value,
        )
    )
    keys = {entry_id: f"{version} {entry_id}" for entry_id in ids}
    kept = store.get(_KIND, list(keys.values()))
    found = {i: Card.of(i, kept[key]) for i, key in keys.items() if key in kept}
    missing = [i for i in ids if i not in found]
    if missing:
        made = _make(session, missing)
        store.put(_KIND, {keys[card.id]: card.value() for card in made}, ROOM)
        found.update((card.id, card) for card in made)
    return [found[i] for i in ids if i in found]


# Built once, `ids` expanding to the page's entries.
_TABLE = Resource.__table__  # type: ignore[attr-defined]
_ROWS = select(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
_CONDITIONS = select(ResourceTag.resource_id, ResourceTag.value).where(
    ResourceTag.resource_id.in_(bindparam("ids", expanding=True)),  # type: ignore[attr-defined]
    ResourceTag.facet == "condition",
)


def _make(session: Session, ids: list[int]) -> list[Card]:
    """Render the cards of these entries: rows, conditions, reviews and checks in four queries.

    The entries are read as plain rows, not as ORM objects with their tags: a card only reads
    them, and building 20 entries with their 100-odd tags cost more than the queries did.
    """
    connection = session.connection()
    rows = connection.execute(_ROWS, {"ids": ids}).all()
    conditions: dict[int, list[str]] = {}
    for entry_id, value in connection.execute(_CONDITIONS, {"ids": ids}):
        conditions.setdefault(entry_id, []).append(value)
    reviews, checks = latest_reviews(session, ids), latest_checks(session, ids)
    card = current_app.jinja_env.get_template("_result_card.html").module
    made = []
    for row in rows:
        hand_out = may_hand_out(row)
        shown = sorted(conditions.get(row.id, ()), key=label)
        made.append(
            Card(
                id=row.id,
                may_hand_out=hand_out,
                body=_squeezed(card.body(row, shown, reviews.get(row.id), checks.get(row.id))),
                hand_out=Markup(card.hand_out(row)) if hand_out else Markup(),  # noqa: S704 (rendered)
                report=Markup(card.report(row)),  # noqa: S704 (rendered, escaped)
            )
        )
    return made


# Blank lines and indentation the card's macros leave between their tags.
_LINE_BREAKS = re.compile(r"\s*\n\s*")


def _squeezed(rendered: str) -> Markup:
    """Return a rendered card with each run of white space that breaks a line as one line break.

    HTML shows any run of white space as one space (a card holds no <pre>), so the page looks
    the same and each card is about 100 bytes lighter to keep, send and read on a phone (2.1 KB
    of a page of 20 generated entries, a throwaway count).
    """
    return Markup(_LINE_BREAKS.sub("\n", rendered))  # noqa: S704 (rendered, escaped)

"""Public pages kept whole while the data they show stands, shared by a server's web processes.

A public page (caching.validated: nobody signed in, no message waiting) is made from its
address, the data's version, the day and what the browser's session adds: its handout and its
form token (caching.page_tag says the same). So the first time a page is made for a version it
is kept, with its form token cut out; the next request for the same address, handout and version
is answered from it, with that browser's own token put back, and nothing is rendered or
queried. The headers, the tag and the session cookie are added after, as for a page just made.

The pages are kept in the store the web processes of a server share (keeping.py), so a page one
process made is sent by all of them. A page is kept under its version: a page of an older
version (or day, or release) is never sent again, and goes when room runs out. At most
REGISTRY_KEPT_PAGES_MB of pages are kept, the least recently asked for dropped first; 0 keeps
none. They are kept compressed (zlib at its fastest level): pages of HTML pack several times
smaller (tests/bench/page_cost.py prints what is kept, and what a page weighs as sent), so the
same room holds several times the pages. Only public pages are kept, with their form tokens cut
out: the store holds what anyone may read on them, and of a browser's handout only which entries
a page was made for, never whose. A store that cannot be read or written makes the page afresh.
"""

import functools
import logging
import secrets
import sqlite3
import zlib
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request, session
from flask_wtf.csrf import generate_csrf

from registry import db
from registry.catalogue import caching, keeping

log = logging.getLogger(__name__)
_ROOM = "registry.kept_pages"
_KIND = "page"

# zlib's fastest level: cheap beside making the page; its best packs HTML little smaller.
_LEVEL = 1


@dataclass(frozen=True)
class Page:
    """A page as its view made it, with the form token (if it had one) cut out, packed."""

    status: int
    content_type: str
    packed: bytes
    has_token: bool

    def value(self) -> bytes:
        """Return the page as the store keeps it: a line of what it is, then its packed body."""
        head = b"%d %d %s\n" % (self.status, self.has_token, self.content_type.encode())
        return head + self.packed

    @classmethod
    def of(cls, value: bytes) -> "Page":
        head, packed = value.split(b"\n", 1)
        status, has_token, content_type = head.split(b" ", 2)
        return cls(int(status), content_type.decode(), packed, has_token == b"1")

    def response(self, placeholder: bytes) -> Response:
        """Return the page for this request: its browser's own form token put back."""
        body = zlib.decompress(self.packed)
        if self.has_token:
            body = body.replace(placeholder, generate_csrf().encode())
        return Response(body, status=self.status, content_type=self.content_type)


def _placeholder(store: keeping.Store) -> bytes:
    """Where a page's form token was: a string no page can hold by chance, one per store."""
    kept = store.setting("placeholder", f"registry-form-token-{secrets.token_hex(16)}")
    return kept.encode()


def _cut_token(response: Response, placeholder: bytes) -> Page:
    """Return response as a packed Page, with this request's form token (if any) cut out."""
    body = response.get_data()
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    has_token = bool(token) and token.encode() in body
    if has_token:
        body = body.replace(token.encode(), placeholder)
    packed = zlib.compress(body, _LEVEL)
    return Page(response.status_code, response.content_type or "", packed, has_token)


def kept(view):
    """Answer a public page's view from the kept page of its address, or keep what it makes."""

    @functools.wraps(view)
    def answer(*args, **kwargs):
        room: int = current_app.extensions.get(_ROOM, 0)
        if not room or not caching.validated():
            return view(*args, **kwargs)
        # Read before the page is made: a page kept under a version never shows older data.
        version = (
            current_app.config["REGISTRY_RELEASE"],
            caching.data_version(),
            db.utcnow().date().isoformat(),
        )
        handout = tuple(session.get("handout", ()))
        key = repr((version, (request.script_root, request.full_path, handout)))
        store = keeping.store()
        try:
            placeholder = _placeholder(store)
        except sqlite3.Error as exc:
            log.warning("kept pages could not be opened (%s): making the page", exc)
            return view(*args, **kwargs)
        found = store.get(_KIND, [key])
        if found:
            return Page.of(found[key]).response(placeholder)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code == 200 and not response.is_streamed:
            store.put(_KIND, {key: _cut_token(response, placeholder).value()}, room)
        return response

    return answer


def init_app(app: Flask) -> None:
    """Keep public pages, up to REGISTRY_KEPT_PAGES_MB (0: none), in the app's store."""
    app.extensions[_ROOM] = int(app.config["REGISTRY_KEPT_PAGES_MB"] * 1024 * 1024)


def held() -> tuple[int, int]:
    """Return how many pages this app keeps, and the bytes they take packed."""
    return keeping.store().held(_KIND)


def clear() -> None:
    """Forget every kept page of this app (for benchmarks and tests that measure cold pages)."""
    keeping.store().clear(_KIND)

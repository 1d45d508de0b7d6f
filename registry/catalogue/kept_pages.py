"""Public pages kept whole in each web process while the data they show stands.

A public page (caching.validated: nobody signed in, no message waiting) is made from its
address, the data's version, the day and what the browser's session adds: its handout and its
form token (caching.page_tag says the same). So the first time a page is made for a version it
is kept, with its form token cut out; the next request for the same address, handout and version
is answered from it, with that browser's own token put back, and nothing is rendered or
queried. The headers, the tag and the session cookie are added after, as for a page just made.

Kept pages are dropped together as soon as the version (or the day) moves on, and at most
REGISTRY_KEPT_PAGES_MB of them are kept, the least recently asked for dropped first; 0 keeps
none. They are kept compressed (zlib at its fastest level): pages of HTML pack several times
smaller (tests/bench/page_cost.py prints what is kept, and what a page weighs as sent), so the
same room holds several times the pages, for some 0.1 ms of packing when a page is kept and of
unpacking when it is sent. Each process keeps its own: nothing is
shared, so nothing can be read across processes.
"""

import functools
import secrets
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request, session
from flask_wtf.csrf import generate_csrf

from registry import db
from registry.catalogue import caching

_KEPT = "registry.kept_pages"


# zlib's fastest level: cheap beside making the page; its best packs HTML little smaller.
_LEVEL = 1


@dataclass(frozen=True)
class Page:
    """A page as its view made it, with the form token (if it had one) cut out, packed."""

    status: int
    content_type: str
    packed: bytes
    has_token: bool

    def response(self, placeholder: bytes) -> Response:
        """Return the page for this request: its browser's own form token put back."""
        body = zlib.decompress(self.packed)
        if self.has_token:
            body = body.replace(placeholder, generate_csrf().encode())
        return Response(body, status=self.status, content_type=self.content_type)


class Kept:
    """The pages of one version, least recently asked for first, within a limit in bytes.

    The rule of the result cards' store (cards.py), counted in bytes instead of cards.
    """

    def __init__(self, limit: int):
        self.limit = limit
        # Where a page's form token was: a string no page can hold by chance.
        self.placeholder = f"registry-form-token-{secrets.token_hex(16)}".encode()
        self._lock = threading.Lock()
        self._version: tuple = ()
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._bytes = 0

    def get(self, version: tuple, key: tuple) -> Page | None:
        """Return the kept page of key, forgetting every page if the version moved on."""
        with self._lock:
            if version != self._version:
                self._version, self._pages, self._bytes = version, OrderedDict(), 0
                return None
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, version: tuple, key: tuple, page: Page) -> None:
        """Keep page under key, unless the version moved on while it was made (as cards.py)."""
        if len(page.packed) > self.limit:
            return
        with self._lock:
            if version != self._version:
                return  # a newer version's pages are kept now: this one is not worth keeping
            old = self._pages.pop(key, None)
            self._bytes += len(page.packed) - (len(old.packed) if old else 0)
            self._pages[key] = page
            while self._bytes > self.limit:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.packed)

    def held(self) -> tuple[int, int]:
        """Return how many pages are kept, and the bytes they take packed.

        For tests/bench/page_cost.py, which prints it, and the test of the room running out.
        """
        with self._lock:
            return len(self._pages), self._bytes

    def cut_token(self, response: Response) -> Page:
        """Return response as a packed Page, with this request's form token (if any) cut out."""
        body = response.get_data()
        token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
        has_token = bool(token) and token.encode() in body
        if has_token:
            body = body.replace(token.encode(), self.placeholder)
        packed = zlib.compress(body, _LEVEL)
        return Page(response.status_code, response.content_type or "", packed, has_token)


def kept(view):
    """Answer a public page's view from the kept page of its address, or keep what it makes."""

    @functools.wraps(view)
    def answer(*args, **kwargs):
        store: Kept | None = current_app.extensions.get(_KEPT)
        if store is None or not caching.validated():
            return view(*args, **kwargs)
        # Read before the page is made: a page kept under a version never shows older data.
        version = (caching.data_version(), db.utcnow().date())
        handout = tuple(session.get("handout", ()))
        key = (request.script_root, request.full_path, handout)
        page = store.get(version, key)
        if page is not None:
            return page.response(store.placeholder)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code == 200 and not response.is_streamed:
            store.put(version, key, store.cut_token(response))
        return response

    return answer


def init_app(app: Flask) -> None:
    """Keep public pages in this process, up to REGISTRY_KEPT_PAGES_MB (0: none)."""
    limit = int(app.config["REGISTRY_KEPT_PAGES_MB"] * 1024 * 1024)
    if limit > 0:
        app.extensions[_KEPT] = Kept(limit)


def clear() -> None:
    """Forget every kept page of this app (for benchmarks and tests that measure cold pages)."""
    store: Kept | None = current_app.extensions.get(_KEPT)
    if store is not None:
        current_app.extensions[_KEPT] = Kept(store.limit)

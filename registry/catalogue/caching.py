"""Pages that cost little to serve: validators on public pages, long-lived versioned static files.

A public page (nobody signed in) carries an ETag made from everything it shows: the data's
version (the search version the database's triggers bump on every change to an entry, the
newest check result and the newest audit entry, which every decision, edit, report and
guidance change writes), the day (a review falls overdue at midnight), the code's release,
the address, and what the browser's own session adds (its handout, its form token). A request
whose If-None-Match holds that tag is answered 304 before anything is rendered, and
`Cache-Control: private, no-cache` makes every browser ask again each time, so a decision shows
at once. Pages for someone signed in are never stored
(catalogue/views.py). Static files are linked under a versioned name (`?v=` the file's hash)
and may be kept for a year; a change to a file changes its name.
"""

import hashlib
import threading
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, current_app, g, has_request_context, request, session, url_for
from flask_login import current_user
from sqlalchemy import func, select

from registry import db
from registry.catalogue import facets, notices
from registry.db import get_session
from registry.models import AuditEvent, CheckResult, Meta

SEARCH_VERSION = facets.SEARCH_VERSION
STATIC_MAX_AGE = 365 * 24 * 3600  # a versioned static file never changes under its name
# Public HTML pages that carry a validator: they show registry data and nothing of a person's.
VALIDATED = frozenset(
    {"catalogue.index", "catalogue.entry", "handout.view", "guidance.index", "guidance.page"}
)


# Built once: making the statement anew cost as much as running it.
_VERSION = select(
    select(Meta.value).where(Meta.key == SEARCH_VERSION).scalar_subquery(),
    select(func.max(CheckResult.id)).scalar_subquery(),
    select(func.max(AuditEvent.id)).scalar_subquery(),
)


def data_version() -> str:
    """Return a token that changes whenever anything a public page shows changes (read once)."""
    if "data_version" not in g:
        session = get_session()

        def fetch() -> tuple:
            return tuple(session.connection().execute(_VERSION).one())

        watch = notices.watch_of(current_app)
        # Someone signed in, or a change being made, reads it: what they did shows at once.
        pushed = (
            watch is not None
            and request.method in ("GET", "HEAD")
            and not current_user.is_authenticated
        )
        row = watch.read(fetch) if pushed else fetch()
        facets.note_version(session, row[0])  # the filter index needs no query of its own
        g.data_version = ":".join(str(part) for part in row)
    return g.data_version


def _release(app: Flask) -> str:
    """Return a hash of the templates and static files this process serves (its release)."""
    digest = hashlib.sha256()
    root = Path(app.root_path)
    for folder in ("templates", "static"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def page_tag() -> str:
    """Return the ETag of the public page this request asks for, as it stands now."""
    parts = [
        current_app.config["REGISTRY_RELEASE"],
        data_version(),
        db.utcnow().date().isoformat(),  # a review falls overdue at midnight, data unchanged
        request.full_path,
        ",".join(str(i) for i in session.get("handout", [])),
        str(session.get("csrf_token", "")),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def validated() -> bool:
    """Say whether this request is for a public page that nothing of a person's changes."""
    return (
        request.method in ("GET", "HEAD")
        and request.endpoint in VALIDATED
        and not current_user.is_authenticated
        and not session.get("_flashes")  # a message to show once: render it
    )


def _answer_unchanged() -> Response | None:
    """Answer 304, rendering nothing, when the browser's copy of a public page is current."""
    if not validated():
        return None
    data_version()  # read before the page is made, so its tag never claims newer data
    if not request.if_none_match:
        return None  # a first visit: no tag to make here
    tag = page_tag()
    if not request.if_none_match.contains_weak(tag):
        return None
    response = Response(status=304)
    response.set_etag(tag, weak=True)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _validators(response: Response) -> Response:
    if request.endpoint == "static":
        version = request.args.get("v")
        if version and version == _static_hash(request.view_args.get("filename", "")):
            response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}, immutable"
        else:
            response.headers["Cache-Control"] = "public, no-cache"
        return response
    if response.status_code == 200 and validated():
        response.set_etag(page_tag(), weak=True)
        response.headers["Cache-Control"] = "private, no-cache"
        response.vary.add("Cookie")
    return response


_hashes: dict[str, str] = {}
_hashes_lock = threading.Lock()


def _static_hash(filename: str) -> str:
    """Return a short hash of a static file's bytes, read once per process."""
    with _hashes_lock:
        if filename not in _hashes:
            folder = Path(current_app.static_folder or "")
            path = (folder / filename).resolve()
            inside = path.is_file() and folder.resolve() in path.parents
            _hashes[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if inside else ""
        return _hashes[filename]


def _versioned_static(endpoint: str, values: dict) -> None:
    """Link every static file under a name that changes with its bytes."""
    if endpoint == "static" and "v" not in values and values.get("filename"):
        version = _static_hash(values["filename"])
        if version:
            values["v"] = version


def _template_url_for(endpoint: str, **values) -> str:
    """Build an address as url_for does, remembering it: the same page links the same places.

    Within a request an address depends only on the script root, the endpoint and its values
    (this registry matches no hosts or subdomains); options such as _external are not kept.
    """
    if not has_request_context() or any(name.startswith("_") for name in values):
        return url_for(endpoint, **values)
    kept = current_app.extensions[_URLS]
    try:
        return kept(request.script_root, endpoint, tuple(sorted(values.items())))
    except TypeError:  # a value that cannot be a key (a list): build it each time
        return url_for(endpoint, **values)


_URLS = "registry.urls"


def _build_url(_script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def init_app(app: Flask) -> None:
    """Give public pages validators and static files versioned names and long cache lives."""
    app.extensions[_URLS] = lru_cache(maxsize=8192)(_build_url)  # each app its own addresses
    app.jinja_env.globals["url_for"] = _template_url_for
    app.config["REGISTRY_RELEASE"] = _release(app)
    db.read_only(app, VALIDATED)  # public pages only read: no transaction round trips
    app.before_request(_answer_unchanged)
    app.after_request(_validators)
    app.url_defaults(_versioned_static)

"""The read-only JSON API under /api/v1: entries, one entry, its check history, the OpenAPI.

What the public may see (registry/entries/visibility.py) needs no token; everything else needs
`Authorization: Bearer <secret>` (a token made with `registry token create`), and so does every
route when REGISTRY_PUBLIC_ACCESS=none. Every answer, errors included, is JSON.
"""

import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import func
from sqlalchemy.exc import DBAPIError
from sqlmodel import select
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from registry import faults
from registry.accounts import tokens as api_tokens
from registry.accounts.auth import csrf
from registry.api import spec as api_spec
from registry.api.serialize import entry_json, proposal_json, report
from registry.catalogue import facets, ranking
from registry.catalogue.search import COLUMN_FACETS, FLAGS, STATUSES, TAG_FACETS, Filters
from registry.db import get_session
from registry.entries import visibility
from registry.entries.status import latest_checks, latest_reviews
from registry.entries.visibility import Audience
from registry.models import CheckResult, Resource, User
from registry.review import panel
from registry.vocab import Role

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.record_once(lambda _state: csrf.exempt(bp))  # read-only and token-authenticated: no forms

# Roles whose tokens may read what only staff see.
READ_ALL_ROLES = frozenset({Role.CLINICIAN.value, Role.REVIEWER.value, Role.ADMIN.value})
MAX_PER_PAGE, DEFAULT_PER_PAGE, MAX_PAGE, MAX_QUERY = 100, 20, 10_000, 2000
FLAG_VALUES = {"true": True, "1": True, "false": False, "0": False}


class ApiError(Exception):
    """An answer other than success: an HTTP status, a code for programs, words for people."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="registry API"'
    return response


def _is_api_path() -> bool:
    return request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/")


# Reading the request.


def _single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ApiError(400, "invalid_parameter", f"Give {name} once, not {len(values)} times.")
    return values[0] if values else None


def _integer(name: str, default: int, high: int) -> int:
    raw = _single(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= high:
        raise ApiError(
            400, "invalid_parameter",
            f"{name} must be a whole number from 1 to {high}; “{raw[:40]}” is not.",
        )  # fmt: skip
    return int(raw)


def _paging() -> tuple[int, int]:
    return _integer("page", 1, MAX_PAGE), _integer("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)


def _choices(name: str, allowed) -> None:
    for value in request.args.getlist(name):
        if value not in allowed:
            raise ApiError(
                400, "invalid_parameter",
                f"“{value[:40]}” is not a {name} the registry knows; use one of: "
                + ", ".join(sorted(allowed)) + ".",
            )  # fmt: skip


def _search_request() -> tuple[str, Filters]:
    """Check the search parameters strictly, then read them as the catalogue page does."""
    query = _single("q") or ""
    if len(query) > MAX_QUERY:
        raise ApiError(400, "invalid_parameter", f"q is too long: at most {MAX_QUERY} characters.")
    for name, (_target, allowed) in {**TAG_FACETS, **COLUMN_FACETS}.items():
        _choices(name, allowed)
    _choices("status", STATUSES)
    for flag in FLAGS:
        value = _single(flag)
        if value is not None and value not in FLAG_VALUES:
            raise ApiError(400, "invalid_parameter", f"{flag} must be true or false.")
    show = _single("show")
    if show is not None and show != "all":
        raise ApiError(400, "invalid_parameter", "show takes one value: all.")
    if set(request.args.getlist("status")) & visibility.STAFF_ONLY_STATUSES:
        _require_reader("entries that are not yet reviewed or retired")
    return query.strip(), Filters.from_args(request.args, audience=_audience())


# Who is asking.


@bp.before_request
def _authenticate() -> None:
    g.api_user = None
    header = request.headers.get("Authorization")
    if header is None:
        return
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "invalid_token", "Send the token as `Authorization: Bearer <secret>`.")
    user = api_tokens.account_for(get_session(), secret.strip())
    if user is None:
        raise ApiError(
            401, "invalid_token", "This token is unknown, revoked, or its account is disabled."
        )
    g.api_user = user


@bp.before_request
def _closed_to_the_public() -> None:
    # Registered after _authenticate, so a token has been read by now.
    if current_app.config["REGISTRY_PUBLIC_ACCESS"] == "none" and g.api_user is None:
        raise ApiError(401, "token_required", "This registry's API needs an API token.")


def _audience() -> Audience:
    user: User | None = g.api_user
    return visibility.audience(user is not None and user.role in READ_ALL_ROLES)


def _require_reader(what: str) -> None:
    user: User | None = g.api_user
    if user is None:
        raise ApiError(401, "token_required", f"Reading {what} needs an API token.")
    if user.role not in READ_ALL_ROLES:
        raise ApiError(403, "forbidden", f"This account may not read {what}.")


def _page_json(items: list, page: int, per_page: int, total: int) -> dict[str, Any]:
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": max(1, -(-total // per_page)),
    }


def _readable(resource_id: int) -> Resource:
    # The id converter (registry/__init__.py) keeps ids beyond the database's integers out.
    resource = get_session().get(Resource, resource_id)
    if resource is None:
        raise ApiError(404, "not_found", f"There is no entry with id {resource_id}.")
    if not visibility.may_open(_audience(), resource):
        _require_reader("entries that are not public")
    return resource


# The endpoints.


@bp.get("/entries")
def entries():
    query, filters = _search_request()
    page, per_page = _paging()
    session = get_session()
    tally = facets.tally(session, query, filters)
    counts = dict(tally.counts)
    total = counts.pop("total")
    found = ranking.page(session, tally, offset=(page - 1) * per_page, limit=per_page)
    items = _entries_json(session, found)
    return {**_page_json(items, page, per_page, total["results"]), "facets": counts}


def _entries_json(session, found: list[Resource]) -> list[dict[str, Any]]:
    """Return entries as the API gives them, in a fixed number of queries whatever their number."""
    ids = [r.id for r in found]
    steps = panel.standing_many(session, latest_reviews(session, ids))
    checks = latest_checks(session, ids)
    staff = _audience() == Audience.STAFF
    user: User | None = g.api_user
    proposals = user is not None and user.role in panel.SEES_PROPOSALS
    waiting = panel.pending_many(session, found) if proposals else {}
    people = panel.people_of(session, waiting.values())
    return [
        entry_json(
            r,
            steps.get(r.id),
            checks.get(r.id),
            staff=staff,
            proposals=proposals,
            proposal=proposal_json(waiting.get(r.id), people),
        )
        for r in found
    ]


@bp.get("/entries/<id:resource_id>")
def entry(resource_id: int):
    resource = _readable(resource_id)
    return _entries_json(get_session(), [resource])[0]


@bp.get("/entries/<id:resource_id>/checks")
def checks(resource_id: int):
    page, per_page = _paging()
    _readable(resource_id)
    session = get_session()
    mine = CheckResult.resource_id == resource_id
    total = session.exec(select(func.count()).select_from(CheckResult).where(mine)).one()
    results = session.exec(
        select(CheckResult)
        .where(mine)
        .order_by(CheckResult.id.desc())  # type: ignore[union-attr]
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return _page_json([report(r) for r in results], page, per_page, total)


@bp.get("/openapi.json")
def openapi():
    return api_spec.document()


# Errors: always JSON under /api/v1, whatever raised them.


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    return _error(error.status, error.code, error.message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    code = (error.name or "error").lower().replace(" ", "_")
    response = _error(error.code or 500, code, error.description or error.name)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


@bp.errorhandler(DBAPIError)
def _database_error(error: DBAPIError):
    # Registered here too: the catch-all below would otherwise answer an outage with a 500.
    found = faults.outage(error)
    if found is None:
        return _server_error(error)
    return faults.retry_later(_error(*found))


@bp.errorhandler(Exception)
def _server_error(error: Exception):
    log.exception("API request %s failed", request.full_path)
    return _error(500, "server_error", "Something went wrong on the server; try again later.")


def _json_under_api(fallback):
    """Wrap an app-wide error page so that paths under /api/v1 get JSON instead."""

    def handler(error: HTTPException):
        if _is_api_path():
            if isinstance(error, CSRFError):  # a form post to the read-only API
                return _error(405, "method_not_allowed", "The API is read-only: use GET.")
            return _http_error(error)
        return fallback(error)

    return handler


@bp.record_once
def _routing_errors(state) -> None:
    """Answer unknown paths and methods under /api/v1 (no blueprint matched them) with JSON."""
    specs = state.app.error_handler_spec[None]
    for code, cls in ((404, NotFound), (405, MethodNotAllowed), (400, CSRFError)):
        fallback = specs[code].get(cls) or (lambda error: error)
        state.app.register_error_handler(cls, _json_under_api(fallback))


@bp.after_request
def _private_when_authenticated(response: Response) -> Response:
    response.headers["Vary"] = "Authorization"
    if g.get("api_user") is not None:
        response.headers["Cache-Control"] = "no-store"
    return response

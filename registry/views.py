"""The catalogue and entry pages."""

from flask import Blueprint, Flask, abort, current_app, render_template, request
from flask_login import current_user

from registry.db import get_session
from registry.models import Resource
from registry.review import latest_review
from registry.search import Filters, count_statement, search_statement
from registry.vocab import LANGUAGES, Condition, Kind, label

bp = Blueprint("catalogue", __name__)


def _choice(name: str, allowed: set[str]) -> str | None:
    """Return the request's value for name if allowed; anything else means no filter."""
    value = request.args.get(name, "").strip().lower()
    return value if value in allowed else None


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()
    filters = Filters(
        kind=_choice("kind", {k.value for k in Kind}),
        condition=_choice("condition", {c.value for c in Condition}),
    )
    session = get_session()
    stmt = search_statement(query, filters)
    total = session.exec(count_statement(stmt)).one()
    size = current_app.config["REGISTRY_PAGE_SIZE"]
    page = min(_page(), max(1, -(-total // size)))
    resources = session.exec(stmt.offset((page - 1) * size).limit(size)).all()
    return render_template(
        "catalogue.html",
        query=query,
        filters=filters,
        resources=resources,
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        kinds=list(Kind),
        conditions=list(Condition),
    )


@bp.get("/resources/<int:resource_id>")
def entry(resource_id: int):
    resource = get_session().get(Resource, resource_id)
    if resource is None:
        abort(404)
    return render_template(
        "entry.html", resource=resource, review=latest_review(get_session(), resource.id)
    )


def _not_found(_error):
    return render_template("error.html", title="Page not found", status=404), 404


def _server_error(_error):
    return render_template("error.html", title="Something went wrong", status=500), 500


def _no_store_when_signed_in(response):
    """Keep pages shown to a signed-in person out of shared caches and the back-button cache."""
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the pages, the error pages and the template helpers."""
    app.register_blueprint(bp)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(500, _server_error)
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["with_label"] = lambda value: (value, label(value))
    app.after_request(_no_store_when_signed_in)
    app.jinja_env.globals["language_name"] = lambda code: LANGUAGES.get(code, code)

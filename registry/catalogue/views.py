"""The catalogue and entry pages."""

from dataclasses import replace

from flask import Blueprint, Flask, abort, current_app, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import bindparam
from sqlalchemy.orm import joinedload
from sqlmodel import select

from checks import contacts
from registry.accounts.auth import current_audience
from registry.catalogue import cards, facets, kept_pages, ranking
from registry.catalogue.handout import handout_ids
from registry.catalogue.search import ALL_LIVE_STATUSES, Filters
from registry.db import get_or_404, get_session
from registry.entries import status, visibility
from registry.entries.status import caution, lines, review_overdue
from registry.entries.visibility import Audience
from registry.models import CheckResult, Resource
from registry.review import dashboard, panel, rubric
from registry.vocab import LANGUAGES, Condition, Cost, Kind, Platform, label

bp = Blueprint("catalogue", __name__)

# The filter groups of the catalogue, in the order shown: (name, legend, options with labels).
FACET_OPTIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (name, legend, [(member.value, label(member.value)) for member in vocabulary])
    for name, legend, vocabulary in (
        ("condition", "Condition", Condition),
        ("kind", "Kind", Kind),
        ("cost", "Cost", Cost),
        ("platform", "Platform", Platform),
    )
]


def _facet_choices(counts: dict, filters: Filters) -> list:
    """Return each filter group as the column shows it: each option's label, count, and whether
    it is chosen (worked out here: the template loops over some 40 options a page)."""
    return [
        (
            name,
            legend,
            [
                (value, text, counts[name].get(value, 0), value in filters.values.get(name, ()))
                for value, text in options
            ],
        )
        for name, legend, options in FACET_OPTIONS
    ]


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _page_url(page: int) -> str:
    """Return this search's address at another page."""
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    return url_for("catalogue.index", **args)


def resource_or_404(resource_id: int) -> Resource:
    """Return the entry with this id, or answer 404."""
    return get_or_404(Resource, resource_id)


# An entry with its tags, in one statement built once.
_ENTRY = (
    select(Resource)
    .options(joinedload(Resource.tags))  # type: ignore[arg-type]
    .where(Resource.id == bindparam("entry_id"))
)


def visible_or_404(resource_id: int) -> Resource:
    """Return the entry with this id if the person asking may see it, else answer 404.

    An entry the public may not see is not found, exactly like one that does not exist.
    """
    resource = get_session().exec(_ENTRY, params={"entry_id": resource_id}).unique().first()
    if resource is None or not visibility.may_open(current_audience(), resource):
        abort(404)
    return resource


@bp.get("/")
@kept_pages.kept
def index():
    query = request.args.get("q", "")[:2000].strip()
    audience = current_audience()
    filters = Filters.from_args(request.args, audience=audience)
    session = get_session()
    # A registry with nothing decided yet tells the public so; staff see everything, marked.
    nothing_decided = (
        audience is Audience.PUBLIC and facets.count(session, visibility.decided_rule) == 0
    )
    unreviewed_registry = (
        audience is Audience.STAFF
        and "status" not in request.args
        and "show" not in request.args
        and facets.recommended_count(session) == 0
    )
    if unreviewed_registry:
        filters = replace(filters, statuses=ALL_LIVE_STATUSES)
    # Counts, results and their order from the filter index: only the page's rows are loaded.
    found = facets.tally(session, query, filters)
    counts = found.counts
    total = counts["total"]["results"]
    # What "Show all" would find: every live status this person may see, for the same words.
    everything = facets.total(
        session, query, Filters(statuses=ALL_LIVE_STATUSES, audience=audience)
    )
    # "Show all" drops the filters too: say what it adds for the same words, not these filters.
    beyond = (
        facets.tally(session, query, Filters(audience=audience)).counts["status"]
        if everything > total
        else {}
    )
    size = current_app.config["REGISTRY_PAGE_SIZE"]
    pages = max(1, -(-total // size))
    page = min(_page(), pages)
    ids = ranking.page_ids(found, offset=(page - 1) * size, limit=size)
    return render_template(
        "catalogue.html",
        query=query,
        filters=filters,
        cards=cards.for_page(session, ids, audience),
        total=total,
        everything=everything,
        beyond=beyond,
        page=page,
        pages=pages,
        page_url=_page_url,
        counts=counts,
        facets=_facet_choices(counts, filters),
        handout=handout_ids(),
        unreviewed_registry=unreviewed_registry,
        nothing_decided=nothing_decided,
        staff_only_statuses=visibility.STAFF_ONLY_STATUSES,
    )


@bp.get("/resources/<id:resource_id>")
@kept_pages.kept
def entry(resource_id: int):
    resource = visible_or_404(resource_id)
    session = get_session()
    # Every step of every decision, newest first: the standing review is the first that stands.
    every_step = panel.decision_history(session, resource.id)
    standing_step = next((step for step in every_step if step.stands), None)
    review = standing_step.review if standing_step else None
    # The last 30 results, oldest first, for the table and the chart; the newest in full (by its
    # id, so the latest check shown is the table's newest even if a run has written one since).
    history = status.history(session, resource.id, limit=30)
    check = session.get(CheckResult, history[-1].id) if history else None
    waiting = panel.pending(session, resource) if _sees_proposals() else None
    return render_template(
        "entry.html",
        resource=resource,
        review=review,
        # Reviewers see every step; clinicians the decisions that stood. The card shows the step
        # that stands, with who it rests on.
        decisions=_steps_shown(every_step),
        standing_step=standing_step,
        waiting=waiting,
        waiting_people=panel.people_of(session, [waiting] if waiting else []),
        rubric_items=rubric.ITEMS,
        answer_labels=rubric.ANSWERS,
        new_versions=status.reviewed_versions(session, review),
        check=check,
        history=history,
        chart=Markup(dashboard.history_chart(history)) if history else None,  # noqa: S704
        handout=handout_ids(),
        public=visibility.may_open(Audience.PUBLIC, resource),
    )


def _sees_proposals() -> bool:
    return current_user.is_authenticated and current_user.role in panel.SEES_PROPOSALS


def _steps_shown(steps: list[panel.Decided]) -> list[panel.Decided]:
    return steps if _sees_proposals() else [step for step in steps if step.stands]


def _not_found(_error):
    # An entry hidden from the public is not found; staff may sign in and come back to it.
    sign_in_next = (
        request.path
        if request.endpoint == "catalogue.entry" and not current_user.is_authenticated
        else None
    )
    return render_template(
        "error.html", title="Page not found", status=404, sign_in_next=sign_in_next
    ), 404


def _server_error(_error):
    return render_template("error.html", title="Something went wrong", status=500), 500


def _no_store_when_signed_in(response):
    """Keep pages shown to a signed-in person out of shared caches and the back-button cache."""
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


def _reviewer_name(user) -> str:
    """Name who decided: to staff by name or email, to the public by name or as a reviewer."""
    if user is None:
        return "a registry reviewer"
    if user.name:
        return user.name
    return user.email if current_user.is_authenticated else "a registry reviewer"


def init_app(app: Flask) -> None:
    """Register the pages, the error pages and the template helpers."""
    app.register_blueprint(bp)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(500, _server_error)
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["with_label"] = lambda value: (value, label(value))
    app.jinja_env.filters["as_number"] = contacts.parse
    app.jinja_env.filters["reading_band"] = status.reading_band
    app.jinja_env.globals["trackers_in_words"] = status.trackers_in_words
    app.jinja_env.globals["store_upkeep"] = status.store_upkeep
    app.jinja_env.globals["reviewer_name"] = _reviewer_name
    app.jinja_env.globals["check_lines"] = lines
    app.jinja_env.globals["caution"] = lambda check: caution(
        check, stale_months=current_app.config["REGISTRY_STALE_APP_MONTHS"]
    )
    app.jinja_env.globals["review_overdue"] = review_overdue
    app.jinja_env.globals["standing"] = visibility.standing
    app.jinja_env.globals["may_hand_out"] = visibility.may_hand_out
    app.after_request(_no_store_when_signed_in)
    app.jinja_env.globals["language_name"] = lambda code: LANGUAGES.get(code, code)


@bp.record_once
def _favicon_at_the_root(state) -> None:
    """Answer /favicon.ico, where browsers look by default, as the static files are: open to all."""
    state.app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})


@bp.context_processor
def _default_statuses() -> dict:
    """Let the catalogue tell a status filter someone chose from the statuses shown by default."""
    return {"default_statuses": visibility.DEFAULT_STATUSES}

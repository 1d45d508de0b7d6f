"""Handouts: a few recommended resources printed for a client, with their cautions and QR codes."""

from dataclasses import dataclass

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape
from sqlmodel import Session, select

from registry.accounts.auth import current_audience
from registry.catalogue import kept_pages
from registry.db import get_session, utcnow
from registry.entries import visibility
from registry.entries.status import caution, latest_checks, latest_reviews, listed_store_urls
from registry.models import Resource
from registry.security import safe_target
from registry.vocab import State

bp = Blueprint("handout", __name__, url_prefix="/handout")

MAX_ENTRIES = 10


@dataclass(frozen=True)
class Printed:
    """One entry as the handout prints it: the facts, and every caution that goes with them."""

    resource: Resource
    cautions: str | None  # the standing review's, for whoever reads the sheet
    check_caution: str | None  # the latest check failed
    review_due: str | None  # the review's due date, when it has passed
    rereview: bool  # a reviewer is looking at it again
    app_store: str | None  # offered only when the last check found the listing
    google_play: str | None

    @property
    def has_cautions(self) -> bool:
        return bool(self.cautions or self.check_caution or self.review_due or self.rereview)


def handout_ids() -> list[int]:
    """Return the entries in this browser's handout, in the order they were added."""
    return [i for i in session.get("handout", []) if isinstance(i, int)][:MAX_ENTRIES]


def printable(resource: Resource | None) -> bool:
    """Return whether an entry may go on paper to a client: the public sees it, recommended."""
    return (
        resource is not None
        and visibility.may_open(visibility.Audience.PUBLIC, resource)
        and visibility.may_hand_out(resource)
    )


def sheet(db: Session, ids: list[int]) -> list[Printed]:
    """Return the printable entries among ids, in order, each with its cautions and store links."""
    found = {r.id: r for r in db.exec(select(Resource).where(Resource.id.in_(ids or [0])))}  # type: ignore[union-attr]
    entries = [found[i] for i in ids if printable(found.get(i))]
    shown = [r.id for r in entries]
    reviews, checks = latest_reviews(db, shown), latest_checks(db, shown)
    today = utcnow().date()
    stale_months = current_app.config["REGISTRY_STALE_APP_MONTHS"]
    printed = []
    for resource in entries:
        review, check = reviews.get(resource.id), checks.get(resource.id)
        listed = listed_store_urls(check)
        due = resource.review_due
        printed.append(
            Printed(
                resource=resource,
                cautions=(review.cautions or None) if review else None,
                check_caution=caution(check, stale_months=stale_months),
                review_due=f"{due.day} {due:%B %Y}"
                if visibility.review_overdue(resource, today=today)
                else None,
                rereview=resource.state == State.NEEDS_REREVIEW.value,
                app_store=resource.ios_url if listed.get("app_store") == resource.ios_url else None,
                google_play=resource.android_url
                if listed.get("google_play") == resource.android_url
                else None,
            )
        )
    return printed


def qr_svg(url: str) -> Markup:
    """Return an inline SVG QR code of url, with its own accessible name."""
    import segno

    name = escape(f"QR code for {url}")
    # A viewBox, not a fixed size, so the stylesheet scales every code whole, quiet zone too.
    svg = segno.make(url, error="m").svg_inline(scale=4, svgclass="registry-qr", omitsize=True)
    # segno writes only generated path data; the accessible name is escaped here.
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1))  # noqa: S704


def _back() -> str:
    """Return the page the form came from, if it is on this site, else the handout."""
    return safe_target(request.form.get("back"), default=url_for("handout.view"))


@bp.post("/add")
def add():
    entry = get_session().get(Resource, request.form.get("resource_id", type=int) or 0)
    ids = handout_ids()
    if entry is None or not visibility.may_open(current_audience(), entry):
        flash("That resource is not in the registry.")  # what the public may not see is not there
    elif not printable(entry):
        flash(f"Only recommended resources can go in a handout; “{entry.name}” is not.")
    elif entry.id in ids:
        flash(f"“{entry.name}” is in your handout already.")
    elif len(ids) >= MAX_ENTRIES:
        flash(f"A handout holds at most {MAX_ENTRIES} resources.")
    else:
        session["handout"] = [*ids, entry.id]
        flash(f"“{entry.name}” added to your handout.")
    return redirect(_back())


@bp.post("/remove")
def remove():
    removed = request.form.get("resource_id", type=int)
    ids = handout_ids()
    if removed in ids:
        session["handout"] = [i for i in ids if i != removed]
        entry = get_session().get(Resource, removed)
        flash(
            f"“{entry.name}” taken out of your handout." if entry else "Taken out of your handout."
        )
    return redirect(_back())


@bp.post("/clear")
def clear():
    session.pop("handout", None)
    return redirect(url_for("handout.view"))


@bp.get("")
@kept_pages.kept
def view():
    return render_template(
        "handout.html", entries=sheet(get_session(), handout_ids()), qr_svg=qr_svg
    )

"""Handouts: a few recommended resources, printed for a client with QR codes and a safety note."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from markupsafe import Markup, escape
from sqlmodel import select

from registry.db import get_session
from registry.models import Resource
from registry.vocab import State

bp = Blueprint("handout", __name__, url_prefix="/handout")

MAX_ENTRIES = 10
# Only what reviewers recommend goes on paper to a client.
RECOMMENDED = {State.RECOMMENDED.value, State.RECOMMENDED_WITH_CAUTIONS.value}


def handout_ids() -> list[int]:
    """Return the entries in this browser's handout, in the order they were added."""
    return [i for i in session.get("handout", []) if isinstance(i, int)][:MAX_ENTRIES]


def qr_svg(url: str) -> Markup:
    """Return an inline SVG QR code of url, with its own accessible name."""
    import segno

    name = escape(f"QR code for {url}")
    svg = segno.make(url, error="m").svg_inline(scale=4, svgclass="registry-qr")
    # segno writes only generated path data; the accessible name is escaped here.
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1))  # noqa: S704


def _back() -> str:
    target = request.form.get("back", "")
    return (
        target
        if target.startswith("/") and not target.startswith("//")
        else url_for("handout.view")
    )


@bp.post("/add")
def add():
    entry = get_session().get(Resource, request.form.get("resource_id", type=int) or 0)
    ids = handout_ids()
    if entry is None:
        flash("That resource is not in the registry.")
    elif entry.state not in RECOMMENDED:
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
    session["handout"] = [i for i in handout_ids() if i != removed]
    return redirect(_back())


@bp.post("/clear")
def clear():
    session.pop("handout", None)
    return redirect(url_for("handout.view"))


@bp.get("")
def view():
    ids = handout_ids()
    found = {
        r.id: r for r in get_session().exec(select(Resource).where(Resource.id.in_(ids or [0])))
    }  # type: ignore[union-attr]
    entries = [found[i] for i in ids if i in found and found[i].state in RECOMMENDED]
    return render_template("handout.html", entries=entries, qr_svg=qr_svg)

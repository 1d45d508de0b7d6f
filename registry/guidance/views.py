"""Guidance for staff: short Markdown pages shipped with the registry, which admins can edit."""

from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markdown_it import MarkdownIt
from markupsafe import Markup

from registry import audit
from registry.accounts.auth import roles_required
from registry.catalogue import kept_pages
from registry.db import get_session, utcnow
from registry.models import GuidancePage
from registry.vocab import Role

bp = Blueprint("guidance", __name__, url_prefix="/guidance")

SHIPPED = Path(__file__).resolve().parent  # the shipped pages, beside this module
# The pages, in the order they are listed.
SLUGS = ("recommending-well", "boundaries-online", "digital-divide", "reading-decisions")
MAX_LENGTH = 20_000

# "js-default": CommonMark with raw HTML off and unsafe link schemes refused.
_markdown = MarkdownIt("js-default").enable("table")


def render(body: str) -> Markup:
    """Return Markdown as HTML; raw HTML in the text is shown as text, never run."""
    html = _markdown.render(body)
    html = html.replace("<table>", '<table class="nhsuk-table">')
    return Markup(html)  # noqa: S704  (markdown-it escapes text; raw HTML is disabled)


def _shipped(slug: str) -> tuple[str, str]:
    text = (SHIPPED / f"{slug}.md").read_text(encoding="utf-8")
    title, _, body = text.partition("\n")
    return title.removeprefix("# ").strip(), body.strip()


def page(slug: str) -> tuple[str, str]:
    """Return (title, Markdown body) of a page: the edited one if an admin changed it."""
    if slug not in SLUGS:
        abort(404)
    edited = get_session().get(GuidancePage, slug)
    return (edited.title, edited.body) if edited else _shipped(slug)


@bp.get("")
@kept_pages.kept
def index():
    pages = [(slug, page(slug)[0]) for slug in SLUGS]
    return render_template("guidance/index.html", pages=pages)


@bp.get("/<slug>")
@kept_pages.kept
def show(slug: str):
    title, body = page(slug)
    return render_template("guidance/page.html", slug=slug, title=title, html=render(body))


@bp.get("/<slug>/edit")
@roles_required(Role.ADMIN)
def edit(slug: str):
    title, body = page(slug)
    return render_template("guidance/edit.html", slug=slug, title=title, body=body, error=None)


@bp.post("/<slug>/edit")
@roles_required(Role.ADMIN)
def edit_post(slug: str):
    old_title, old_body = page(slug)
    title = request.form.get("title", "").strip()
    body = request.form.get("body", "").replace("\r\n", "\n").strip()
    if not title or not body or len(body) > MAX_LENGTH or len(title) > 200:
        error = f"Give the page a title and a text of at most {MAX_LENGTH:,} characters."
        return render_template(
            "guidance/edit.html", slug=slug, title=title, body=body, error=error
        ), 400
    db = get_session()
    row = db.get(GuidancePage, slug) or GuidancePage(slug=slug, title=title, body=body)
    row.title, row.body, row.updated_at, row.updated_by_id = title, body, utcnow(), current_user.id
    db.add(row)
    audit.record(
        db, entity="guidance", entity_id=SLUGS.index(slug), action="edited",
        changes=audit.diff({"title": old_title, "body": old_body}, {"title": title, "body": body}),
        actor_id=current_user.id, reason=f"guidance page {slug} edited",
    )  # fmt: skip
    db.commit()
    flash("Guidance saved.")
    return redirect(url_for("guidance.show", slug=slug))

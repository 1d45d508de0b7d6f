"""Pages for all signed-in staff: suggest a resource, report a problem, an entry's history."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlmodel import select

from registry.accounts.auth import signed_in_user
from registry.catalogue.views import resource_or_404
from registry.db import get_session
from registry.entries import policy
from registry.entries.forms import CHOICES, FIELD_LABELS, validate_resource
from registry.jobs.background import check_soon
from registry.models import AuditEvent, ProblemReport, Review, User
from registry.review import lifecycle as review
from registry.review.lifecycle import REPORT_REASONS, LifecycleError, Seen

bp = Blueprint("staff", __name__)


@bp.get("/suggest")
def suggest():
    return render_template(
        "staff/suggest.html", values={}, errors={}, labels=FIELD_LABELS, choices=CHOICES
    )


@bp.post("/suggest")
def suggest_post():
    data, errors, raw = validate_resource(request.form)
    db = get_session()
    user = signed_in_user()
    if data is not None:
        try:
            resource = review.suggest(db, data=data, user=user)
        except LifecycleError as exc:
            errors = {"url": str(exc)}
        else:
            db.commit()
            check_soon(resource.id)  # a background check of the new URL
            flash("Thank you. Your suggestion is in the reviewers' queue.")
            return redirect(url_for("catalogue.entry", resource_id=resource.id))
    db.rollback()
    return render_template(
        "staff/suggest.html", values=raw, errors=errors, labels=FIELD_LABELS, choices=CHOICES
    ), 400


def _report_page(resource, *, form=None, seen=None, error=None, conflict=None, status=200):
    return render_template(
        "staff/report.html", resource=resource, reasons=REPORT_REASONS, form=form or {},
        seen=seen or review.seen_now(get_session(), resource), error=error, conflict=conflict,
    ), status  # fmt: skip


@bp.get("/resources/<id:resource_id>/report")
def report(resource_id: int):
    return _report_page(resource_or_404(resource_id))


@bp.post("/resources/<id:resource_id>/report")
def report_post(resource_id: int):
    resource = resource_or_404(resource_id)
    db = get_session()
    seen = Seen.parse(request.form.get("seen"))
    reason, note = request.form.get("reason", ""), request.form.get("note", "")[:4000]
    form = {"reason": reason, "note": note}
    try:
        conflict = review.commit_unless_changed(db, resource, seen, lambda: review.report_problem(
            db, resource, user=signed_in_user(), reason=reason, note=note, seen=seen,
        ))  # fmt: skip
    except LifecycleError as exc:
        db.rollback()
        # What the person saw still stands: a change since must still be shown to them.
        return _report_page(resource, form=form, seen=seen, error=str(exc), status=400)
    if conflict is not None:
        return _report_page(resource, form=form, conflict=conflict, status=409)
    flash("Thank you. A reviewer will look at your report.")
    return redirect(url_for("catalogue.entry", resource_id=resource.id))


@bp.get("/resources/<id:resource_id>/history")
def history(resource_id: int):
    resource = resource_or_404(resource_id)
    db = get_session()
    events = db.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "resource", AuditEvent.entity_id == resource.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    reviews = {r.id: r for r in db.exec(select(Review).where(Review.resource_id == resource.id))}
    reports = {
        r.id: r
        for r in db.exec(select(ProblemReport).where(ProblemReport.resource_id == resource.id))
    }
    ids = {e.actor_id for e in events} | {r.reviewer_id for r in reviews.values()}
    people = {u.id: u for u in db.exec(select(User).where(User.id.in_(ids)))}  # type: ignore[union-attr]
    return render_template(
        "staff/history.html", resource=resource, events=events, reviews=reviews, reports=reports,
        people=people, policy_diff=policy.changes(db, resource.id),
    )  # fmt: skip

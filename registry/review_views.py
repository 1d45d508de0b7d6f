"""The reviewers' pages: the queue, the rubric, editing, retiring, closing reports."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from registry import checkrun, dashboard, queue, review, rubric
from registry.auth import roles_required, signed_in_user
from registry.db import get_session
from registry.forms import FIELD_LABELS, resource_values, validate_resource
from registry.models import CheckResult, ProblemReport, Resource
from registry.review import EditConflict, LifecycleError
from registry.staff_views import CHOICES
from registry.views import resource_or_404
from registry.vocab import Decision, Role

bp = Blueprint("review", __name__)


@bp.get("/review")
@roles_required(Role.REVIEWER)
def queue_page():
    kind = request.args.get("kind")
    kind = kind if kind in queue.KINDS else None
    items = queue.build(
        get_session(),
        kind=kind,
        due_within_days=current_app.config["REGISTRY_REVIEW_DUE_SOON_DAYS"],
    )
    return render_template("review/queue.html", items=items, kind=kind, kinds=queue.KINDS)


@bp.get("/review/dashboard")
@roles_required(Role.REVIEWER)
def dashboard_page():
    return render_template("review/dashboard.html", board=dashboard.build(get_session()))


def _latest_check(resource_id: int) -> CheckResult | None:
    return checkrun.latest_result(get_session(), resource_id)


def _review_page(resource: Resource, *, answers=None, form=None, error=None, status=200):
    return render_template(
        "review/review.html",
        resource=resource,
        items=rubric.ITEMS,
        answer_labels=rubric.ANSWERS,
        answers=answers or {},
        form=form or {},
        decisions=list(Decision),
        latest_check=_latest_check(resource.id),
        previous=review.latest_review(get_session(), resource.id),
        error=error,
        self_suggested=resource.suggested_by_id == current_user.id,
    ), status


@bp.get("/resources/<id:resource_id>/review")
@roles_required(Role.REVIEWER)
def review_page(resource_id: int):
    return _review_page(resource_or_404(resource_id))


@bp.post("/resources/<id:resource_id>/review")
@roles_required(Role.REVIEWER)
def review_post(resource_id: int):
    resource = resource_or_404(resource_id)
    answers = {
        item.key: {
            "answer": request.form.get(f"rubric-{item.key}", ""),
            "note": request.form.get(f"note-{item.key}", ""),
        }
        for item in rubric.ITEMS
    }
    db = get_session()
    try:
        decision = Decision(request.form.get("decision", ""))
    except ValueError:
        return _review_page(
            resource, answers=answers, form=request.form, error="Choose a decision.", status=400
        )
    try:
        review.decide(
            db, resource, user=signed_in_user(), decision=decision,
            rationale=request.form.get("rationale", ""), cautions=request.form.get("cautions", ""),
            answers=answers, validity_months=current_app.config["REGISTRY_REVIEW_VALID_MONTHS"],
        )  # fmt: skip
    except LifecycleError as exc:
        db.rollback()
        status = 403 if isinstance(exc, review.NotIndependent) else 400
        return _review_page(
            resource, answers=answers, form=request.form, error=str(exc), status=status
        )
    db.commit()
    flash(f"Your decision on “{resource.name}” has been recorded.")
    return redirect(url_for("review.queue_page"))


@bp.post("/resources/<id:resource_id>/start-review")
@roles_required(Role.REVIEWER)
def start_review(resource_id: int):
    resource = resource_or_404(resource_id)
    db = get_session()
    try:
        review.start_review(db, resource, user=signed_in_user())
    except LifecycleError as exc:
        db.rollback()
        flash(str(exc))
    else:
        db.commit()
    return redirect(url_for("review.review_page", resource_id=resource.id))


@bp.get("/resources/<id:resource_id>/edit")
@roles_required(Role.REVIEWER)
def edit(resource_id: int):
    resource = resource_or_404(resource_id)
    return render_template(
        "review/edit.html", resource=resource, values=resource_values(resource), errors={},
        labels=FIELD_LABELS, choices=CHOICES, version=resource.version, theirs=None,
    )  # fmt: skip


@bp.post("/resources/<id:resource_id>/edit")
@roles_required(Role.REVIEWER)
def edit_post(resource_id: int):
    resource = resource_or_404(resource_id)
    data, errors, raw = validate_resource(request.form)
    db = get_session()
    version = request.form.get("version", type=int) or 0
    if data is not None:
        try:
            changes = review.edit(
                db, resource, data=data, user=signed_in_user(), expected_version=version
            )
        except EditConflict as exc:
            db.rollback()
            current = db.get(Resource, resource_id)
            return render_template(
                "review/edit.html", resource=current, values=raw, errors={"conflict": str(exc)},
                labels=FIELD_LABELS, choices=CHOICES, version=current.version,
                theirs=resource_values(current),
            ), 409  # fmt: skip
        except LifecycleError as exc:
            errors = {"url": str(exc)}
        else:
            db.commit()
            flash("Changes saved." if changes else "Nothing had changed.")
            return redirect(url_for("catalogue.entry", resource_id=resource.id))
    db.rollback()
    return render_template(
        "review/edit.html", resource=resource, values=raw, errors=errors, labels=FIELD_LABELS,
        choices=CHOICES, version=version, theirs=None,
    ), 400  # fmt: skip


@bp.post("/resources/<id:resource_id>/retire")
@roles_required(Role.REVIEWER)
def retire(resource_id: int):
    return _state_action(resource_id, review.retire, "Entry retired; its history is kept.")


@bp.post("/resources/<id:resource_id>/reinstate")
@roles_required(Role.REVIEWER)
def reinstate(resource_id: int):
    return _state_action(resource_id, review.reinstate, "Entry reinstated as a suggestion.")


def _state_action(resource_id: int, action, done: str):
    resource = resource_or_404(resource_id)
    db = get_session()
    try:
        action(db, resource, user=signed_in_user(), reason=request.form.get("reason", ""))
    except LifecycleError as exc:
        db.rollback()
        flash(str(exc))
    else:
        db.commit()
        flash(done)
    return redirect(url_for("catalogue.entry", resource_id=resource.id))


@bp.post("/reports/<id:report_id>/close")
@roles_required(Role.REVIEWER)
def close_report(report_id: int):
    db = get_session()
    report = db.get(ProblemReport, report_id)
    if report is None:
        abort(404)
    try:
        review.resolve_report(
            db, report, user=signed_in_user(), resolution=request.form.get("resolution", ""),
            dismissed=request.form.get("outcome") == "dismissed",
        )  # fmt: skip
    except LifecycleError as exc:
        db.rollback()
        flash(str(exc))
    else:
        db.commit()
        flash("The report has been closed.")
    return redirect(url_for("review.queue_page", kind="report"))

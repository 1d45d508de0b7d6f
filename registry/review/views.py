"""The reviewers' pages: the queue, the rubric, editing, retiring, closing reports."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from registry.accounts.auth import roles_required, signed_in_user
from registry.db import get_or_404, get_session
from registry.entries import policy
from registry.entries.forms import CHOICES, FIELD_LABELS, resource_values, validate_resource
from registry.entries.status import latest_result, latest_review
from registry.models import CheckResult, ProblemReport, Resource
from registry.review import dashboard, panel, queue, rereview, rubric
from registry.review import lifecycle as review
from registry.review.lifecycle import EditConflict, LifecycleError, Seen
from registry.vocab import Decision, Role, Stage

bp = Blueprint("review", __name__)


@bp.record_once
def _register_helpers(state) -> None:
    """Answer any StaleDataError with a 409 page, and let entry.html's forms carry `seen`."""
    state.app.register_error_handler(StaleDataError, _changed_at_the_same_moment)
    state.app.jinja_env.globals["seen_token"] = lambda resource: str(
        review.seen_now(get_session(), resource)
    )


def _changed_at_the_same_moment(_error):
    """The last line of defence: a write that lost a race on an entry, wherever it happened."""
    get_session().rollback()
    return render_template(
        "error.html", title="Someone changed this at the same moment", status=409,
        message="Someone else changed this at the same moment as you, so nothing was saved. "
        "Go back, reload the page to see what changed, and try again.",
    ), 409  # fmt: skip


def _seen() -> Seen:
    return Seen.parse(request.form.get("seen"))


@bp.get("/review")
@roles_required(Role.REVIEWER)
def queue_page():
    kind = request.args.get("kind")
    kind = kind if kind in queue.KINDS else None
    items = queue.build(
        get_session(),
        kind=kind,
        due_within_days=current_app.config["REGISTRY_REVIEW_DUE_SOON_DAYS"],
        viewer_id=current_user.id,
    )
    return render_template("review/queue.html", items=items, kind=kind, kinds=queue.KINDS)


@bp.get("/review/dashboard")
@roles_required(Role.REVIEWER)
def dashboard_page():
    return render_template("review/dashboard.html", board=dashboard.build(get_session()))


def _latest_check(resource_id: int) -> CheckResult | None:
    return latest_result(get_session(), resource_id)


def _review_page(
    resource: Resource, *, answers=None, form=None, error=None, conflict=None, seen=None, status=200
):
    db = get_session()
    previous = latest_review(db, resource.id)
    waiting = panel.pending(db, resource)
    # A re-review opens with the last decision's answers, for the reviewer to confirm or change;
    # a second reviewer's form opens with the proposal's, and its decision, rationale and cautions.
    basis = waiting.proposal if waiting else previous
    prefilled = answers is None and basis is not None
    if form is None and waiting is not None and waiting.disagreement is None:
        proposal = waiting.proposal
        form = {"decision": proposal.decision, "rationale": proposal.rationale,
                "cautions": proposal.cautions or ""}  # fmt: skip
    return render_template(
        "review/review.html",
        resource=resource,
        items=rubric.ITEMS,
        answer_labels=rubric.ANSWERS,
        answers=(basis.rubric if prefilled else answers) or {},
        prefilled=prefilled,
        since=rereview.since_decision(db, resource, previous) if previous else None,
        form=form or {},
        decisions=list(Decision),
        latest_check=_latest_check(resource.id),
        previous=previous,
        waiting=waiting,
        waiting_people=panel.people_of(db, [waiting] if waiting else []),
        barred=waiting is not None and current_user.id in waiting.barred(),
        panel_size=current_app.config["REGISTRY_DECISION_REVIEWERS"],
        # What the policy lost and gained since the check the last decision saw.
        policy_diff=policy.changes(
            db, resource.id, after_result_id=(previous.check_result_id or 0) if previous else 0
        ),
        error=error,
        conflict=conflict,
        seen=seen or review.seen_now(db, resource),
        suggested_by=review.suggested_by(db, resource),
        self_suggested=resource.suggested_by_id == current_user.id,
    ), status


# What a reviewer is told when their step is recorded, by the step it was.
_RECORDED = {
    Stage.DECISION: "Your decision on “{name}” has been recorded.",
    Stage.PROPOSAL: "Your decision on “{name}” is proposed: it stands when a second reviewer "
    "confirms it.",
    Stage.CONFIRMATION: "You confirmed the decision on “{name}”: it now stands.",
    Stage.DISAGREEMENT: "Your disagreement on “{name}” is recorded beside the proposal: a third "
    "reviewer settles it.",
    Stage.SETTLEMENT: "Your decision settles the disagreement on “{name}”: it now stands.",
}


@bp.get("/resources/<id:resource_id>/review")
@roles_required(Role.REVIEWER)
def review_page(resource_id: int):
    return _review_page(get_or_404(Resource, resource_id))


@bp.post("/resources/<id:resource_id>/review")
@roles_required(Role.REVIEWER)
def review_post(resource_id: int):
    resource = get_or_404(Resource, resource_id)
    answers = {
        item.key: {
            "answer": request.form.get(f"rubric-{item.key}", ""),
            "note": request.form.get(f"note-{item.key}", ""),
        }
        for item in rubric.ITEMS
    }
    db = get_session()
    seen = _seen()
    try:
        decision = Decision(request.form.get("decision", ""))
    except ValueError:
        return _review_page(
            resource, answers=answers, form=request.form, error="Choose a decision.", seen=seen,
            status=400,
        )  # fmt: skip
    try:
        recorded: list = []  # the step decide() recorded, to say what it was
        step = lambda: recorded.append(review.decide(  # noqa: E731
            db, resource, user=signed_in_user(), decision=decision,
            rationale=request.form.get("rationale", ""), cautions=request.form.get("cautions", ""),
            answers=answers, validity_months=current_app.config["REGISTRY_REVIEW_VALID_MONTHS"],
            reviewers=current_app.config["REGISTRY_DECISION_REVIEWERS"], seen=seen,
        ))  # fmt: skip
        conflict = review.commit_unless_changed(db, resource, seen, step)
    except LifecycleError as exc:
        db.rollback()
        status = 403 if isinstance(exc, review.NotIndependent) else 400
        return _review_page(
            resource, answers=answers, form=request.form, error=str(exc), seen=seen, status=status
        )
    if conflict is not None:
        return _review_page(
            resource, answers=answers, form=request.form, conflict=conflict, status=409
        )
    flash(_RECORDED[Stage(recorded[0].stage)].format(name=resource.name))
    return redirect(url_for("review.queue_page"))


@bp.post("/resources/<id:resource_id>/withdraw-proposal")
@roles_required(Role.REVIEWER)
def withdraw_proposal(resource_id: int):
    resource = get_or_404(Resource, resource_id)
    db = get_session()
    seen, reason = _seen(), request.form.get("reason", "")
    try:
        conflict = review.commit_unless_changed(
            db, resource, seen,
            lambda: review.withdraw_proposal(
                db, resource, user=signed_in_user(), reason=reason, seen=seen
            ),
        )  # fmt: skip
    except LifecycleError as exc:
        db.rollback()
        return _review_page(resource, error=str(exc), status=400)
    if conflict is not None:
        return _review_page(resource, conflict=conflict, status=409)
    flash(f"Your proposed decision on “{resource.name}” has been withdrawn.")
    return redirect(url_for("review.review_page", resource_id=resource.id))


@bp.post("/resources/<id:resource_id>/start-review")
@roles_required(Role.REVIEWER)
def start_review(resource_id: int):
    resource = get_or_404(Resource, resource_id)
    db = get_session()
    seen = _seen()
    try:
        conflict = review.commit_unless_changed(
            db,
            resource,
            seen,
            lambda: review.start_review(db, resource, user=signed_in_user(), seen=seen),
        )
    except LifecycleError as exc:
        db.rollback()
        flash(str(exc))
    else:
        if conflict is not None:
            return _review_page(resource, conflict=conflict, status=409)
    return redirect(url_for("review.review_page", resource_id=resource.id))


@bp.get("/resources/<id:resource_id>/edit")
@roles_required(Role.REVIEWER)
def edit(resource_id: int):
    resource = get_or_404(Resource, resource_id)
    return render_template(
        "review/edit.html", resource=resource, values=resource_values(resource), errors={},
        labels=FIELD_LABELS, choices=CHOICES, version=resource.version, theirs=None,
    )  # fmt: skip


@bp.post("/resources/<id:resource_id>/edit")
@roles_required(Role.REVIEWER)
def edit_post(resource_id: int):
    resource = get_or_404(Resource, resource_id)
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
    return _state_action(resource_id, "retire", "Entry retired; its history is kept.")


@bp.post("/resources/<id:resource_id>/reinstate")
@roles_required(Role.REVIEWER)
def reinstate(resource_id: int):
    return _state_action(
        resource_id, "reinstate", "Entry reinstated as your suggestion: another reviewer decides."
    )


def _state_action(resource_id: int, verb: str, done: str):
    resource = get_or_404(Resource, resource_id)
    db = get_session()
    seen, reason = _seen(), request.form.get("reason", "")
    action = {"retire": review.retire, "reinstate": review.reinstate}[verb]
    try:
        conflict = review.commit_unless_changed(db, resource, seen, lambda: action(
            db, resource, user=signed_in_user(), reason=reason, seen=seen
        ))  # fmt: skip
    except LifecycleError as exc:
        db.rollback()
        flash(str(exc))
        return redirect(url_for("catalogue.entry", resource_id=resource.id))
    if conflict is not None:
        return render_template(
            "review/state_conflict.html", resource=resource, verb=verb, reason=reason,
            conflict=conflict, seen=review.seen_now(db, resource),
        ), 409  # fmt: skip
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

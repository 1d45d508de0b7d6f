"""The admins' pages: add accounts, change roles, disable accounts, issue one-time passwords."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from registry import accounts
from registry.auth import roles_required
from registry.db import get_session
from registry.models import User
from registry.vocab import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _me() -> User:
    return get_session().get(User, current_user.id)


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    people = get_session().exec(select(User).order_by(User.email)).all()
    return render_template(
        "admin/users.html", people=people, roles=list(Role), error=None, issued=None
    )


@bp.post("/users")
@roles_required(Role.ADMIN)
def add_user():
    db = get_session()
    password = accounts.one_time_password()
    try:
        user = accounts.create(
            db, email=request.form.get("email", ""), role=request.form.get("role", ""),
            name=request.form.get("name", ""), password=password, one_time=True, by=_me(),
        )  # fmt: skip
    except accounts.AccountError as exc:
        db.rollback()
        people = db.exec(select(User).order_by(User.email)).all()
        return render_template(
            "admin/users.html", people=people, roles=list(Role), error=str(exc), issued=None,
            form=request.form,
        ), 400  # fmt: skip
    db.commit()
    people = db.exec(select(User).order_by(User.email)).all()
    return render_template(
        "admin/users.html",
        people=people,
        roles=list(Role),
        error=None,
        issued=(user.email, password),
    )


@bp.post("/users/<id:user_id>")
@roles_required(Role.ADMIN)
def update_user(user_id: int):
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    try:
        accounts.update(
            db, user, by=_me(), role=request.form.get("role", user.role),
            active=request.form.get("active") == "yes",
        )  # fmt: skip
    except accounts.AccountError as exc:
        db.rollback()
        flash(str(exc))
    else:
        db.commit()
        flash(f"{user.email} updated.")
    return redirect(url_for("admin.users"))


@bp.post("/users/<id:user_id>/password")
@roles_required(Role.ADMIN)
def reset_password(user_id: int):
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    password = accounts.one_time_password()
    accounts.set_password(db, user, password, by=_me(), one_time=True)
    db.commit()
    people = db.exec(select(User).order_by(User.email)).all()
    return render_template(
        "admin/users.html",
        people=people,
        roles=list(Role),
        error=None,
        issued=(user.email, password),
    )

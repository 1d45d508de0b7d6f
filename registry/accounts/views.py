"""The admins' pages: add accounts, change roles, disable accounts, issue one-time passwords."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlmodel import select

from registry.accounts import services as accounts
from registry.accounts.auth import roles_required, signed_in_user
from registry.db import get_session
from registry.models import User
from registry.vocab import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _users_page(*, error: str | None = None, issued: tuple[str, str] | None = None, form=None):
    """Render the accounts page, with an error or a newly issued one-time password."""
    people = get_session().exec(select(User).order_by(User.email)).all()
    page = render_template(
        "admin/users.html", people=people, roles=list(Role), error=error, issued=issued, form=form
    )
    return page, 400 if error else 200


def _account_or_404(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    return _users_page()


@bp.post("/users")
@roles_required(Role.ADMIN)
def add_user():
    db = get_session()
    password = accounts.one_time_password()
    form = request.form
    try:
        user = accounts.create(
            db, email=form.get("email", ""), role=form.get("role", ""), name=form.get("name", ""),
            password=password, one_time=True, by=signed_in_user(),
        )  # fmt: skip
    except accounts.AccountError as exc:
        db.rollback()
        return _users_page(error=str(exc), form=form)
    db.commit()
    return _users_page(issued=(user.email, password))


@bp.post("/users/<id:user_id>")
@roles_required(Role.ADMIN)
def update_user(user_id: int):
    db = get_session()
    user = _account_or_404(user_id)
    try:
        accounts.update(
            db, user, by=signed_in_user(), role=request.form.get("role", user.role),
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
    user = _account_or_404(user_id)
    password = accounts.one_time_password()
    accounts.set_password(db, user, password, by=signed_in_user(), one_time=True)
    db.commit()
    return _users_page(issued=(user.email, password))

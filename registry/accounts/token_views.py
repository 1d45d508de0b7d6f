"""Each member of staff's own API tokens: make one (its secret shown once), see them, revoke one.

Tokens were made only with `registry token create` on the server; people who want a program to
read the API should not need someone with a shell for that.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlmodel import select

from registry.accounts import tokens as api_tokens
from registry.accounts.auth import signed_in_user
from registry.db import get_session
from registry.models import ApiToken

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


def _page(*, issued: tuple[str, str] | None = None):
    user = signed_in_user()
    mine = get_session().exec(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    )
    return render_template("account/tokens.html", tokens=mine.all(), issued=issued)


@bp.get("")
def list_tokens():
    return _page()


@bp.post("")
def create_token():
    db = get_session()
    user = signed_in_user()
    token, secret = api_tokens.create(
        db, email=user.email, name=request.form.get("name"), actor_label=user.email
    )
    db.commit()
    # The secret is in this one response only: stored nowhere, and not to be cached.
    return _page(issued=(token.name, secret)), 201, {"Cache-Control": "no-store"}


@bp.post("/<id:token_id>/revoke")
def revoke_token(token_id: int):
    db = get_session()
    user = signed_in_user()
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        abort(404)  # someone else's token is not there, as far as this page knows
    api_tokens.revoke(db, token_id, actor_label=user.email)
    db.commit()
    flash(f"The token “{token.name}” no longer works.")
    return redirect(url_for("tokens.list_tokens"))

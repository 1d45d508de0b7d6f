"""Signing in and out, sessions that expire, and the role each page needs."""

from datetime import timedelta
from functools import wraps
from time import time

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from registry.accounts import services as accounts
from registry.accounts import throttle
from registry.db import get_session
from registry.entries.visibility import Audience, audience
from registry.models import User
from registry.security import safe_target
from registry.vocab import Role

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

# Endpoints anyone may reach; every other page needs a signed-in account (and maybe a role).
# What they show the public is the visibility policy's (registry/entries/visibility.py).
PUBLIC_ENDPOINTS = {
    "static",
    "catalogue.index",
    "catalogue.entry",
    "auth.sign_in",
    "handout.view",
    "handout.add",
    "handout.remove",
    "handout.clear",
    "guidance.index",
    "guidance.show",
    # The recommended entries as open data; ?all=1 asks for sign-in (registry/exchange_views.py).
    "exchange.export_csv",
    "exchange.export_json",
    "exchange.export_hsds",
}
# With REGISTRY_PUBLIC_ACCESS=none (an intranet registry), only these are open.
OPEN_WITHOUT_PUBLIC_ACCESS = {"static", "auth.sign_in", "auth.sign_in_post"}


def public_access() -> bool:
    """Return whether the public may see the decided entries (REGISTRY_PUBLIC_ACCESS=decided)."""
    return current_app.config["REGISTRY_PUBLIC_ACCESS"] != "none"


def current_audience() -> Audience:
    """Return who is asking for a page: staff when signed in, else the public."""
    return audience(current_user.is_authenticated)


class Account(UserMixin):
    """The signed-in person, as Flask-Login sees them: an account row and its session version."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"

    @property
    def is_active(self) -> bool:
        return self.user.active

    def has_role(self, *roles: str) -> bool:
        return self.user.role in roles

    def __getattr__(self, name: str):
        return getattr(self.user, name)


@login_manager.user_loader
def _load(identifier: str) -> Account | None:
    user_id, _, version = identifier.partition(":")
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return Account(user)


def signed_in_user() -> User:
    """Return the signed-in person's account row, in this request's session."""
    return get_session().get(User, current_user.id)


def roles_required(*roles: Role):
    """Let a view be used only by accounts with one of roles (admins have every right)."""
    allowed = {role.value for role in roles} | {Role.ADMIN.value}

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_roles = allowed  # read by the authorisation tests
        return wrapper

    return decorate


def _safe_next(target: str | None) -> str:
    """Return target if it is a path on this site, else the catalogue."""
    return safe_target(target, default=url_for("catalogue.index"))


@bp.get("/sign-in")
def sign_in():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/sign_in.html", next=request.args.get("next", ""), email="")


@bp.post("/sign-in")
def sign_in_post():
    email = request.form.get("email", "")
    db = get_session()
    account, address = email.strip().lower(), request.remote_addr or "unknown"
    config = current_app.config
    wait = throttle.wait_seconds(
        db,
        account=account,
        address=address,
        max_failures=config["REGISTRY_SIGNIN_MAX_FAILURES"],
        max_per_address=config["REGISTRY_SIGNIN_MAX_FAILURES_PER_ADDRESS"],
        window=timedelta(minutes=config["REGISTRY_SIGNIN_WINDOW_MINUTES"]),
    )
    if wait:
        minutes = -(-wait // 60)
        page = render_template(
            "auth/sign_in.html",
            next=request.form.get("next", ""),
            email=email,
            error=f"Too many attempts to sign in. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}, or ask an administrator to reset your password.",
        )
        return page, 429, {"Retry-After": str(wait)}
    user = accounts.authenticate(db, email, request.form.get("password", ""))
    if user is None:
        db.rollback()
        throttle.record(db, account=account, address=address, succeeded=False)
        db.commit()
        return render_template(
            "auth/sign_in.html",
            next=request.form.get("next", ""),
            email=email,
            error="The email address or password is not right, or the account is disabled.",
        ), 401
    throttle.record(db, account=account, address=address, succeeded=True)
    db.commit()
    session.clear()  # a fresh session at every sign-in: no fixation
    session.permanent = True
    session["signed_in_at"] = int(time())
    login_user(Account(user))
    if user.must_change_password:
        return redirect(url_for("auth.password"))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/sign-out")
def sign_out():
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("auth.sign_in"))


@bp.get("/account/password")
def password():
    return render_template("auth/password.html")


@bp.post("/account/password")
def password_post():
    db = get_session()
    user = db.get(User, current_user.id)
    error = None
    if not accounts.authenticate(db, user.email, request.form.get("current", "")):
        error = "Your current password is not right."
    elif request.form.get("new", "") != request.form.get("confirm", ""):
        error = "The new password and its confirmation do not match."
    else:
        try:
            accounts.set_password(db, user, request.form.get("new", ""), by=user)
        except accounts.AccountError as exc:
            error = str(exc)
    if error:
        db.rollback()
        return render_template("auth/password.html", error=error), 400
    db.commit()
    login_user(Account(user))  # the session version moved on: keep this session, end the others
    flash("Your password has been changed.")
    return redirect(url_for("catalogue.index"))


def _guard_every_request():
    """Expire old sessions, demand a new password after a one-time one, require sign-in."""
    endpoint = request.endpoint or ""
    if request.blueprint == "api":
        return None  # the API authenticates by token and answers in JSON (registry/api.py)
    if current_user.is_authenticated:
        max_age = current_app.config["REGISTRY_SESSION_MAX_HOURS"] * 3600
        if time() - session.get("signed_in_at", 0) > max_age:
            logout_user()
            session.clear()
            flash("Your session has expired. Sign in again.")
            return redirect(url_for("auth.sign_in", next=request.full_path))
        if current_user.must_change_password and endpoint not in {
            "auth.password", "auth.password_post", "auth.sign_out", "static",
        }:  # fmt: skip
            return redirect(url_for("auth.password"))
    elif endpoint and not public_access() and endpoint not in OPEN_WITHOUT_PUBLIC_ACCESS:
        return login_manager.unauthorized()
    elif endpoint not in PUBLIC_ENDPOINTS and endpoint != "auth.sign_in_post" and endpoint:
        return login_manager.unauthorized()
    return None


def _csrf_failed(error: CSRFError):
    return render_template(
        "error.html",
        title="This form has expired",
        status=400,
        message="For your security, forms expire. Go back, reload the page and submit it again.",
    ), 400


def init_app(app: Flask) -> None:
    """Set up sessions, CSRF protection on every form, and sign-in."""
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        minutes=app.config["REGISTRY_SESSION_IDLE_MINUTES"]
    )
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(seconds=0)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to use that page."
    app.register_blueprint(bp)
    app.before_request(_guard_every_request)
    app.register_error_handler(CSRFError, _csrf_failed)

"""Accounts: the command line, signing in and out, one-time passwords, expiry, CSRF."""

import subprocess
import sys

from flask import session as flask_session
from sqlmodel import select

from registry.models import AuditEvent, User
from tests.conftest import PASSWORD, Web


def _cli(tmp_path, *args, stdin: str | None = None):
    import os

    env = {**os.environ, "REGISTRY_INSTANCE_PATH": str(tmp_path / "instance")}
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args],
        input=stdin, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_user_add_prints_a_one_time_password_that_must_be_replaced(tmp_path):
    result = _cli(tmp_path, "user", "add", "Lead@Example.org", "--role", "admin")
    assert result.returncode == 0, result.stderr
    assert "Added lead@example.org as admin." in result.stdout
    password = result.stdout.split("One-time password: ")[1].split()[0]
    assert len(password) >= 12
    listed = _cli(tmp_path, "user", "list")
    assert listed.stdout.strip() == "lead@example.org\tadmin"


def test_user_add_takes_a_password_on_standard_input(tmp_path):
    result = _cli(tmp_path, "user", "add", "r@example.org", "--role", "reviewer", "--password-stdin",
                  stdin="a long enough password\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "One-time password" not in result.stdout


def test_user_add_refuses_bad_input_plainly(tmp_path):
    weak = _cli(tmp_path, "user", "add", "r@example.org", "--role", "reviewer", "--password-stdin",
                stdin="short\n")  # fmt: skip
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr
    bad_role = _cli(tmp_path, "user", "add", "r@example.org", "--role", "boss")
    assert bad_role.returncode == 2 and "boss" in bad_role.stderr
    not_email = _cli(tmp_path, "user", "add", "nobody", "--role", "clinician")
    assert not_email.returncode == 1 and "is not an email address" in not_email.stderr
    _cli(tmp_path, "user", "add", "twice@example.org", "--role", "clinician")
    again = _cli(tmp_path, "user", "add", "TWICE@example.org", "--role", "clinician")
    assert again.returncode == 1 and "already an account" in again.stderr
    for result in (weak, bad_role, not_email, again):
        assert "Traceback" not in result.stderr


def test_signing_in_opens_the_staff_pages_and_signing_out_closes_them(web, make_user):
    make_user("nurse@example.org")
    assert web.get("/suggest").status_code == 302
    web.sign_in("nurse@example.org")
    assert web.get("/suggest").status_code == 200
    assert b"nurse@example.org" in web.get("/").data
    web.post("/sign-out", page="/")
    response = web.get("/suggest")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(web, make_user):
    make_user("nurse@example.org")
    wrong = web.post("/sign-in", {"email": "nurse@example.org", "password": "not the password"})
    unknown = web.post("/sign-in", {"email": "ghost@example.org", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    message = "The email address or password is not right, or the account is disabled."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_a_one_time_password_must_be_changed_before_anything_else(web, make_user):
    make_user("new@example.org", one_time=True)
    web.sign_in("new@example.org")
    assert web.get("/suggest").headers["Location"].endswith("/account/password")
    mismatch = web.post("/account/password", {"current": PASSWORD, "new": "x" * 12, "confirm": "y" * 12},
                        page="/account/password")  # fmt: skip
    assert mismatch.status_code == 400
    changed = web.post(
        "/account/password",
        {"current": PASSWORD, "new": "my own long password", "confirm": "my own long password"},
        page="/account/password",
    )
    assert changed.status_code == 302
    assert web.get("/suggest").status_code == 200
    fresh = Web(web.client.application.test_client())
    fresh.sign_in("new@example.org", "my own long password")


def test_sign_in_only_returns_to_pages_on_this_site(web, make_user):
    make_user("nurse@example.org")
    response = web.post("/sign-in", {"email": "nurse@example.org", "password": PASSWORD,
                                     "next": "https://evil.example.com/"})  # fmt: skip
    assert response.headers["Location"] == "/"
    other = Web(web.client.application.test_client())
    response = other.post("/sign-in", {"email": "nurse@example.org", "password": PASSWORD,
                                       "next": "/suggest"})  # fmt: skip
    assert response.headers["Location"] == "/suggest"


def test_a_form_without_its_csrf_token_is_refused(web, make_user):
    make_user("nurse@example.org")
    refused = web.client.post("/sign-in", data={"email": "nurse@example.org", "password": PASSWORD})
    assert refused.status_code == 400
    assert "This form has expired" in refused.get_data(as_text=True)
    web.sign_in("nurse@example.org")
    forged = web.client.post("/suggest", data={"name": "X", "url": "https://x.example.org/", "kind": "app",
                                               "csrf_token": "forged"})  # fmt: skip
    assert forged.status_code == 400


def test_a_session_older_than_the_limit_is_signed_out(app, web, make_user):
    make_user("nurse@example.org")
    web.sign_in("nurse@example.org")
    with web.client.session_transaction() as stored:
        stored["signed_in_at"] -= app.config["REGISTRY_SESSION_MAX_HOURS"] * 3600 + 1
    response = web.get("/suggest")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert web.get("/suggest").status_code == 302


def test_the_session_cookie_is_http_only_and_same_site(web, make_user):
    make_user("nurse@example.org")
    cookie = web.sign_in("nurse@example.org").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_signing_in_starts_a_fresh_session(web, make_user):
    make_user("nurse@example.org")
    with web.client.session_transaction() as stored:
        stored["planted"] = "by an attacker"
    web.sign_in("nurse@example.org")
    with web.client.application.test_request_context():
        with web.client.session_transaction() as stored:
            assert "planted" not in stored
    assert flask_session is not None


def test_disabling_an_account_ends_its_sessions(as_role, people, session):
    clinician = as_role("clinician")
    admin = as_role("admin")
    response = admin.post(f"/admin/users/{people['clinician']}", {"role": "clinician", "active": "no"},
                          page="/admin/users")  # fmt: skip
    assert response.status_code == 302
    assert clinician.get("/suggest").status_code == 302
    assert (
        Web(clinician.client.application.test_client())
        .post("/sign-in", {"email": "clinician@example.org", "password": PASSWORD})
        .status_code
        == 401
    )
    change = session.exec(
        select(AuditEvent).where(AuditEvent.entity == "user", AuditEvent.action == "updated")
    ).one()
    assert change.changes == {"active": [True, False]} and change.actor_id == people["admin"]


def test_an_admin_adds_an_account_and_sees_its_one_time_password_once(as_role, session):
    admin = as_role("admin")
    page = admin.post("/admin/users", {"email": "ot@example.org", "role": "clinician", "name": "O T"},
                      page="/admin/users").get_data(as_text=True)  # fmt: skip
    assert "One-time password for ot@example.org" in page
    password = page.split('class="registry-password">')[1].split("<")[0]
    added = session.exec(select(User).where(User.email == "ot@example.org")).one()
    assert added.must_change_password and added.role == "clinician"
    Web(admin.client.application.test_client()).sign_in("ot@example.org", password)
    assert "One-time password" not in admin.get("/admin/users").get_data(as_text=True)


def test_an_admin_cannot_lock_themself_out(as_role, people):
    admin = as_role("admin")
    response = admin.post(f"/admin/users/{people['admin']}", {"role": "clinician", "active": "yes"},
                          page="/admin/users", follow_redirects=True)  # fmt: skip
    assert "You cannot remove your own admin role" in response.get_data(as_text=True)
    assert admin.get("/admin/users").status_code == 200

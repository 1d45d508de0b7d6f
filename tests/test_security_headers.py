"""Security headers and cookies: each defence is checked on the responses people get."""

import pytest

from registry.security import CONTENT_SECURITY_POLICY
from tests.conftest import Web

PAGES = ["/", "/resources/1", "/sign-in", "/guidance", "/handout", "/no-such-page", "/api/v1/entries",
         "/api/v1/openapi.json", "/export.csv", "/static/registry.css"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_policy_allows_no_inline_code_and_no_framing():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_hsts_and_secure_cookies_only_over_https(client, make_user):
    make_user("nurse@example.org")
    plain = client.get("/")
    assert "Strict-Transport-Security" not in plain.headers
    secure = Web(client.application.test_client())
    secure.client.environ_base["wsgi.url_scheme"] = "https"
    response = secure.client.get("/", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    token = secure.token("/sign-in")
    signed_in = secure.client.post(
        "/sign-in", data={"csrf_token": token, "email": "nurse@example.org", "password": "correct horse battery staple"},
        base_url="https://localhost",
    )  # fmt: skip
    cookie = signed_in.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    over_http = (
        Web(client.application.test_client()).sign_in("nurse@example.org").headers["Set-Cookie"]
    )
    assert "Secure" not in over_http


def test_forwarded_headers_count_only_behind_a_proxy_the_admin_declared(make_app):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    # No proxy declared: anyone could send these headers, so they change nothing.
    direct = make_app().test_client().get("/", headers=forwarded)
    assert "Strict-Transport-Security" not in direct.headers
    # One proxy declared: its word on the scheme holds (and on the client's address, which the
    # sign-in limits count by: tests/accounts/test_throttle.py).
    proxied = make_app(REGISTRY_TRUSTED_PROXIES=1).test_client().get("/", headers=forwarded)
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_session_outlives_a_key_rotation_only_while_the_old_key_is_a_fallback(client, make_user):
    """The session cookie's signer is made once per set of keys: it follows a change of keys."""
    make_user("nurse@example.org")
    cookie = Web(client).sign_in("nurse@example.org").headers["Set-Cookie"].split(";", 1)[0]
    app, old = client.application, client.application.config["SECRET_KEY"]

    def signed_in() -> bool:  # the cookie as signed with the old key, sent by a browser
        page = app.test_client(use_cookies=False).get("/", headers={"Cookie": cookie})
        return b"Sign out" in page.data

    assert signed_in()
    app.config.update(SECRET_KEY="a-new-key-" + "x" * 32, SECRET_KEY_FALLBACKS=[old])
    app.secret_key = app.config["SECRET_KEY"]
    assert signed_in(), "signed with the old key, read with a fallback"
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert not signed_in(), "the old key dropped: signed out"

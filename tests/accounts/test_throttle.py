"""Sign-in rate limiting: per account and per address, kept in the database."""

from datetime import timedelta

from registry import create_app
from registry.db import utcnow
from tests.conftest import PASSWORD, Web


def _try(app, email: str, password: str, address: str = "127.0.0.1", forwarded_for=None):
    web = Web(app.test_client())
    web.client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for:
        web.client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return web.post("/sign-in", {"email": email, "password": password})


def test_five_wrong_passwords_make_the_account_wait_even_for_the_right_one(app, make_user):
    make_user("nurse@example.org")
    for _ in range(5):
        assert _try(app, "nurse@example.org", "wrong password!").status_code == 401
    blocked = _try(app, "Nurse@Example.org", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many attempts to sign in. Try again in 15 minutes" in blocked.get_data(as_text=True)
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert _try(app, "other@example.org", "anything at all").status_code == 401  # others unaffected


def test_the_limit_holds_for_another_process_on_the_same_database(app, make_user):
    make_user("nurse@example.org")
    for _ in range(5):
        _try(app, "nurse@example.org", "wrong password!")
    # A second application object: its own engine and pool, as another process would have.
    other = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "test-secret"})
    assert _try(other, "nurse@example.org", PASSWORD).status_code == 429


def test_one_address_trying_many_accounts_is_slowed_too(make_app, make_user):
    app = make_app(REGISTRY_SIGNIN_MAX_FAILURES_PER_ADDRESS=3)
    for n in range(3):
        _try(app, f"guess{n}@example.org", "password guess", address="203.0.113.9")
    assert (
        _try(app, "guess9@example.org", "password guess", address="203.0.113.9").status_code == 429
    )
    assert (
        _try(app, "guess9@example.org", "password guess", address="198.51.100.1").status_code == 401
    )


def test_a_success_clears_the_accounts_earlier_failures(app, make_user):
    make_user("nurse@example.org")
    for _ in range(4):
        _try(app, "nurse@example.org", "wrong password!")
    assert _try(app, "nurse@example.org", PASSWORD).status_code == 302
    for _ in range(4):
        _try(app, "nurse@example.org", "wrong password!")
    assert _try(app, "nurse@example.org", PASSWORD).status_code == 302


def test_failures_older_than_the_window_no_longer_count(app, make_user, session):
    from registry.models import SignInAttempt

    make_user("nurse@example.org")
    long_ago = utcnow() - timedelta(minutes=16)
    for _ in range(5):
        session.add(SignInAttempt(at=long_ago, account="nurse@example.org", address="127.0.0.1"))
    session.commit()
    assert _try(app, "nurse@example.org", PASSWORD).status_code == 302


def test_behind_a_declared_proxy_each_client_address_is_limited_on_its_own(make_app, make_user):
    app = make_app(REGISTRY_SIGNIN_MAX_FAILURES_PER_ADDRESS=3, REGISTRY_TRUSTED_PROXIES=1)
    proxy = "10.0.0.5"  # every request arrives from the proxy
    for n in range(3):
        _try(app, f"guess{n}@example.org", "guess", address=proxy, forwarded_for="203.0.113.9")
    blocked = _try(app, "guess9@example.org", "guess", address=proxy, forwarded_for="203.0.113.9")
    other = _try(app, "guess9@example.org", "guess", address=proxy, forwarded_for="198.51.100.1")
    assert (blocked.status_code, other.status_code) == (429, 401)


def test_without_a_declared_proxy_a_forged_forwarded_header_does_not_dodge_the_limit(
    make_app, make_user
):
    app = make_app(REGISTRY_SIGNIN_MAX_FAILURES_PER_ADDRESS=3)
    for n in range(3):
        _try(
            app,
            f"guess{n}@example.org",
            "guess",
            address="203.0.113.9",
            forwarded_for=f"10.9.9.{n}",
        )
    again = _try(
        app, "guess9@example.org", "guess", address="203.0.113.9", forwarded_for="10.9.9.9"
    )
    assert again.status_code == 429

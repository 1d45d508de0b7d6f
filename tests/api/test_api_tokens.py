"""API tokens: made on the command line, shown once, stored hashed, revocable, tied to an account."""

import hashlib

from click.testing import CliRunner
from sqlmodel import Session, select

from registry.accounts import services as accounts
from registry.cli import main
from registry.db import get_engine
from registry.models import ApiToken, User
from tests.api.conftest import bearer

NOT_RECOMMENDED = "/api/v1/entries?status=not_recommended"


def _error(response) -> str:
    assert response.status_code == 401 and response.is_json, response.get_data(as_text=True)
    return response.get_json()["error"]["code"]


def test_the_command_line_makes_a_token_that_works_and_revokes_it(
    reviewed, database_url, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    made = CliRunner().invoke(main, ["token", "create", "Reviewer@Example.org", "--name", "etl"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert "cannot be shown again" in made.stderr
    client = reviewed.test_client()
    assert client.get(NOT_RECOMMENDED, headers=bearer(secret)).status_code == 200

    with Session(get_engine(reviewed)) as db_session:
        token = db_session.exec(select(ApiToken)).one()
        # Only the hash is kept, and the use was recorded.
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert token.name == "etl" and token.last_used_at is not None
        assert secret not in repr(token.model_dump())
    listed = CliRunner().invoke(main, ["token", "list"])
    assert f"{token.id}\treviewer@example.org\tetl" in listed.stdout

    revoked = CliRunner().invoke(main, ["token", "revoke", str(token.id)])
    assert revoked.exit_code == 0, revoked.output
    assert _error(client.get(NOT_RECOMMENDED, headers=bearer(secret))) == "invalid_token"
    # Even public reads refuse a bad token, so a client notices it.
    assert _error(client.get("/api/v1/entries", headers=bearer(secret))) == "invalid_token"


def test_the_command_line_names_what_is_wrong(reviewed, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    nobody = CliRunner().invoke(main, ["token", "create", "nobody@example.org"])
    assert nobody.exit_code == 1 and "no account for nobody@example.org" in nobody.output
    missing = CliRunner().invoke(main, ["token", "revoke", "42"])
    assert missing.exit_code == 1 and "no token with id 42" in missing.output


def test_unknown_and_malformed_tokens_are_refused_with_json(reviewed):
    client = reviewed.test_client()
    assert _error(client.get("/api/v1/entries", headers=bearer("smireg_made-up"))) == (
        "invalid_token"
    )
    basic = client.get("/api/v1/entries", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert _error(basic) == "invalid_token"
    assert basic.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_disabled_accounts_tokens_stop_working(reviewed, people, make_token):
    _id, secret = make_token("clinician@example.org")
    client = reviewed.test_client()
    assert client.get(NOT_RECOMMENDED, headers=bearer(secret)).status_code == 200

    with Session(get_engine(reviewed)) as db_session:
        admin = db_session.get(User, people["admin"])
        clinician = db_session.get(User, people["clinician"])
        accounts.update(db_session, clinician, by=admin, role="clinician", active=False)
        db_session.commit()

    assert _error(client.get(NOT_RECOMMENDED, headers=bearer(secret))) == "invalid_token"


def test_a_token_carries_its_accounts_role(reviewed, people, make_token):
    _id, secret = make_token("reviewer@example.org")
    with Session(get_engine(reviewed)) as db_session:
        token = db_session.exec(select(ApiToken)).one()
        assert db_session.get(User, token.user_id).role == "reviewer"
    # Any staff role may read entries that are not recommended.
    response = reviewed.test_client().get(NOT_RECOMMENDED, headers=bearer(secret))
    assert response.status_code == 200 and response.get_json()["total"] == 1


def _secret_on(page: str) -> str:
    import re

    found = re.search(r'<code class="registry-password">(smireg_[^<]+)</code>', page)
    assert found, "the new token is not on the page"
    return found.group(1)


def test_staff_make_their_own_token_on_the_web_see_it_once_and_revoke_it(reviewed, as_role):
    clinician = as_role("clinician")
    made = clinician.post("/account/tokens", {"name": "Team directory"}, page="/account/tokens")
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    secret = _secret_on(made.get_data(as_text=True))
    api = reviewed.test_client()
    assert api.get(NOT_RECOMMENDED, headers=bearer(secret)).status_code == 200

    listing = clinician.get("/account/tokens").get_data(as_text=True)
    assert "Team directory" in listing and secret not in listing  # shown that once only
    with Session(get_engine(reviewed)) as db_session:
        token = db_session.exec(select(ApiToken)).one()
        owner = db_session.get(User, token.user_id)
        assert owner.email == "clinician@example.org"

    # Nobody else sees or revokes it: to another account it is not there at all.
    other = as_role("reviewer")
    assert "Team directory" not in other.get("/account/tokens").get_data(as_text=True)
    refused = other.post(f"/account/tokens/{token.id}/revoke", page="/account/tokens")
    assert refused.status_code == 404
    assert api.get(NOT_RECOMMENDED, headers=bearer(secret)).status_code == 200

    revoked = clinician.post(f"/account/tokens/{token.id}/revoke", page="/account/tokens")
    assert revoked.status_code == 302
    assert "Revoked on" in clinician.get("/account/tokens").get_data(as_text=True)
    assert _error(api.get(NOT_RECOMMENDED, headers=bearer(secret))) == "invalid_token"


def test_the_token_page_needs_a_signed_in_account_and_its_form_token(reviewed, web, as_role):
    anonymous = web.post("/account/tokens", {"name": "x"})
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.headers["Location"]
    clinician = as_role("clinician")
    forged = clinician.client.post("/account/tokens", data={"name": "forged"})
    assert forged.status_code == 400
    with Session(get_engine(reviewed)) as db_session:
        assert db_session.exec(select(ApiToken)).all() == []

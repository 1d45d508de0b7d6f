"""Independence: whoever brings an entry in cannot approve it, and a decision's basis is kept."""

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from sqlmodel import Session, select

from registry.cli import main
from registry.db import get_engine
from registry.models import AuditEvent, Resource, User
from tests.review.test_lifecycle import _decision, review_form, send

REVIEWER = "reviewer@example.org"


def registry(app, *args: str):
    """Run `registry ARGS` on the app's database, as a person at a terminal would."""
    env = {"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "test-secret"}
    return CliRunner().invoke(main, list(args), env=env)


def _entry(app, name: str) -> Resource:
    with Session(get_engine(app)) as session:
        return session.exec(select(Resource).where(Resource.name == name)).one()


def _events(app, entry_id: int) -> list[AuditEvent]:
    with Session(get_engine(app)) as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.entity == "resource", AuditEvent.entity_id == entry_id)
                .order_by(AuditEvent.id)
            )
        )


def _text(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ")


@pytest.fixture
def new_rows(tmp_path) -> Path:
    path = tmp_path / "team-list.csv"
    path.write_text(
        "name,url,kind,cost\nCalm Steps,https://calm-steps.example.org/,app,free\n",
        encoding="utf-8",
    )
    return path


def test_whoever_imports_an_entry_is_its_suggester_and_cannot_approve_it(
    app, people, as_role, new_rows
):
    result = registry(app, "import", str(new_rows), "--as", REVIEWER)

    assert result.exit_code == 0, result.output
    entry = _entry(app, "Calm Steps")
    assert entry.suggested_by_id == people["reviewer"]
    (created,) = _events(app, entry.id)
    assert (created.actor_id, created.reason) == (people["reviewer"], "imported from team-list.csv")

    reviewer = as_role("reviewer")
    page = reviewer.get(f"/resources/{entry.id}/review").get_data(as_text=True)
    assert "Suggested by reviewer@example.org" in page and "You suggested this resource" in page
    refused = review_form(reviewer, entry.id, _decision("recommended"))
    assert refused.status_code == 403
    assert _entry(app, "Calm Steps").decision is None
    assert review_form(as_role("reviewer2"), entry.id, _decision("recommended")).status_code == 302


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_import_that_does_not_say_who_runs_it_is_refused_and_imports_nothing(
    app, people, new_rows, dry_run
):
    result = registry(app, "import", *(["--dry-run"] if dry_run else []), str(new_rows))

    assert result.exit_code == 2
    assert "Say who is importing: --as EMAIL" in result.output
    assert "Traceback" not in result.output
    with Session(get_engine(app)) as session:
        assert session.exec(select(Resource).where(Resource.name == "Calm Steps")).first() is None


def test_an_import_as_an_unknown_or_disabled_account_is_refused_with_what_to_do(
    app, people, new_rows
):
    unknown = registry(app, "import", str(new_rows), "--as", "nobody@example.org")
    assert unknown.exit_code == 2
    assert "there is no account for nobody@example.org" in unknown.output
    assert "registry user add nobody@example.org" in unknown.output

    with Session(get_engine(app)) as session:
        account = session.get(User, people["reviewer2"])
        account.active = False
        session.add(account)
        session.commit()
    disabled = registry(app, "import", str(new_rows), "--as", "second.reviewer@example.org")
    assert disabled.exit_code == 2
    assert "the account second.reviewer@example.org is disabled" in disabled.output
    with Session(get_engine(app)) as session:
        assert session.exec(select(Resource).where(Resource.name == "Calm Steps")).first() is None


def test_the_import_help_says_who_must_be_named_even_for_a_dry_run(app):
    result = registry(app, "import", "--help")
    assert result.exit_code == 0
    assert "--as EMAIL" in result.output and "dry runs too" in result.output


def test_a_seeded_entry_shows_seed_data_as_its_suggester_and_any_reviewer_may_decide(app, as_role):
    reviewer = as_role("reviewer")
    entry = _entry(app, "Carers Helpline")
    assert (entry.suggested_by_id, entry.suggested_by_label) == (None, "seed data")
    page = reviewer.get(f"/resources/{entry.id}/review").get_data(as_text=True)
    assert "Suggested by seed data" in page and "You suggested this resource" not in page

    assert review_form(reviewer, entry.id, _decision("recommended")).status_code == 302
    assert _entry(app, "Carers Helpline").state == "recommended"


def test_whoever_reinstates_a_retired_entry_becomes_its_suggester_and_cannot_approve_it(
    reviewed, people, as_role
):
    reviewer = as_role("reviewer")
    entry = _entry(reviewed, "Mood Diary App")
    page = f"/resources/{entry.id}"
    send(reviewer, page, f"{page}/retire", {"reason": "The app was withdrawn."})
    send(reviewer, page, f"{page}/reinstate", {"reason": "It is back in both stores."})

    entry = _entry(reviewed, "Mood Diary App")
    assert (entry.state, entry.suggested_by_id) == ("suggested", people["reviewer"])
    history = _text(reviewer.get(f"{page}/history"))
    assert "whoever reinstates an entry becomes its suggester" in history
    refused = review_form(reviewer, entry.id, _decision("recommended"))
    assert refused.status_code == 403 and "another reviewer must decide" in _text(refused)
    assert review_form(as_role("reviewer2"), entry.id, _decision("recommended")).status_code == 302


def _edit(browser, entry_id: int, **changes):
    page = f"/resources/{entry_id}/edit"
    return send(browser, page, page, changes)


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("url", "https://mood-diary.example.com/", "Its address changed from “https://mood.example.org/” to “https://mood-diary.example.com/”"),
        ("kind", "website", "Its kind changed from “App” to “Website”"),
        ("ios_url", "https://apps.apple.com/gb/app/mood/id999", "Its App Store link changed from"),
        ("android_url", "", "Its Google Play link changed from"),
    ],
)  # fmt: skip
def test_editing_what_a_decision_rested_on_sends_the_entry_back_with_the_reason(
    reviewed, people, as_role, field, value, said
):
    reviewer = as_role("reviewer2")
    entry = _entry(reviewed, "Mood Diary App")

    response = _edit(reviewer, entry.id, **{field: value})

    assert response.status_code == 302, _text(response)[:2000]
    assert _entry(reviewed, "Mood Diary App").state == "needs_rereview"
    last = _events(reviewed, entry.id)[-1]
    assert last.action == "state_changed" and last.actor_id == people["reviewer2"]
    assert last.reason.startswith(said) and last.reason.endswith("; a decision rested on it.")


def test_editing_a_decided_entrys_description_leaves_the_decision_standing(reviewed, as_role):
    entry = _entry(reviewed, "Mood Diary App")
    response = _edit(as_role("reviewer2"), entry.id, description="Now tracks sleep as well.")
    assert response.status_code == 302
    entry = _entry(reviewed, "Mood Diary App")
    assert (entry.state, entry.description) == ("recommended", "Now tracks sleep as well.")


def test_an_import_that_changes_a_decided_entrys_kind_sends_it_back_naming_the_importer(
    reviewed, people, tmp_path
):
    path = tmp_path / "kinds.csv"
    path.write_text("name,url,kind\nMood Diary App,https://mood.example.org/,website\n")

    result = registry(reviewed, "import", str(path), "--as", "admin@example.org")

    assert result.exit_code == 0, result.output
    entry = _entry(reviewed, "Mood Diary App")
    assert (entry.state, entry.kind) == ("needs_rereview", "website")
    last = _events(reviewed, entry.id)[-1]
    assert last.actor_id == people["admin"]
    assert last.reason == "Its kind changed from “App” to “Website”; a decision rested on it."

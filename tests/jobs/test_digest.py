"""The reviewers' digest, received by a real mail server: what went bad, what recovered, links."""

import pytest
from conftest import DOWN, HEALTHY, MOVED, Registry

from registry.jobs.scheduler import run_job


@pytest.fixture
def job_app(mail_app):
    return mail_app


@pytest.fixture
def staff(registry):
    registry.add_reviewer("rita@trust.test")
    registry.add_reviewer("rob@trust.test")
    registry.add_reviewer("ada@trust.test", role="admin")
    registry.add_reviewer("carl@trust.test", role="clinician")
    registry.add_reviewer("gone@trust.test", active=False)
    return ["ada@trust.test", "rita@trust.test", "rob@trust.test"]


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    page = message.get_body(preferencelist=("html",)).get_content()
    return text, page


def test_reviewers_get_one_email_listing_what_went_bad_and_what_recovered(
    sites, registry, run, smtp, staff
):
    falls = registry.add_entry("Falls Over", sites.add("falls"))
    mends = registry.add_entry("Mends <Itself> & Co", sites.add("mends", DOWN))
    steady = registry.add_entry("Steady", sites.add("steady"))
    moves = registry.add_entry("Moves House", sites.add("moves"))
    run()
    smtp.messages.clear()  # the first night had only news of the entry that was down

    sites.mode.update(falls=DOWN, mends=HEALTHY, moves=MOVED)
    outcome = run()

    assert outcome.mailed == 3 and outcome.mail_error is None
    assert sorted(m["To"] for m in smtp.messages) == staff
    message = smtp.messages[0]
    assert message["From"] == "registry@registry.test"
    assert message["Subject"] == f"Registry checks, run {outcome.run.id}: 2 went bad, 1 recovered"
    text, page = _parts(message)
    link = "https://registry.test/resources/{}".format
    sent_back, went_bad, recovered = (
        text.split("Sent back to reviewers (1)")[1].split("Went bad (1)")[0],
        text.split("Went bad (1)")[1].split("Recovered (1)")[0],
        text.split("Recovered (1)")[1],
    )
    assert "Moves House: It moved to another site" in sent_back and link(moves) in sent_back
    assert "Falls Over: fails: Not working: the site answers with an error (HTTP 410)" in went_bad
    assert link(falls) in went_bad
    assert "Mends <Itself> & Co: passes again" in recovered and link(mends) in recovered
    assert "Steady" not in text and link(steady) not in text
    assert "4 entries checked: 3 passed, 0 warned, 1 failed." in text
    assert f'<a href="{link(mends)}">Mends &lt;Itself&gt; &amp; Co</a>' in page
    assert "<Itself>" not in page


def test_no_email_when_nothing_changed(sites, registry, run, smtp, staff):
    registry.add_entry("Steady", sites.add("steady"))
    registry.add_entry("Still Down", sites.add("down", DOWN))
    run()
    assert len(smtp.messages) == 3  # the first run reports the entry that is down
    smtp.messages.clear()

    outcome = run()
    assert outcome.mailed == 0
    assert smtp.messages == []


def test_no_email_is_sent_when_no_mail_server_is_set(sites, make_job_app, check_settings, smtp):
    app = make_job_app()
    db = Registry(app)
    db.add_reviewer("rita@trust.test")
    db.add_entry("Down", sites.add("down", DOWN))
    outcome = run_job(app, trigger="manual", settings=check_settings)
    assert outcome.mailed == 0 and outcome.mail_error is None
    assert smtp.messages == []


def test_a_mail_server_that_is_down_does_not_undo_the_run(
    sites, make_job_app, check_settings, free_port
):
    app = make_job_app(REGISTRY_SMTP_HOST="127.0.0.1", REGISTRY_SMTP_PORT=free_port)
    db = Registry(app)
    db.add_reviewer("rita@trust.test")
    resource_id = db.add_entry("Down", sites.add("down", DOWN))
    outcome = run_job(app, trigger="manual", settings=check_settings)
    assert outcome.run.status == "completed"
    assert "could not send the reviewers' digest" in outcome.mail_error
    assert len(db.results_of(resource_id)) == 1

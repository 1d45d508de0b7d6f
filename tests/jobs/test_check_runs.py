"""Whole check runs against real sites on loopback: the history, and what sends an entry back."""

import pytest
from conftest import DOWN, HEALTHY, MOVED, NO_POLICY, Registry

from registry.audit import HistoryIsImmutable
from registry.db import aware, utcnow
from registry.entries import status
from registry.jobs.scheduler import run_job
from registry.models import Resource


def test_every_run_keeps_its_own_result_for_each_entry(sites, registry, run):
    ids = [registry.add_entry(name, sites.add(name)) for name in ("alpha", "beta")]
    first = run().run
    before = [(r.id, r.run_id, r.report) for r in registry.results_of(ids[0])]
    sites.mode["alpha"] = DOWN
    later = [run().run for _ in range(2)]

    runs = [first, *later]
    assert [r.status for r in runs] == ["completed"] * 3
    assert [(r.total, r.passed, r.failed) for r in runs] == [(2, 2, 0), (2, 1, 1), (2, 1, 1)]
    for resource_id in ids:
        assert [h.run_id for h in registry.results_of(resource_id)] == [r.id for r in runs]
    history = registry.results_of(ids[0])
    assert [h.verdict for h in history] == ["pass", "fail", "fail"]
    assert [(r.id, r.run_id, r.report) for r in history[:1]] == before


def test_a_stored_result_cannot_be_rewritten(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha"))
    run()
    with registry.session() as session:
        result = status.latest_result(session, resource_id)
        result.verdict = "fail"
        session.add(result)
        with pytest.raises(HistoryIsImmutable):
            session.commit()


def test_a_single_failure_shows_a_caution_at_once_and_recovery_clears_it(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha", DOWN))
    run()
    with registry.session() as session:
        caution = status.caution(status.latest_result(session, resource_id))
    assert caution is not None and "the site answers with an error (HTTP 410)" in caution
    assert registry.state_of(resource_id) == "recommended"

    sites.mode["alpha"] = HEALTHY
    run()
    with registry.session() as session:
        resource = session.get(Resource, resource_id)
        assert status.caution(status.latest_result(session, resource.id)) is None
        assert status.summary(status.latest_result(session, resource_id)).startswith(
            "Passed the automatic check"
        )
    assert registry.state_of(resource_id) == "recommended"
    assert [e.action for e in registry.audit_of(resource_id)] == []


def test_a_recommended_entry_failing_three_runs_in_a_row_goes_back_to_reviewers(
    sites, registry, run
):
    resource_id = registry.add_entry("alpha", sites.add("alpha", DOWN))
    run(), run()
    assert registry.state_of(resource_id) == "recommended"

    third = run().run
    assert registry.state_of(resource_id) == "needs_rereview"
    [event] = registry.audit_of(resource_id)
    assert event.actor_label == "nightly check" and event.actor_id is None
    assert event.changes == {"state": ["recommended", "needs_rereview"]}
    assert "failed on 3 nights in a row" in event.reason
    assert aware(third.started_at) <= aware(event.at) <= aware(third.finished_at)


def test_a_site_that_flaps_is_not_sent_back(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha"))
    for mode in (DOWN, HEALTHY, DOWN, HEALTHY, DOWN, DOWN):
        sites.mode["alpha"] = mode
        run()
    assert [r.verdict for r in registry.results_of(resource_id)] == [
        "fail", "pass", "fail", "pass", "fail", "fail",
    ]  # fmt: skip
    assert registry.state_of(resource_id) == "recommended"
    assert registry.audit_of(resource_id) == []


def test_the_number_of_failing_runs_is_a_setting(sites, make_job_app, check_settings):
    app = make_job_app(REGISTRY_CHECK_FAILURE_THRESHOLD=2)
    db = Registry(app)
    resource_id = db.add_entry("alpha", sites.add("alpha", DOWN))
    run_job(app, trigger="manual", settings=check_settings)
    assert db.state_of(resource_id) == "recommended"
    run_job(app, trigger="manual", settings=check_settings)
    assert db.state_of(resource_id) == "needs_rereview"


def test_a_reviewer_who_decides_again_restarts_the_count(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha", DOWN))
    run(), run(), run()
    assert registry.state_of(resource_id) == "needs_rereview"
    with registry.session() as session:
        resource = session.get(Resource, resource_id)
        resource.state, resource.decided_at = "recommended", utcnow()
        session.add(resource)
        session.commit()

    run()
    assert registry.state_of(resource_id) == "recommended"


def test_a_site_that_moves_to_another_domain_goes_back_to_reviewers(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha"))
    run()
    sites.mode["alpha"] = MOVED
    run()
    assert registry.results_of(resource_id)[-1].verdict == "pass"
    assert registry.state_of(resource_id) == "needs_rereview"
    [event] = registry.audit_of(resource_id)
    assert "another site" in event.reason and sites.new_home("alpha") in event.reason

    run()  # the new home is where it lives now: nothing new to tell
    assert len(registry.audit_of(resource_id)) == 1


def test_a_privacy_policy_that_disappears_sends_the_entry_back(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha"), state="not_recommended")
    run()
    sites.mode["alpha"] = NO_POLICY
    run()
    assert registry.results_of(resource_id)[-1].privacy_status == "missing"
    assert registry.state_of(resource_id) == "needs_rereview"
    [event] = registry.audit_of(resource_id)
    assert event.changes == {"state": ["not_recommended", "needs_rereview"]}
    assert "privacy policy disappeared" in event.reason


def test_a_changed_privacy_policy_sends_the_entry_back(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha"), state="recommended_with_cautions")
    run(), run()
    assert registry.state_of(resource_id) == "recommended_with_cautions"

    sites.policy["alpha"] = "alpha now shares your personal data with advertisers."
    run()
    first, second, third = registry.results_of(resource_id)
    assert first.policy_fingerprint == second.policy_fingerprint != third.policy_fingerprint
    assert registry.state_of(resource_id) == "needs_rereview"
    [event] = registry.audit_of(resource_id)
    assert "privacy policy changed" in event.reason


def test_entries_not_yet_decided_keep_their_state_and_retired_ones_are_not_checked(
    sites, registry, run
):
    suggested = registry.add_entry("alpha", sites.add("alpha", DOWN), state="suggested")
    in_review = registry.add_entry("beta", sites.add("beta", DOWN), state="in_review")
    retired = registry.add_entry("gamma", sites.add("gamma", DOWN), state="retired")
    run(), run(), run()
    assert registry.state_of(suggested) == "suggested"
    assert registry.state_of(in_review) == "in_review"
    assert len(registry.results_of(in_review)) == 3
    assert registry.results_of(retired) == []
    assert registry.runs()[-1].total == 2


def test_one_entry_can_be_checked_on_its_own(sites, registry, run):
    alpha = registry.add_entry("alpha", sites.add("alpha"))
    beta = registry.add_entry("beta", sites.add("beta"))
    outcome = run(resource_id=beta)
    assert outcome.run.total == 1
    assert registry.results_of(alpha) == [] and len(registry.results_of(beta)) == 1


def test_the_history_for_the_chart_is_the_latest_runs_oldest_first(sites, registry, run):
    resource_id = registry.add_entry("alpha", sites.add("alpha"))
    for mode in (DOWN, HEALTHY, NO_POLICY):
        sites.mode["alpha"] = mode
        run()
    with registry.session() as session:
        history = status.history(session, resource_id, limit=2)
        latest = session.exec(status.latest_results()).all()
        newest = status.latest_result(session, resource_id)
    assert [r.verdict for r in history] == ["pass", "warn"]
    assert [r.privacy_status for r in history] == ["found", "missing"]
    assert [r.id for r in latest] == [history[-1].id] == [newest.id]
    assert "no privacy policy could be found" in status.summary(newest)

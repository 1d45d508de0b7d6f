"""What the nightly job checks of each entry, and how it paces itself: store links, a slow host."""

from conftest import DOWN, HEALTHY
from sqlmodel import Session

from registry.db import get_engine
from registry.entries import status
from registry.jobs.scheduler import run_job
from registry.models import Resource


def _with_store_links(registry, resource_id: int, *, ios: str, android: str) -> None:
    with registry.session() as session:
        entry = session.get(Resource, resource_id)
        entry.kind, entry.ios_url, entry.android_url = "app", ios, android
        session.add(entry)
        session.commit()


def test_an_app_gone_from_a_store_fails_at_once_and_three_nights_send_it_back(
    sites, registry, check_settings
):
    resource_id = registry.add_entry("Mood Steps", sites.add("moodsteps"))
    _with_store_links(
        registry, resource_id, ios=sites.add("ios-moodsteps"), android=sites.add("play-moodsteps")
    )
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    [first] = registry.results_of(resource_id)
    assert [(s["store"], s["status"]) for s in first.report["stores"]] == [
        ("app_store", "listed"), ("google_play", "listed"),
    ]  # fmt: skip
    assert first.verdict == "pass"

    sites.mode["play-moodsteps"] = DOWN  # Google Play now answers 410 for the listing
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    latest = registry.results_of(resource_id)[-1]
    assert latest.verdict == "fail" and latest.liveness_status == "up"
    with Session(get_engine(registry.app)) as session:
        caution = status.caution(status.latest_result(session, resource_id))
    assert caution is not None and "Google Play" in caution
    assert registry.state_of(resource_id) == "recommended"

    run_job(registry.app, trigger="scheduled", settings=check_settings)
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.state_of(resource_id) == "needs_rereview"

    sites.mode["play-moodsteps"] = HEALTHY
    run_job(registry.app, trigger="scheduled", settings=check_settings)
    assert registry.results_of(resource_id)[-1].verdict == "pass"


def test_forty_entries_on_one_slow_host_are_all_reached(sites, registry, check_settings):
    # One host, two requests at a time, every page taking 0.5 s: twenty rounds, each check
    # well inside its 3 s deadline once it may start. Started all at once, most ran out waiting.
    ids = [registry.add_entry(f"Page {n}", sites.add(f"page{n}", delay=0.5)) for n in range(40)]
    polite = check_settings.with_(max_per_host=2, deadline=3)

    outcome = run_job(registry.app, trigger="scheduled", settings=polite)

    assert outcome.run.total == 40
    statuses = [registry.results_of(rid)[-1].liveness_status for rid in ids]
    assert statuses == ["up"] * 40
    assert outcome.run.failed == 0

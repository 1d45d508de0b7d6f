"""A reviewer whose entry the nightly check raises while the review form is open, in Chromium."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from registry.db import get_engine
from registry.entries import status
from registry.models import Resource, User
from registry.review import lifecycle as review
from registry.review.rubric import ITEMS
from tests.browser.conftest import serving
from tests.conftest import PASSWORD
from tests.jobs import conftest as jobs

# The nightly job's real components: switchable HTTPS sites on loopback, their CA, the settings.
ca_file, sites, check_settings = jobs.ca_file, jobs.sites, jobs.check_settings

SHOTS = Path("/tmp/shots")
RATIONALE = "Well moderated by trained peers; the privacy policy is short and plain."


@pytest.fixture
def app(make_app, tmp_path, sites):
    """A registry of one forum on a loopback site; one failing night sends it back."""
    seed = tmp_path / "sites.csv"
    seed.write_text(
        jobs.CSV_HEADER
        + f"Fading Forum,{sites.add('fading')},forum,,,psychosis,,free,,,,,,en,peer,,,Test sites\n",
        encoding="utf-8",
    )
    return make_app(seed=seed, REGISTRY_CHECK_FAILURE_THRESHOLD=1)


@pytest.fixture
def forum(app, people) -> int:
    """The forum, recommended by the second reviewer; its id."""
    with Session(get_engine(app)) as session:
        entry = session.exec(select(Resource)).one()
        entry_id = entry.id
        review.decide(
            session, entry, user=session.get(User, people["reviewer2"]),
            decision=review.Decision.RECOMMENDED, rationale="Well moderated.", cautions=None,
            answers={item.key: {"answer": "yes"} for item in ITEMS},
        )  # fmt: skip
        session.commit()
    return entry_id


@pytest.fixture
def live_server(app, forum):
    """The registry served over real HTTP on a free loopback port; yield its base URL."""
    with serving(app) as base:
        yield base


def test_a_reviewer_sees_what_the_nightly_check_found_before_their_decision_is_recorded(
    app, live_server, page, axe, sites, check_settings, forum
):
    from registry.jobs.scheduler import run_job

    page.goto(f"{live_server}/sign-in")
    page.get_by_label("Email address").fill("reviewer@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/resources/{forum}/review")
    expect(page.get_by_role("heading", level=1)).to_have_text("Review Fading Forum")
    for group in page.locator(".registry-rubric-item fieldset").all():
        group.get_by_label("Yes").check()
    page.get_by_label("Note (optional)").nth(5).fill("Two peer-reviewed evaluations.")
    page.get_by_role("radio", name="Recommended", exact=True).check()
    page.get_by_label("Rationale").fill(RATIONALE)

    sites.mode["fading"] = jobs.DOWN  # meanwhile the forum goes down, and the night comes
    run_job(app, trigger="manual", settings=check_settings)

    page.get_by_role("button", name="Record decision").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This entry changed after you opened the page")
    expect(alert).to_contain_text("Nothing has been saved")
    changes = page.locator(".registry-changes")
    expect(changes).to_contain_text("Failed the automatic check")
    expect(changes).to_contain_text(
        "Moved it from “Recommended” to “Due for re-review”. Its checks failed"
    )
    expect(page.get_by_label("Rationale")).to_have_value(RATIONALE)
    expect(page.get_by_label("Note (optional)").nth(5)).to_have_value(
        "Two peer-reviewed evaluations."
    )
    expect(page.get_by_role("radio", name="Recommended", exact=True)).to_be_checked()
    axe(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1100, 320):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"conflict-{width}.png"))
        changes.screenshot(path=str(SHOTS / f"conflict-{width}-changes.png"))
        axe(page)

    page.get_by_role("button", name="Record decision").click()

    expect(page.locator(".registry-flash")).to_contain_text(
        "Your decision on “Fading Forum” has been recorded"
    )
    with Session(get_engine(app)) as session:
        entry = session.exec(select(Resource)).one()
        assert entry.state == "recommended"
        assert status.latest_review(session, entry.id).rationale == RATIONALE

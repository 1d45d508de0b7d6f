"""A clinician's and a reviewer's journeys in headless Chromium, with axe-core on every page."""

import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _expect_screen_only_hidden(page, count: int) -> None:
    """Expect each of the page's screen-only parts (instructions, Remove buttons) to be hidden."""
    screen_only = page.locator(".registry-screen-only")
    expect(screen_only).to_have_count(count)
    for n in range(count):
        expect(screen_only.nth(n)).to_be_hidden()


def test_a_clinician_searches_filters_opens_an_entry_and_prints_a_handout(live_server, page, axe):
    base = live_server
    page.goto(base + "/")
    axe(page)
    page.get_by_label("Search by name, need or provider").fill("mood")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results-heading")).to_have_text(re.compile(r"1 resource matching “mood”"))
    axe(page)

    page.goto(base + "/")
    page.get_by_label(re.compile(r"^Bipolar disorder")).check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator(".registry-result .nhsuk-card__link")).to_have_text(["Mood Diary App"])
    axe(page)

    page.get_by_role("link", name="Mood Diary App", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mood Diary App")
    expect(page.locator(".registry-decision")).to_contain_text("Rationale for Mood Diary App.")
    axe(page)
    page.get_by_role("button", name="Add to handout").click()
    expect(page.locator(".registry-flash")).to_contain_text("added to your handout")

    page.goto(base + "/?q=voices")
    page.get_by_role("button", name=re.compile("Add to handout")).click()
    page.get_by_role("link", name=re.compile(r"^Handout")).click()
    expect(page.locator(".registry-handout__entry h3")).to_have_text(
        ["Mood Diary App", "Voices Together"]
    )
    axe(page)

    page.emulate_media(media="print")
    _expect_screen_only_hidden(page, 3)  # the page's instructions and each Remove button
    expect(page.locator("header")).to_be_hidden()
    expect(page.locator(".registry-handout__safety")).to_be_visible()
    expect(page.locator("svg.registry-qr")).to_have_count(2)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")

    page.emulate_media(media="screen")
    page.get_by_role("button", name="Remove Voices Together from the handout").click()
    expect(page.locator(".registry-flash")).to_contain_text("“Voices Together” taken out")
    expect(page.locator(".registry-handout__entry h3")).to_have_text(["Mood Diary App"])
    axe(page)


def test_a_reviewer_works_the_queue_and_records_a_decision(live_server, page, axe):
    base = live_server
    _sign_in(page, base, "second.reviewer@example.org")
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    axe(page)
    page.get_by_role("link", name="Review Bipolar Peer Forum").click()
    axe(page)
    for group in page.locator(".registry-rubric-item fieldset").all():
        group.get_by_label("Yes").check()
    page.get_by_role("radio", name="Recommended with cautions").check()
    page.get_by_label("Rationale").fill("Moderated by trained staff; clear house rules.")
    page.get_by_label(re.compile("^Cautions for clinicians")).fill("Not a crisis service.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".registry-flash")).to_contain_text(
        "Your decision on “Bipolar Peer Forum” has been recorded"
    )
    axe(page)
    page.goto(base + "/?q=bipolar+forum")
    expect(page.locator(".registry-result .nhsuk-tag").first).to_have_text(
        "Recommended with cautions"
    )
    axe(page)


def test_the_pages_work_without_javascript_and_fit_a_320_pixel_screen(live_server, browser, axe):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 320, "height": 640})
    page = context.new_page()
    for path in ("/", "/?show=all&q=bipolar", "/resources/1", "/guidance", "/guidance/digital-divide",
                 "/sign-in", "/handout"):  # fmt: skip
        page.goto(live_server + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 320px"
    page.goto(live_server + "/")
    page.get_by_label("Search by name, need or provider").fill("voices")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".registry-result .nhsuk-card__link")).to_have_text(["Voices Together"])
    context.close()


def test_on_a_phone_the_search_and_first_result_come_before_the_filters(live_server, tabs):
    # Without JavaScript, so axe-core cannot run here: the walk in test_every_page runs it at 320px.
    phone = tabs(width=320, height=640, java_script_enabled=False)
    phone.goto(live_server + "/")
    filters = phone.locator("details.registry-filters__disclosure")
    assert filters.evaluate("details => details.open") is False
    expect(phone.locator(".registry-filters__summary")).to_have_text("Filters")
    expect(phone.get_by_label(re.compile(r"^Bipolar disorder"))).to_be_hidden()
    for what in ("#q", ".registry-result >> nth=0"):
        box = phone.locator(what).bounding_box()
        assert box is not None and box["y"] < 900, f"{what} starts at {box}"

    phone.locator(".registry-filters__summary").click()
    phone.get_by_label(re.compile(r"^Bipolar disorder")).check()
    phone.get_by_label(re.compile(r"^App")).check()
    phone.get_by_role("button", name="Apply filters").click()
    expect(phone.locator(".registry-result .nhsuk-card__link")).to_have_text(["Mood Diary App"])
    assert filters.evaluate("details => details.open") is True
    expect(phone.locator(".registry-filters__summary")).to_have_text("Filters: 2 applied")
    expect(phone.get_by_label(re.compile(r"^Bipolar disorder"))).to_be_checked()


def test_on_a_wide_screen_the_filters_stand_beside_the_results(live_server, page):
    page.goto(live_server + "/")
    expect(page.get_by_label(re.compile(r"^Bipolar disorder"))).to_be_visible()
    expect(page.locator(".registry-filters__summary")).to_be_hidden()
    filters = page.locator(".registry-filters").bounding_box()
    results = page.locator(".registry-result").first.bounding_box()
    assert filters["x"] + filters["width"] <= results["x"]
    assert results["y"] < 900


def test_keyboard_users_reach_the_search_first(live_server, page):
    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("id", "q")


def test_the_accessibility_check_catches_a_real_violation(page, axe):
    page.set_content(
        "<!DOCTYPE html><html lang='en'><title>t</title><main><input type='text'></main></html>"
    )
    try:
        axe(page)
    except AssertionError as failure:
        assert "label" in str(failure)
    else:
        raise AssertionError("axe-core passed a page with an unlabelled field")


def test_the_content_security_policy_stops_an_injected_inline_script(live_server, browser):
    context = browser.new_context()
    tab = context.new_page()
    refused = []
    tab.on("console", lambda msg: refused.append(msg.text))
    tab.goto(live_server + "/")
    # What an attacker's stored markup would try, were escaping ever to fail: an inline script.
    tab.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.injected = true'; document.body.appendChild(s); }""")
    assert tab.evaluate("() => window.injected === true") is False
    assert any("Content Security Policy" in text for text in refused)
    context.close()


def test_a_member_of_staff_makes_and_revokes_an_api_token(live_server, page, axe):
    _sign_in(page, live_server, "second.reviewer@example.org")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API tokens")
    axe(page)
    page.get_by_label("What it is for (optional)").fill("Team directory")
    page.get_by_role("button", name="Make a token").click()
    expect(page.locator("code.registry-password")).to_contain_text("smireg_")
    axe(page)
    page.get_by_role("button", name="Revoke the token “Team directory”").click()
    expect(page.locator(".registry-flash")).to_contain_text("no longer works")
    expect(page.get_by_role("cell", name=re.compile("^Revoked on"))).to_be_visible()
    axe(page)


def test_a_printed_handout_keeps_the_reviewers_cautions_and_the_failing_check(
    live_server, reviewed, page, axe
):
    from tests.api.conftest import add_check, store

    add_check(reviewed, "Mood Diary App", "fail", liveness="down", stores=[
        store("app_store", "https://apps.apple.com/app/id000000001"),
        store("google_play", "https://play.google.com/store/apps/details?id=org.example.mood",
              "removed", 404),
    ])  # fmt: skip
    base = live_server
    _sign_in(page, base, "clinician@example.org")
    expect(page.locator(".registry-nav__account")).to_contain_text("clinician@example.org")
    for query, name in (("voices", "Voices Together"), ("mood", "Mood Diary App")):
        page.goto(f"{base}/?q={query}")
        page.get_by_role("button", name=re.compile(f"^Add to handout.*{name}")).click()
        expect(page.locator(".registry-flash")).to_contain_text(f"“{name}” added to your handout")
    page.get_by_role("link", name=re.compile(r"^Handout")).click()
    axe(page)

    page.emulate_media(media="print")
    entries = page.locator(".registry-handout__entry")
    expect(entries.locator("h3")).to_have_text(["Voices Together", "Mood Diary App"])
    voices, mood = entries.nth(0), entries.nth(1)
    expect(voices.locator(".registry-handout__caution--review")).to_be_visible()
    expect(voices.locator(".registry-handout__caution--review")).to_contain_text(
        "Groups meet in person too; check times."
    )
    check = mood.locator(".registry-handout__caution--check")
    expect(check).to_be_visible()
    expect(check).to_contain_text("not working: the site answers with an error")
    expect(check).to_contain_text("the Google Play listing is gone (HTTP 404)")
    # Only the listing the check found is offered.
    expect(mood.locator(".registry-handout__stores a")).to_have_text(
        ["https://apps.apple.com/app/id000000001"]
    )
    _expect_screen_only_hidden(page, 3)
    axe(page)
    assert page.pdf(format="A4").startswith(b"%PDF")


def test_a_clinician_sees_an_apps_upkeep_and_a_helplines_numbers(live_server, reviewed, page, axe):
    from sqlmodel import Session, select

    from registry.db import get_engine
    from registry.jobs.checkrun import result_row
    from registry.models import Resource
    from tests.api.conftest import report, store

    apple = store("app_store", "https://apps.apple.com/app/id000000001")
    play = store("google_play", "https://play.google.com/store/apps/details?id=org.example.mood")
    apple.update(version="3.2", last_updated="2026-10-01")
    play.update(last_updated="2026-11-12")
    with Session(get_engine(reviewed)) as db_session:
        app = db_session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
        line = db_session.exec(select(Resource).where(Resource.name == "Carers Helpline")).one()
        line.phone_numbers = ["0800 068 4141", "text 85258"]
        db_session.add(line)
        found = report(line.url, "pass")
        found["contacts"] = [
            {"number": n, "status": "found", "detail": ""} for n in line.phone_numbers
        ]
        found["privacy"]["trackers"] = [
            {"name": "Google Analytics", "host": "www.google-analytics.com"}
        ]
        for resource, made in ((app, report(app.url, "pass", stores=[apple, play])), (line, found)):
            db_session.add(result_row(made, resource_id=resource.id, run_id=None))
        db_session.commit()
        app_id, line_id = app.id, line.id
    base = live_server
    _sign_in(page, base, "clinician@example.org")

    page.goto(f"{base}/resources/{app_id}")
    checks = page.locator(".registry-check")
    expect(checks.filter(has_text="App Store")).to_have_text(
        re.compile(r"Listed on the App Store \(version 3\.2, updated 1 October 2026\)")
    )
    expect(checks.filter(has_text="Google Play")).to_have_text(
        re.compile(r"Listed on Google Play \(updated 12 November 2026\)")
    )
    axe(page)

    page.goto(f"{base}/resources/{line_id}")
    numbers = page.locator(".registry-contact .registry-number")
    expect(numbers).to_have_text(["Call 0800 068 4141", "Text 85258"])
    assert [numbers.nth(i).get_attribute("href") for i in range(2)] == [
        "tel:+448000684141",
        "sms:85258",
    ]
    expect(checks.filter(has_text="0800 068 4141")).to_have_text(
        re.compile(r"0800 068 4141 is on its page")
    )
    expect(
        page.locator(".nhsuk-summary-list__row", has_text="Third-party trackers")
    ).to_contain_text("Google Analytics")
    axe(page)
    page.set_viewport_size({"width": 320, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    axe(page)


def test_a_reviewer_re_reviews_an_entry_a_failing_check_raised_from_the_prefilled_form(
    live_server, reviewed, page, axe
):
    from sqlmodel import Session, select

    from registry.db import get_engine
    from registry.jobs.checkrun import result_row
    from registry.models import Resource
    from registry.review import lifecycle
    from registry.vocab import State
    from tests.api.conftest import report

    with Session(get_engine(reviewed)) as db_session:
        entry = db_session.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
        for _ in range(3):
            db_session.add(result_row(report(entry.url, "fail", "down"), resource_id=entry.id,
                                      run_id=None))  # fmt: skip
        lifecycle.change_state(
            db_session, entry, State.NEEDS_REREVIEW, actor_label="nightly check",
            reason="Its checks failed on 3 nights in a row (down).",
        )  # fmt: skip
        db_session.commit()
        entry_id = entry.id
    base = live_server
    _sign_in(page, base, "second.reviewer@example.org")
    page.goto(f"{base}/review?kind=rereview")
    row = page.locator(".registry-queue-item", has_text="Mood Diary App")
    row.get_by_role("link", name=re.compile(r"^Review")).click()
    expect(page).to_have_url(re.compile(f"/resources/{entry_id}/review$"))
    expect(page.locator(".registry-why-back")).to_contain_text(
        "Its checks failed on 3 nights in a row (down)."
    )
    expect(page.locator(".registry-since__checks")).to_contain_text(
        "Automatic checks since then: 3 failed."
    )
    expect(page.locator(".registry-prefilled")).to_be_visible()
    expect(page.locator("#rubric-privacy_policy-yes")).to_be_checked()
    axe(page)

    page.get_by_label("Not recommended").check()
    page.get_by_label("Rationale").fill("Down for three nights; not safe to recommend now.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".registry-flash")).to_contain_text("has been recorded")
    axe(page)


def test_two_reviewers_decide_together_the_second_confirming_the_first_ones_proposal(
    live_server, reviewed, browser, page, axe
):
    reviewed.config["REGISTRY_DECISION_REVIEWERS"] = 2
    base = live_server
    _sign_in(page, base, "reviewer@example.org")
    page.goto(f"{base}/review?kind=suggestion")
    page.get_by_role("link", name="Review Bipolar Peer Forum").click()
    expect(page.locator(".registry-panel-note")).to_contain_text("a second reviewer confirms it")
    for group in page.locator(".registry-rubric-item fieldset").all():
        group.get_by_label("Yes").check()
    page.get_by_role("radio", name="Recommended", exact=True).check()
    page.get_by_label("Rationale").fill("Moderated by trained staff; clear house rules.")
    page.get_by_role("button", name="Propose decision").click()
    expect(page.locator(".registry-flash")).to_contain_text("stands when a second reviewer")
    expect(page.locator(".registry-queue-item", has_text="Bipolar Peer Forum")).to_have_count(0)
    axe(page)

    second = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    _sign_in(second, base, "second.reviewer@example.org")
    second.goto(f"{base}/review?kind=panel")
    row = second.locator(".registry-queue-item", has_text="Bipolar Peer Forum")
    expect(row).to_contain_text("Awaiting a second reviewer: Proposed recommended")
    axe(second)
    row.get_by_role("link", name=re.compile(r"^Review")).click()
    expect(second.locator(".registry-step--proposal")).to_contain_text("Recommended")
    expect(second.get_by_role("radio", name="Recommended", exact=True)).to_be_checked()
    expect(second.get_by_label("Rationale")).to_have_value(
        "Moderated by trained staff; clear house rules."
    )
    axe(second)
    second.get_by_role("button", name="Record your decision").click()
    expect(second.locator(".registry-flash")).to_contain_text("it now stands")
    second.goto(f"{base}/?q=bipolar+forum")
    expect(second.locator(".registry-result .nhsuk-tag").first).to_have_text("Recommended")
    second.get_by_role("link", name="Bipolar Peer Forum", exact=True).click()
    expect(second.locator(".registry-decided-by")).to_contain_text(
        "by reviewer@example.org, who proposed it, and second.reviewer@example.org, who confirmed it"
    )
    axe(second)
    second.context.close()

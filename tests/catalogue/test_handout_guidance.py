"""Handouts for clients and guidance for staff."""

from bs4 import BeautifulSoup
from sqlmodel import select

from registry.models import AuditEvent, Resource
from tests.api.conftest import add_check, store
from tests.conftest import Web

APP_STORE = "https://apps.apple.com/app/id000000001"
GOOGLE_PLAY = "https://play.google.com/store/apps/details?id=org.example.mood"


def _id(session, name: str) -> int:
    return session.exec(select(Resource.id).where(Resource.name == name)).one()


def _sheet(web) -> dict[str, str]:
    """Return each printed entry's text, by its name."""
    soup = BeautifulSoup(web.get("/handout").data, "html.parser")
    return {e.h3.get_text(strip=True): e.get_text(" ", strip=True)
            for e in soup.select(".registry-handout__entry")}  # fmt: skip


def _hand_out(web, session, *names: str) -> None:
    for name in names:
        response = web.post(
            "/handout/add", {"resource_id": _id(session, name), "back": "/"}, page="/"
        )
        assert response.status_code == 302


def test_a_clinician_builds_a_handout_with_qr_codes_and_a_safety_note(reviewed, session):
    add_check(reviewed, "Mood Diary App", "pass",
              stores=[store("app_store", APP_STORE), store("google_play", GOOGLE_PLAY)])  # fmt: skip
    web = Web(reviewed.test_client())
    for name in ("Mood Diary App", "Voices Together"):
        response = web.post(
            "/handout/add", {"resource_id": _id(session, name), "back": "/"}, page="/"
        )
        assert response.status_code == 302
    soup = BeautifulSoup(web.get("/handout").data, "html.parser")
    entries = soup.select(".registry-handout__entry")
    assert [e.h3.get_text(strip=True) for e in entries] == ["Mood Diary App", "Voices Together"]
    first = entries[0].get_text(" ", strip=True)
    assert "Track mood swings and sleep" in first and "Free, with paid extras" in first
    assert "https://mood.example.org/" in first and "App Store" in first and "Google Play" in first
    qr = entries[0].select_one("svg.registry-qr")
    assert qr["role"] == "img" and qr["aria-label"] == "QR code for https://mood.example.org/"
    assert qr.find("path") is not None
    assert "Staying safe online" in soup.select_one(".registry-handout__safety").get_text()


def test_the_handout_prints_the_reviewers_cautions_and_a_failing_check(reviewed, session):
    add_check(reviewed, "Mood Diary App", "fail", liveness="down")
    web = Web(reviewed.test_client())
    _hand_out(web, session, "Voices Together", "Mood Diary App")
    printed = _sheet(web)
    assert (
        "From the reviewer: Groups meet in person too; check times." in printed["Voices Together"]
    )
    assert "Check failed" not in printed["Voices Together"]
    mood = printed["Mood Diary App"]
    assert "Check failed: At the last automatic check" in mood
    assert "not working: the site answers with an error (HTTP 200)" in mood
    assert "From the reviewer" not in mood  # recommended without cautions


def test_store_links_are_offered_only_where_the_last_check_found_the_listing(reviewed, session):
    web = Web(reviewed.test_client())
    _hand_out(web, session, "Mood Diary App")
    # Never checked, or checked before stores were: no store link, only the address.
    assert "App Store" not in _sheet(web)["Mood Diary App"]
    add_check(reviewed, "Mood Diary App", "pass")
    assert "Google Play" not in _sheet(web)["Mood Diary App"]
    add_check(reviewed, "Mood Diary App", "fail",
              stores=[store("app_store", APP_STORE), store("google_play", GOOGLE_PLAY, "removed", 404)])  # fmt: skip
    soup = BeautifulSoup(web.get("/handout").data, "html.parser")
    links = [a["href"] for a in soup.select(".registry-handout__stores a")]
    assert links == [APP_STORE]
    mood = _sheet(web)["Mood Diary App"]
    assert "from the App Store, or go to the address below" in mood
    assert "the Google Play listing is gone (HTTP 404)" in mood  # the failing-check caution


def test_an_entry_under_rereview_goes_on_the_handout_with_a_note_and_its_overdue_review(
    reviewed, session
):
    from datetime import date

    from registry.review.lifecycle import change_state
    from registry.vocab import State

    web = Web(reviewed.test_client())
    _hand_out(web, session, "Voices Together")
    voices = session.get(Resource, _id(session, "Voices Together"))
    change_state(session, voices, State.NEEDS_REREVIEW, reason="its review expired",
                 actor_label="review expiry")  # fmt: skip
    voices.review_due = date(2020, 1, 31)
    session.commit()
    printed = _sheet(web)["Voices Together"]
    assert "Being reviewed again" in printed
    assert "Review overdue: it was due to be reviewed again by 31 January 2020" in printed
    assert "From the reviewer: Groups meet in person too" in printed
    # It can still be added afresh: its standing decision recommends it.
    web.post("/handout/clear", page="/handout")
    _hand_out(web, session, "Voices Together")
    assert list(_sheet(web)) == ["Voices Together"]


def test_an_entry_retired_after_it_was_added_drops_off_the_handout(reviewed, session):
    from registry.review.lifecycle import change_state
    from registry.vocab import State

    web = Web(reviewed.test_client())
    _hand_out(web, session, "Mood Diary App", "Voices Together")
    mood = session.get(Resource, _id(session, "Mood Diary App"))
    change_state(session, mood, State.RETIRED, reason="gone for good", actor_label="test")
    session.commit()
    assert list(_sheet(web)) == ["Voices Together"]
    assert "Mood Diary App" not in web.get("/handout").get_data(as_text=True)


def test_the_qr_code_encodes_the_resource_address(reviewed):
    import segno

    from registry.catalogue.handout import qr_svg

    expected = segno.make("https://mood.example.org/", error="m").svg_inline(scale=4)
    path = BeautifulSoup(expected, "html.parser").find("path")["d"]
    assert path in str(qr_svg("https://mood.example.org/"))


def test_only_recommended_resources_go_in_a_handout(reviewed, session):
    web = Web(reviewed.test_client())
    refused = web.post("/handout/add", {"resource_id": _id(session, "Carers Helpline"), "back": "/"},
                       page="/", follow_redirects=True)  # fmt: skip
    assert "Only recommended resources can go in a handout" in refused.get_data(as_text=True)
    # An entry the public may not see is not there at all: its name is not even said.
    hidden = web.post("/handout/add", {"resource_id": _id(session, "Bipolar Peer Forum"), "back": "/"},
                      page="/", follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "That resource is not in the registry" in hidden and "Bipolar Peer Forum" not in hidden
    assert (
        BeautifulSoup(web.get("/handout").data, "html.parser").select(".registry-handout__entry")
        == []
    )


def test_a_handout_can_lose_an_entry_and_be_emptied(reviewed, session):
    web = Web(reviewed.test_client())
    mood, voices = _id(session, "Mood Diary App"), _id(session, "Voices Together")
    web.post("/handout/add", {"resource_id": mood}, page="/")
    web.post("/handout/add", {"resource_id": voices}, page="/handout")
    web.post(
        "/handout/add", {"resource_id": voices}, page="/handout"
    )  # a double click adds it once
    web.post("/handout/remove", {"resource_id": mood}, page="/handout")
    soup = BeautifulSoup(web.get("/handout").data, "html.parser")
    assert [e.h3.get_text(strip=True) for e in soup.select(".registry-handout__entry")] == [
        "Voices Together"
    ]
    web.post("/handout/clear", page="/handout")
    assert "Your handout is empty" in web.get("/handout").get_data(as_text=True)


def test_each_entry_on_the_handout_page_has_its_own_remove_button(reviewed, session):
    web = Web(reviewed.test_client())
    _hand_out(web, session, "Mood Diary App", "Voices Together")
    soup = BeautifulSoup(web.get("/handout").data, "html.parser")
    forms = {
        f.button.get_text(" ", strip=True): f for f in soup.select("form.registry-handout__remove")
    }
    assert set(forms) == {"Remove Mood Diary App from the handout",
                          "Remove Voices Together from the handout"}  # fmt: skip
    form = forms["Remove Mood Diary App from the handout"]
    fields = {i["name"]: i["value"] for i in form.select("input")}
    page = web.client.post(form["action"], data=fields, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "“Mood Diary App” taken out of your handout." in text
    assert list(_sheet(web)) == ["Voices Together"]
    # The button is for the screen: the printed sheet carries only the resources.
    assert "registry-screen-only" in form["class"]


def test_the_handout_prints_only_the_sheet(reviewed):
    css = reviewed.test_client().get("/static/registry.css").get_data(as_text=True)
    print_rules = css[css.index("@media print") :]
    for hidden in (".registry-screen-only", ".nhsuk-header", ".nhsuk-footer", ".registry-nav"):
        assert hidden in print_rules


def test_guidance_pages_are_there_for_everyone(client):
    index = BeautifulSoup(client.get("/guidance").data, "html.parser")
    titles = [a.get_text(strip=True) for a in index.select("main li a")]
    assert titles == ["Recommending a resource well", "Professional boundaries online", "The digital divide",
                      "How to read this registry"]  # fmt: skip
    page = client.get("/guidance/digital-divide").get_data(as_text=True)
    assert "Mobile data runs out" in page
    assert client.get("/guidance/nope").status_code == 404


def test_an_admin_edits_guidance_as_markdown_and_raw_html_shows_as_text(as_role, session):
    admin = as_role("admin")
    body = "Intro with **bold**.\n\n<script>alert(1)</script>\n\n[bad](javascript:alert(2)) and [ok](https://nhs.uk)"
    saved = admin.post("/guidance/digital-divide/edit", {"title": "The digital divide", "body": body},
                       page="/guidance/digital-divide/edit")  # fmt: skip
    assert saved.status_code == 302
    html = admin.get("/guidance/digital-divide").get_data(as_text=True)
    assert "<strong>bold</strong>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html and 'href="https://nhs.uk"' in html
    event = session.exec(select(AuditEvent).where(AuditEvent.entity == "guidance")).one()
    assert event.changes["body"][1] == body


def test_only_admins_edit_guidance(as_role):
    reviewer = as_role("reviewer")
    assert reviewer.get("/guidance/digital-divide/edit").status_code == 403
    response = reviewer.post("/guidance/digital-divide/edit", {"title": "x", "body": "y"}, page="/")
    assert response.status_code == 403


def test_a_helplines_numbers_print_as_links_to_call_or_text_and_a_stale_app_is_a_caution(
    reviewed, session
):
    line = session.get(Resource, _id(session, "Voices Together"))
    line.phone_numbers = ["0800 068 4141", "text 85258"]
    session.add(line)
    session.commit()
    old = store("app_store", APP_STORE)
    old.update(version="1.0", last_updated="2023-05-01")
    add_check(reviewed, "Mood Diary App", "pass", stores=[old])
    web = Web(reviewed.test_client())
    _hand_out(web, session, "Voices Together", "Mood Diary App")

    soup = BeautifulSoup(web.get("/handout").data, "html.parser")
    numbers = soup.select(".registry-handout__entry .registry-number")
    assert [(a["href"], a.get_text(strip=True)) for a in numbers] == [
        ("tel:+448000684141", "Call 0800 068 4141"),
        ("sms:85258", "Text 85258"),
    ]
    mood = _sheet(web)["Mood Diary App"]
    assert "the app has not been updated on the App Store since 1 May 2023" in mood


def _submit(web, page: str, button) -> object:
    """Send what a browser sends when button is pressed: its form's fields and its own value."""
    form = BeautifulSoup(web.get(page).data, "html.parser").find("form", id=button["form"])
    fields = {field["name"]: field["value"] for field in form.find_all("input")}
    fields[button["name"]] = button["value"]
    return web.client.post(form["action"], data=fields)


def test_the_add_to_handout_buttons_of_a_results_page_send_its_one_form(reviewed, session):
    web = Web(reviewed.test_client())
    soup = BeautifulSoup(web.get("/?show=all").data, "html.parser")
    forms = soup.find_all("form", action="/handout/add")
    assert len(forms) == 1, "one form, whatever the number of results"
    assert len(soup.find_all("input", attrs={"name": "csrf_token"})) == 1
    buttons = [b for b in soup.find_all("button") if b.get_text().startswith("Add to handout")]
    assert len(buttons) >= 2
    assert all(b["form"] == forms[0]["id"] and b["name"] == "resource_id" for b in buttons)
    # Each card's button names its own entry.
    for card in soup.select("li.registry-result"):
        button = card.find("button")
        if button is not None:
            assert button.get_text().startswith("Add to handout")
            assert button["value"] == card.h3.a["href"].rsplit("/", 1)[1]

    mood = _id(session, "Mood Diary App")
    pressed = next(b for b in buttons if b["value"] == str(mood))
    sent = _submit(web, "/?show=all", pressed)
    assert sent.status_code == 302 and sent.headers["Location"] == "/?show=all"
    after = BeautifulSoup(web.get("/?show=all").data, "html.parser")
    mood_card = next(
        c
        for c in after.select("li.registry-result")
        if c.h3.get_text(strip=True) == "Mood Diary App"
    )
    assert "In your handout" in mood_card.get_text()
    assert mood_card.find("button") is None
    assert list(_sheet(web)) == ["Mood Diary App"]

"""Handouts for clients and guidance for staff."""

from bs4 import BeautifulSoup
from sqlmodel import select

from registry.models import AuditEvent, Resource
from tests.conftest import Web


def _id(session, name: str) -> int:
    return session.exec(select(Resource.id).where(Resource.name == name)).one()


def test_a_clinician_builds_a_handout_with_qr_codes_and_a_safety_note(reviewed, session):
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


def test_the_qr_code_encodes_the_resource_address(reviewed):
    import segno

    from registry.handout import qr_svg

    expected = segno.make("https://mood.example.org/", error="m").svg_inline(scale=4)
    path = BeautifulSoup(expected, "html.parser").find("path")["d"]
    assert path in str(qr_svg("https://mood.example.org/"))


def test_only_recommended_resources_go_in_a_handout(reviewed, session):
    web = Web(reviewed.test_client())
    refused = web.post("/handout/add", {"resource_id": _id(session, "Carers Helpline"), "back": "/"},
                       page="/", follow_redirects=True)  # fmt: skip
    assert "Only recommended resources can go in a handout" in refused.get_data(as_text=True)
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

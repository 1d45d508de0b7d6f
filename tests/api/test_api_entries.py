"""Reading entries through the API: who sees what, an entry's decision and checks, filters.

The search, the entry and its history also run on PostgreSQL (its full-text search differs).
"""

import re

import pytest

from tests.api.conftest import add_check_history, bearer
from tests.conftest import BOTH_BACKENDS

RECOMMENDED = {"Mood Diary App", "Voices Together"}
EVERY_LIVE = RECOMMENDED | {"Carers Helpline", "Bipolar Peer Forum"}


def _names(response) -> set[str]:
    assert response.status_code == 200, response.get_json()
    return {item["name"] for item in response.get_json()["items"]}


def _id(client, headers, name: str) -> int:
    path = "/api/v1/entries?show=all" if headers else "/api/v1/entries"
    items = client.get(path, headers=headers).get_json()["items"]
    return next(item["id"] for item in items if item["name"] == name)


def test_anyone_reads_decided_entries_and_nothing_else(reviewed, make_token):
    client = reviewed.test_client()
    assert _names(client.get("/api/v1/entries")) == RECOMMENDED
    # Not recommended is public on request; "all" is every decided entry without a token.
    assert _names(client.get("/api/v1/entries?status=not_recommended")) == {"Carers Helpline"}
    assert _names(client.get("/api/v1/entries?show=all")) == EVERY_LIVE - {"Bipolar Peer Forum"}
    token = bearer(make_token()[1])
    helpline = _id(client, token, "Carers Helpline")
    assert client.get(f"/api/v1/entries/{helpline}").get_json()["state"] == "not_recommended"
    forum = _id(client, token, "Bipolar Peer Forum")

    for path in ("/api/v1/entries?status=unreviewed", "/api/v1/entries?status=retired",
                 f"/api/v1/entries/{forum}", f"/api/v1/entries/{forum}/checks"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.is_json and response.get_json()["error"]["code"] == "token_required"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Bipolar Peer Forum" not in response.get_data(as_text=True)


def test_without_a_token_the_counts_are_of_public_entries_only(reviewed, make_token):
    client = reviewed.test_client()
    public = client.get("/api/v1/entries").get_json()["facets"]
    assert public["status"] == {"recommended": 1, "recommended_with_cautions": 1,
                                "not_recommended": 1, "needs_rereview": 0}  # fmt: skip
    assert public["kind"]["forum"] == 0  # the forum is not yet reviewed
    staff = client.get("/api/v1/entries?show=all", headers=bearer(make_token()[1])).get_json()
    assert staff["facets"]["status"]["unreviewed"] == 1 and staff["facets"]["kind"]["forum"] == 1


def test_a_clinicians_token_reads_every_entry(reviewed, make_token):
    client, token = reviewed.test_client(), bearer(make_token("clinician@example.org")[1])
    assert _names(client.get("/api/v1/entries?show=all", headers=token)) == EVERY_LIVE
    assert _names(client.get("/api/v1/entries?status=not_recommended", headers=token)) == {
        "Carers Helpline"
    }
    helpline = _id(client, token, "Carers Helpline")
    entry = client.get(f"/api/v1/entries/{helpline}", headers=token)
    assert entry.status_code == 200 and entry.get_json()["state"] == "not_recommended"
    assert entry.headers["Cache-Control"] == "no-store"


@BOTH_BACKENDS
def test_the_entry_shows_its_decision_and_its_latest_check(reviewed, make_token):
    add_check_history(reviewed, verdicts=("pass", "fail"))
    client = reviewed.test_client()
    voices = _id(client, bearer(make_token()[1]), "Voices Together")

    entry = client.get(f"/api/v1/entries/{voices}").get_json()

    assert entry["name"] == "Voices Together" and entry["state"] == "recommended_with_cautions"
    decision = entry["decision"]
    assert decision["decision"] == "recommended_with_cautions"
    assert decision["rationale"] == "Rationale for Voices Together."
    assert decision["cautions"] == "Groups meet in person too; check times."
    assert decision["review_due"] == entry["review_due"] and decision["decided_at"]
    check = entry["latest_check"]
    assert check["verdict"] == "fail" and check["liveness"]["status"] == "down"
    assert check["url"] == entry["url"] and check["https"]["status"] == "ok"
    assert {"checked_at", "final_url", "privacy"} <= set(check)


def test_an_unreviewed_unchecked_entry_has_no_decision_and_no_check(reviewed, make_token):
    client, token = reviewed.test_client(), bearer(make_token()[1])
    forum = _id(client, token, "Bipolar Peer Forum")
    entry = client.get(f"/api/v1/entries/{forum}", headers=token).get_json()
    assert entry["decision"] is None and entry["latest_check"] is None
    assert entry["state"] == "suggested"


@BOTH_BACKENDS
def test_check_history_is_newest_first_and_paged(reviewed):
    ids = add_check_history(reviewed, verdicts=("pass", "warn", "fail"))
    client = reviewed.test_client()
    mood = _id(client, {}, "Mood Diary App")

    first = client.get(f"/api/v1/entries/{mood}/checks?per_page=2").get_json()
    second = client.get(f"/api/v1/entries/{mood}/checks?per_page=2&page=2").get_json()

    assert [r["verdict"] for r in first["items"]] == ["fail", "warn"]
    assert [r["verdict"] for r in second["items"]] == ["pass"]
    assert (first["total"], first["pages"], second["page"]) == (3, 2, 2)
    stamps = [r["checked_at"] for r in first["items"] + second["items"]]
    assert stamps == sorted(stamps, reverse=True) and len(ids["Mood Diary App"]) == 3


@pytest.mark.parametrize("path", ["/api/v1/entries/99999", "/api/v1/entries/0",
                                  "/api/v1/entries/99999999999999999999/checks"])  # fmt: skip
def test_an_entry_that_does_not_exist_is_a_json_404(reviewed, path):
    response = reviewed.test_client().get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def _catalogue_ids(client, query: str) -> list[int]:
    html = client.get(f"/?{query}").get_data(as_text=True)
    return [int(n) for n in re.findall(r'class="nhsuk-card__link" href="/resources/(\d+)"', html)]


# Searches a clinician makes, as the catalogue page's form sends them.
QUERIES = ["", "q=bipolar", "q=support", "kind=app", "condition=psychosis",
           "cost=free&platform=web", "offline=1", "language=cy",
           "status=not_recommended&status=recommended", "show=all", "q=peer&show=all",
           "moderated=1&show=all", "low_data=1&kind=app&kind=website"]  # fmt: skip


@BOTH_BACKENDS
def test_filters_find_what_the_catalogue_page_finds(reviewed, make_token, as_role):
    client, token = reviewed.test_client(), bearer(make_token()[1])
    signed_in = as_role("clinician").client
    for query in QUERIES:
        # Staff with a token find what staff find on the page; the public what the public finds.
        for browser, headers in ((signed_in, token), (reviewed.test_client(), {})):
            page = _catalogue_ids(browser, query)
            found = client.get(f"/api/v1/entries?{query}", headers=headers).get_json()
            assert [item["id"] for item in found["items"]] == page, (query, headers)
            assert found["total"] == len(page), (query, headers)


INVALID = [("page=abc", "page"), ("per_page=1000", "per_page"), ("per_page=0", "per_page"),
           ("page=-1", "page"), ("page=1&page=2", "page"), ("status=bogus", "status"),
           ("kind=spaceship", "kind"), ("offline=maybe", "offline"), ("show=everything", "show"),
           ("q=" + "x" * 2001, "q")]  # fmt: skip


def test_invalid_parameters_are_a_clear_400(reviewed):
    client = reviewed.test_client()
    for query, name in INVALID:
        paths = ["/api/v1/entries"]
        if query.startswith(("page", "per_page")):
            paths.append("/api/v1/entries/1/checks")
        for path in paths:
            response = client.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query)
            error = response.get_json()["error"]
            assert error["code"] == "invalid_parameter" and name in error["message"], query


def test_every_error_under_the_api_is_json(reviewed):
    client = reviewed.test_client()
    unknown = client.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"
    posted = client.post("/api/v1/entries")
    assert posted.status_code == 405 and posted.is_json
    # The rest of the site keeps its own pages.
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "text/html" in page.content_type


def test_a_helplines_numbers_and_what_the_check_found_of_them_are_in_the_api(reviewed, make_token):
    from sqlmodel import Session, select

    from registry.db import get_engine
    from registry.jobs.checkrun import result_row
    from registry.models import Resource
    from tests.api.conftest import report

    with Session(get_engine(reviewed)) as db_session:
        line = db_session.exec(select(Resource).where(Resource.name == "Carers Helpline")).one()
        line.phone_numbers = ["0800 068 4141", "text 85258"]
        found = report(line.url, "fail")
        found["contacts"] = [
            {"number": "0800 068 4141", "status": "missing", "detail": "gone"},
            {"number": "text 85258", "status": "found", "detail": ""},
        ]
        found["privacy"]["trackers"] = [{"name": "Meta Pixel", "host": "connect.facebook.net"}]
        db_session.add(line)
        db_session.add(result_row(found, resource_id=line.id, run_id=None))
        db_session.commit()
    client = reviewed.test_client()
    headers = bearer(make_token()[1])

    entry = client.get(
        f"/api/v1/entries/{_id(client, headers, 'Carers Helpline')}", headers=headers
    )

    body = entry.get_json()
    assert body["phone_numbers"] == ["0800 068 4141", "text 85258"]
    assert [(c["number"], c["status"]) for c in body["latest_check"]["contacts"]] == [
        ("0800 068 4141", "missing"),
        ("text 85258", "found"),
    ]
    assert body["latest_check"]["privacy"]["trackers"][0]["name"] == "Meta Pixel"

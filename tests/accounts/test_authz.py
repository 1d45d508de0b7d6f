"""Who may use which page, and which entries each may see there: every route, every role.

Read from the route map: a new route without a rule fails, and every route is tried by each role
(anonymous, clinician, reviewer, admin) with every entry of tests/entries/test_visibility.py's fixture
(one in each state), asserting which entries' names may appear in what comes back.
"""

import pytest
from bs4 import BeautifulSoup
from sqlmodel import Session, select

from registry.accounts import tokens as api_tokens
from registry.db import get_engine
from registry.models import ProblemReport, Resource
from tests.api.conftest import bearer
from tests.conftest import Web
from tests.entries.test_visibility import (
    EVERYONE,
    HIDDEN,
    NAMES,
    NOT_RECOMMENDED,
    PUBLIC_ALL,
    PUBLIC_DEFAULT,
    add_every_state,
)

# Who may use each endpoint. A new route missing here fails test_every_route_has_a_rule.
ANYONE, STAFF, REVIEWER, ADMIN = "anyone", "staff", "reviewer", "admin"
RULES = {
    "static": ANYONE,
    "catalogue.index": ANYONE,
    "catalogue.entry": ANYONE,
    "auth.sign_in": ANYONE,
    "auth.sign_in_post": ANYONE,
    "auth.sign_out": STAFF,
    "auth.password": STAFF,
    "auth.password_post": STAFF,
    "staff.suggest": STAFF,
    "staff.suggest_post": STAFF,
    "staff.report": STAFF,
    "staff.report_post": STAFF,
    "staff.history": STAFF,
    "review.queue_page": REVIEWER,
    "review.dashboard_page": REVIEWER,
    "review.review_page": REVIEWER,
    "review.review_post": REVIEWER,
    "review.start_review": REVIEWER,
    "review.edit": REVIEWER,
    "review.edit_post": REVIEWER,
    "review.retire": REVIEWER,
    "review.withdraw_proposal": REVIEWER,
    "review.reinstate": REVIEWER,
    "review.close_report": REVIEWER,
    "handout.view": ANYONE,
    "handout.add": ANYONE,
    "handout.remove": ANYONE,
    "handout.clear": ANYONE,
    "guidance.index": ANYONE,
    "guidance.show": ANYONE,
    "guidance.edit": ADMIN,
    "guidance.edit_post": ADMIN,
    "admin.users": ADMIN,
    "admin.add_user": ADMIN,
    "admin.update_user": ADMIN,
    "admin.reset_password": ADMIN,
    "tokens.list_tokens": STAFF,
    "tokens.create_token": STAFF,
    "tokens.revoke_token": STAFF,
    # The API does its own auth (tokens; 401 JSON, never a sign-in redirect): tests/api.
    "api.entries": ANYONE,
    "api.entry": ANYONE,
    "api.checks": ANYONE,
    "api.openapi": ANYONE,
    "exchange.export_csv": ANYONE,
    "exchange.export_json": ANYONE,
    "exchange.export_hsds": ANYONE,
}
ALLOWED = {
    "anonymous": {ANYONE},
    "clinician": {ANYONE, STAFF},
    "reviewer": {ANYONE, STAFF, REVIEWER},
    "admin": {ANYONE, STAFF, REVIEWER, ADMIN},
}


def test_every_route_has_a_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(RULES) == set(), "add the new route to RULES with who may use it"


def _routes(app, ids):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            values = {name: ids[name] for name in rule.arguments}
            yield rule.endpoint, method, app.url_map.bind("localhost").build(rule.endpoint, values)


@pytest.mark.parametrize("who", ["anonymous", "clinician", "reviewer", "admin"])
def test_each_role_reaches_exactly_what_it_should(app, session, people, as_role, web, who):
    resource = session.exec(select(Resource)).first()
    report = ProblemReport(resource_id=resource.id, reporter_id=people["clinician"], reason="other")
    session.add(report)
    session.commit()
    ids = {"resource_id": resource.id, "report_id": report.id, "user_id": people["reviewer2"],
           "slug": "digital-divide", "token_id": 1}  # fmt: skip
    browser = web if who == "anonymous" else as_role(who)
    token = browser.token("/sign-in" if who == "anonymous" else "/")
    for endpoint, method, path in _routes(app, ids):
        if endpoint == "auth.sign_out":
            continue  # would end this browser's session mid-test; covered in test_accounts
        if method == "GET":
            response = browser.client.get(path)
        else:
            response = browser.client.post(path, data={"csrf_token": token})
        assert response.status_code < 500, f"{who} {method} {path} failed: {response.status_code}"
        allowed = RULES[endpoint] in ALLOWED[who]
        signed_out_redirect = (
            response.status_code == 302 and "/sign-in" in response.headers["Location"]
        )
        if allowed:
            assert response.status_code != 403 and not (
                signed_out_redirect and endpoint not in ("auth.sign_in", "auth.sign_in_post")
            ), f"{who} should reach {method} {path}, got {response.status_code}"
        elif who == "anonymous":
            assert signed_out_redirect, (
                f"anonymous {method} {path} should go to sign-in, got {response.status_code}"
            )
        else:
            assert response.status_code == 403, (
                f"{who} must not reach {method} {path}, got {response.status_code}"
            )


def test_a_clinician_cannot_record_a_review(as_role, session):
    resource = session.exec(select(Resource)).first()
    clinician = as_role("clinician")
    response = clinician.post(f"/resources/{resource.id}/review", {"decision": "recommended", "rationale": "x"},
                              page="/")  # fmt: skip
    assert response.status_code == 403
    session.refresh(resource)
    assert resource.state == "suggested" and resource.decision is None


# Which entries' names each may see. Listings (the catalogue, the API, the exports) must show
# exactly these; every other page may show no more than what its audience may see.
ROLES = ("anonymous", "clinician", "reviewer", "admin")
N = NAMES
LISTINGS = {  # query: (what the public sees, what staff see)
    "": (PUBLIC_DEFAULT, PUBLIC_DEFAULT),
    "?show=all": (PUBLIC_ALL, EVERYONE - {N["retired"]}),
    "?status=not_recommended": (NOT_RECOMMENDED, NOT_RECOMMENDED),
    "?status=needs_rereview": ({N["rereview_recommended"]},
                               {N["rereview_recommended"], N["rereview_not_recommended"]}),
    "?status=recommended": ({N["recommended"], N["rereview_recommended"]},
                            {N["recommended"], N["rereview_recommended"]}),
    "?status=unreviewed": (set(), {N["suggested"], N["in_review"]}),
    "?status=retired": (set(), {N["retired"]}),
    "?status=unreviewed&status=retired&status=recommended": (
        {N["recommended"], N["rereview_recommended"]},
        {N["suggested"], N["in_review"], N["retired"], N["recommended"], N["rereview_recommended"]},
    ),
    "?q=sparrow&show=all": (set(), {N["suggested"]}),
    "?q=robin": ({N["recommended"]}, {N["recommended"]}),
    "?q=rhea&status=retired": (set(), {N["retired"]}),
}  # fmt: skip
EXPORTS = {"": (PUBLIC_DEFAULT, PUBLIC_DEFAULT), "?all=1": (set(), EVERYONE)}
# Routes whose entry comes in the form rather than the path.
FORM_ENTRY = {"handout.add", "handout.remove"}
# A state change that an empty form still makes: sent for another entry, so the fixture holds.
MUTATES = {"review.start_review"}


def _names_in(body: str) -> set[str]:
    return {name for name in EVERYONE if name in body}


def _listed(response) -> set[str]:
    """Return the fixture's names in a listing: result cards, API items, or an export."""
    if response.is_json and isinstance(response.get_json(), dict):
        return {item["name"] for item in response.get_json().get("items", [])} & EVERYONE
    if "text/html" in response.content_type:
        soup = BeautifulSoup(response.data, "html.parser")
        return {
            a.get_text(strip=True) for a in soup.select(".registry-result .nhsuk-card__link")
        } & EVERYONE
    return _names_in(response.get_data(as_text=True))


@pytest.fixture
def matrix(app, people, as_role, web, session):
    """One app: the entries in every state, a report, and a browser and token for each role."""
    ids = add_every_state(app, people["reviewer"])
    report = ProblemReport(resource_id=ids["suggested"], reporter_id=people["clinician"],
                           reason="other")  # fmt: skip
    session.add(report)
    session.commit()
    spare = session.exec(select(Resource.id).where(Resource.name == "Bipolar Peer Forum")).one()
    browsers = {"anonymous": (web, {})}
    # The token the revoke route is tried on is someone else's, so the role's own keeps working.
    spare_token = api_tokens.create(session, email="second.reviewer@example.org", name="spare")[0]
    secrets = {}
    for role in ROLES[1:]:
        secrets[role] = api_tokens.create(session, email=f"{role}@example.org", name=role)[1]
    session.commit()
    for role in ROLES[1:]:
        browsers[role] = (as_role(role), bearer(secrets[role]))
    others = {"report_id": report.id, "user_id": people["reviewer2"], "slug": "digital-divide",
              "token_id": spare_token.id}  # fmt: skip
    return app, ids, spare, others, browsers


def _states(app, ids) -> dict[str, str]:
    with Session(get_engine(app)) as db_session:
        return {key: db_session.get(Resource, i).state for key, i in ids.items()}


def test_no_role_sees_an_entry_it_may_not_on_any_route(matrix):
    app, ids, spare, others, browsers = matrix
    before = _states(app, ids)
    by_id = {i: key for key, i in ids.items()}
    for who in ROLES:
        browser, token = browsers[who]
        public = who == "anonymous"
        csrf = browser.token("/sign-in" if public else "/")
        for rule in app.url_map.iter_rules():
            if rule.endpoint in ("static", "auth.sign_out"):
                continue  # sign-out would end this browser's session; covered in test_accounts
            entries = (
                ids.values()
                if "resource_id" in rule.arguments or rule.endpoint in FORM_ENTRY
                else [None]
            )
            for method in sorted(rule.methods & {"GET", "POST"}):
                for entry in entries:
                    target = spare if rule.endpoint in MUTATES and not public else entry
                    values = {**others, "resource_id": target}
                    path = app.url_map.bind("localhost").build(
                        rule.endpoint, {k: values[k] for k in rule.arguments}
                    )
                    where = f"{who} {method} {path} ({by_id.get(entry, '-')})"
                    headers = token if rule.endpoint.startswith("api.") else {}
                    if method == "GET":
                        response = browser.client.get(path, headers=headers)
                        first = response
                    else:
                        form = {"csrf_token": csrf}
                        if rule.endpoint in FORM_ENTRY:
                            form["resource_id"] = str(entry)
                        response = browser.client.post(path, data=form, follow_redirects=True)
                        first = response.history[0] if response.history else response
                    assert first.status_code < 500 and response.status_code < 500, where
                    seen = _names_in(response.get_data(as_text=True))
                    if public:
                        assert not seen & HIDDEN, f"{where} shows {seen & HIDDEN}"
                        assert seen <= PUBLIC_ALL, where
                    if entry is None or method != "GET" or rule.endpoint == "api.checks":
                        continue
                    name = NAMES[by_id[entry]]
                    if rule.endpoint in ("catalogue.entry", "api.entry"):
                        if public and name in HIDDEN:
                            expected = 404 if rule.endpoint == "catalogue.entry" else 401
                            assert response.status_code == expected, where
                        else:
                            assert response.status_code == 200 and seen == {name}, where
                    elif not public and response.status_code == 200:
                        assert name in seen, where  # a staff page of an entry names it
        # Whoever built it, a handout holds only what may go on paper to a client.
        for entry in ids.values():
            added = browser.client.post("/handout/add", data={"csrf_token": csrf, "resource_id": entry},
                                        follow_redirects=True)  # fmt: skip
            assert added.status_code == 200
            if public:
                assert not _names_in(added.get_data(as_text=True)) & HIDDEN, who
        handout = browser.client.get("/handout").get_data(as_text=True)
        soup = BeautifulSoup(handout, "html.parser")
        printed = {h.get_text(strip=True) for h in soup.select(".registry-handout__entry h3")}
        assert printed == PUBLIC_DEFAULT, who
        assert _names_in(handout) == PUBLIC_DEFAULT, who
        for query, (to_public, to_staff) in LISTINGS.items():
            expected = to_public if public else to_staff
            for base in ("/", "/api/v1/entries"):
                response = browser.client.get(base + query, headers=token if "api" in base else {})
                assert response.status_code < 500, f"{who} {base}{query}"
                asks_staff_only = "status=unreviewed" in query or "status=retired" in query
                if public and base != "/" and asks_staff_only:  # the API says a token is needed
                    assert response.status_code == 401, f"{who} {base}{query}"
                    continue
                assert response.status_code == 200, f"{who} {base}{query}"
                assert _listed(response) == expected, f"{who} {base}{query}"
                if public:
                    assert not _names_in(response.get_data(as_text=True)) & HIDDEN, f"{base}{query}"
        for path in ("/export.csv", "/export.json", "/export.hsds.json"):
            for query, (to_public, to_staff) in EXPORTS.items():
                response = browser.client.get(path + query)
                assert response.status_code < 500
                assert _names_in(response.get_data(as_text=True)) == (
                    to_public if public else to_staff
                ), f"{who} {path}{query}"
        assert _states(app, ids) == before, f"{who}'s requests changed an entry's state"


def test_an_intranet_registry_shows_the_public_nothing_but_the_sign_in_page(make_app, people):
    app = make_app(REGISTRY_PUBLIC_ACCESS="none")
    ids = add_every_state(app, people["reviewer"])
    client = app.test_client()
    csrf = Web(client).token("/sign-in")  # so that a post is refused for want of an account
    values = {"resource_id": ids["recommended"], "report_id": 1, "user_id": people["reviewer2"],
              "slug": "digital-divide", "token_id": 1}  # fmt: skip
    for rule in app.url_map.iter_rules():
        path = app.url_map.bind("localhost").build(
            rule.endpoint,
            {k: values[k] for k in rule.arguments}
            if rule.endpoint != "static"
            else {"filename": "registry.css"},
        )
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(path, method=method, data={"csrf_token": csrf})
            where = f"{method} {path}"
            assert not _names_in(response.get_data(as_text=True)), where
            if rule.endpoint in ("static", "auth.sign_in", "auth.sign_in_post"):
                assert response.status_code in (200, 400, 401), where  # the page, or a form error
            elif rule.endpoint.startswith("api."):
                assert response.status_code == 401, where
                assert response.get_json()["error"]["code"] == "token_required", where
            else:
                assert response.status_code == 302, where
                assert response.headers["Location"].startswith("/sign-in"), where
    # Staff use it as before.
    staff = Web(app.test_client())
    staff.sign_in("clinician@example.org")
    assert _names_in(staff.get("/").get_data(as_text=True)) == PUBLIC_DEFAULT


def test_a_registry_with_nothing_decided_tells_the_public_so_and_shows_staff_everything(
    app, as_role
):
    client = app.test_client()
    for path in ("/", "/?show=all", "/?status=unreviewed", "/?q=bipolar"):
        soup = BeautifulSoup(client.get(path).data, "html.parser")
        notice = soup.select_one(".registry-nothing-decided")
        assert notice is not None, path
        assert "No resource has been reviewed yet" in notice.get_text(" ", strip=True)
        assert notice.find("a", string="sign in")["href"].startswith("/sign-in?next=")
        assert soup.select(".registry-result") == [], path
        body = soup.get_text(" ")
        assert "Bipolar Peer Forum" not in body and "Mood Diary App" not in body, path
    staff = BeautifulSoup(as_role("clinician").get("/").data, "html.parser")
    assert staff.select_one(".registry-unreviewed-registry") is not None
    assert len(staff.select(".registry-result")) == 4

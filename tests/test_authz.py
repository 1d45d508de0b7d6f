"""Who may use which page: every route, every role and anonymous, read from the route map."""

import pytest
from sqlmodel import select

from registry.models import ProblemReport, Resource

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

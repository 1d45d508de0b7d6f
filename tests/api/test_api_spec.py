"""The OpenAPI description covers every API route the app has, so the two cannot drift apart."""

import re

from registry.api import spec as api_spec


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_the_description_lists_every_api_route_and_nothing_else(app):
    routes = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes and routes == described
    assert document == api_spec.document()


def test_every_operation_documents_its_json_errors(app):
    document = api_spec.document()
    for path, item in document["paths"].items():
        if path.endswith("openapi.json"):
            continue
        responses = item["get"]["responses"]
        assert {"200", "400", "401"} <= set(responses), path
        if "{resource_id}" in path:
            assert "404" in responses
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message"]

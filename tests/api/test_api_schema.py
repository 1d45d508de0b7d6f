"""The API keeps to its OpenAPI description: schemathesis generates requests from it.

Every operation is called with generated parameters, valid (positive) and invalid (negative),
both without a token and with a clinician's; no answer may be a server error or differ from
what the description says, and invalid parameters must be refused.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from registry.api import spec as api_spec
from tests.api.conftest import add_check_history, bearer

PATHS = api_spec.document()["paths"]
# Each operation with each kind of data (an operation without parameters has no invalid data).
RUNS = [
    (path, mode)
    for path, item in PATHS.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode == GenerationMode.POSITIVE or item["get"].get("parameters")
]
SEEN: dict[tuple[str, str], set[int]] = {}


@pytest.mark.parametrize(("path", "mode"), RUNS, ids=[f"{p} {m.value}" for p, m in RUNS])
def test_api_answers_as_its_openapi_description_says(reviewed, make_token, path, mode):
    add_check_history(reviewed)
    _id, secret = make_token("clinician@example.org")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", reviewed)
    operation = schema[path]["GET"]
    strategies = [operation.as_strategy(generation_mode=mode)]
    if "{resource_id}" in path:  # also the entries that exist (random ids rarely hit them)
        strategies += [
            operation.as_strategy(generation_mode=mode, path_parameters={"resource_id": n})
            for n in range(1, 5)
        ]

    @seed(20261126)
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=st.one_of(strategies))
    def call(case):
        for headers in ({}, bearer(secret)):
            response = case.call_and_validate(headers=headers)
            SEEN.setdefault((path, mode.value), set()).add(response.status_code)

    call()
    print(path, mode.value, sorted(SEEN[(path, mode.value)]))

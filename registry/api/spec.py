"""The OpenAPI 3 description of /api/v1, built from the same vocabularies the API checks against."""

from typing import Any

from checks.report import CONTACTS, STORES
from registry.api.serialize import REVIEWER_ROLES
from registry.catalogue.search import COLUMN_FACETS, STATUSES, TAG_FACETS
from registry.vocab import Audience, Decision, Moderation, State

_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_BOOL = {"type": ["boolean", "null"]}
_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _enum(values) -> list[str]:
    return sorted(values)


def _part(statuses: list[str], **extra: Any) -> dict[str, Any]:
    """One section of a check report: a status and whatever details the checker adds."""
    return {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": statuses}, **extra},
    }


def _schemas() -> dict[str, Any]:
    integer_or_null = {"type": ["integer", "null"]}
    report = {
        "type": "object",
        "description": "A URL check report, as `registry check-url --json` prints it.",
        "required": ["url", "final_url", "checked_at", "verdict", "liveness", "https", "privacy"],
        "properties": {
            "url": {"type": "string"},
            "final_url": _NULLABLE_STRING,
            "checked_at": {"type": "string", "format": "date-time"},
            "verdict": {"type": "string", "enum": ["pass", "warn", "fail"]},
            "liveness": _part(
                ["up", "down", "unreachable", "blocked", "parked", "soft_404"],
                http_status=integer_or_null,
                redirects=integer_or_null,
                elapsed_ms=integer_or_null,
                detail=_NULLABLE_STRING,
            ),  # fmt: skip
            "https": _part(
                [
                    "ok",
                    "no_https",
                    "cert_expired",
                    "cert_untrusted",
                    "hostname_mismatch",
                    "tls_error",
                ],
                redirects_http_to_https=_NULLABLE_BOOL,
                hsts=_NULLABLE_BOOL,
                cert_days_left=integer_or_null,
                detail=_NULLABLE_STRING,
            ),  # fmt: skip
            "privacy": _part(
                ["found", "missing", "unreachable", "not_checked"],
                policy_url=_NULLABLE_STRING,
                detail=_NULLABLE_STRING,
                trackers={
                    "description": "Third-party trackers the page and its policy page load; "
                    "null when the page could not be read.",
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "required": ["name", "host"],
                        "properties": {"name": {"type": "string"}, "host": {"type": "string"}},
                    },
                },
                reading_ease={
                    "description": "The policy's Flesch reading ease (higher is easier).",
                    "type": ["number", "null"],
                },
            ),  # fmt: skip
            "stores": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["store", "url", "status"],
                    "properties": {
                        "store": {"type": "string", "enum": ["app_store", "google_play"]},
                        "url": {"type": "string"},
                        "status": {"type": "string", "enum": list(STORES)},
                        "http_status": integer_or_null,
                        "last_updated": {"type": ["string", "null"], "format": "date"},
                        "version": _NULLABLE_STRING,
                        "detail": _NULLABLE_STRING,
                    },
                },
            },
            "contacts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["number", "status"],
                    "properties": {
                        "number": {"type": "string"},
                        "status": {"type": "string", "enum": list(CONTACTS)},
                        "detail": _NULLABLE_STRING,
                    },
                },
            },
        },
    }
    decision = {
        "type": "object",
        "description": "The reviewers' standing decision (a proposal never is one).",
        "required": [
            "status", "decision", "decided_at", "rationale", "cautions", "review_due", "reviewers"
        ],
        "properties": {
            "status": {"type": "string", "enum": ["standing"]},
            "decision": {"type": "string", "enum": [d.value for d in Decision]},
            "decided_at": {"type": "string", "format": "date-time"},
            "rationale": {"type": "string"},
            "cautions": _NULLABLE_STRING,
            "review_due": {"type": "string", "format": "date"},
            "reviewers": {
                "description": "Who it rests on: one reviewer who decided (or settled a "
                "disagreement), or a proposer and the second reviewer who confirmed. Named by "
                "name; to a token's holder, by email when an account has no name.",
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "role"],
                    "properties": {
                        "name": {"type": "string"},
                        "role": {"type": "string", "enum": list(REVIEWER_ROLES)},
                    },
                },
            },
        },
    }  # fmt: skip
    step = {
        "type": "object",
        "required": ["decision", "at", "by", "rationale", "cautions"],
        "properties": {
            "decision": {"type": "string", "enum": [d.value for d in Decision]},
            "at": {"type": "string", "format": "date-time"},
            "by": {"type": "string"},
            "rationale": {"type": "string"},
            "cautions": _NULLABLE_STRING,
        },
    }
    proposal = {
        "type": "object",
        "description": "With a token only: a decision proposed by one reviewer that does not "
        "stand until a second confirms it; disputed when a second would decide otherwise, until "
        "a third settles it.",
        "required": ["status", "awaiting", *step["required"], "disagreement"],
        "properties": {
            "status": {"type": "string", "enum": ["proposed", "disputed"]},
            "awaiting": {"type": "string", "enum": ["second_reviewer", "third_reviewer"]},
            **step["properties"],
            "disagreement": {"oneOf": [step, {"type": "null"}]},
        },
    }

    def strings(allowed) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": _enum(allowed)}}

    entry = {
        "type": "object",
        "required": ["id", "name", "url", "kind", "state", "decision", "latest_check"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "url": {"type": "string"},
            "kind": {"type": "string", "enum": _enum(COLUMN_FACETS["kind"][1])},
            "provider": _NULLABLE_STRING,
            "description": _NULLABLE_STRING,
            "conditions": strings(TAG_FACETS["condition"][1]),
            "audience": strings(a.value for a in Audience),
            "cost": {"type": ["string", "null"], "enum": [*_enum(COLUMN_FACETS["cost"][1]), None]},
            "platforms": strings(TAG_FACETS["platform"][1]),
            "ios_url": _NULLABLE_STRING,
            "android_url": _NULLABLE_STRING,
            "phone_numbers": {
                "description": 'Numbers to call, or to text ("text 85258"), as given.',
                "type": "array",
                "items": {"type": "string"},
            },
            "works_offline": _NULLABLE_BOOL,
            "low_data": _NULLABLE_BOOL,
            "languages": strings(TAG_FACETS["language"][1]),
            "moderation": {
                "type": ["string", "null"],
                "enum": [*(m.value for m in Moderation), None],
            },
            "crisis_signposting": _NULLABLE_BOOL,
            "evidence": _NULLABLE_STRING,
            "source": _NULLABLE_STRING,
            "state": {"type": "string", "enum": [s.value for s in State]},
            "review_due": {"type": ["string", "null"], "format": "date"},
            "decision": {"oneOf": [_ref("Decision"), {"type": "null"}]},
            "proposal": {"oneOf": [_ref("Proposal"), {"type": "null"}]},
            "latest_check": {"oneOf": [_ref("CheckReport"), {"type": "null"}]},
        },
    }
    paging = {
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
        "total": {"type": "integer", "minimum": 0},
        "pages": {"type": "integer", "minimum": 1},
    }
    counts = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    return {
        "Entry": entry,
        "Decision": decision,
        "Proposal": proposal,
        "CheckReport": report,
        "EntryPage": {
            "type": "object",
            "required": ["items", *paging, "facets"],
            "properties": {
                "items": {"type": "array", "items": _ref("Entry")},
                **paging,
                "facets": {
                    "type": "object",
                    "description": "For each filter option, the results there would be with it "
                    "chosen too (as the catalogue page shows). Without a token, counts are of "
                    "public entries only, and `status` has no `unreviewed` or `retired`.",
                    "additionalProperties": counts,
                },
            },
        },
        "CheckPage": {
            "type": "object",
            "required": ["items", *paging],
            "properties": {"items": {"type": "array", "items": _ref("CheckReport")}, **paging},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
    }


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


def _choice_list(name: str, allowed, description: str) -> dict[str, Any]:
    return _query(
        name,
        description,
        {"type": "array", "items": {"type": "string", "enum": _enum(allowed)}},
        style="form",
        explode=True,
    )


def _parameters() -> dict[str, Any]:
    flag = {"type": "boolean"}
    params = {
        "q": _query("q", "Words to search for; every word must match.",
                    {"type": "string", "maxLength": 2000}),
        "status": _choice_list(
            "status", STATUSES,
            "Review statuses to include (default: recommended ones). An entry due for re-review "
            "counts under its standing decision too. `unreviewed` and `retired` need a token.",
        ),
        "show": _query("show", "`all`: every status but retired (without a token: all decided).",
                       {"type": "string", "enum": ["all"]}),
        "offline": _query("offline", "Only entries that work offline.", flag),
        "low_data": _query("low_data", "Only entries that use little data.", flag),
        "moderated": _query("moderated", "Only moderated forums.", flag),
        "page": _query("page", "Which page of results (from 1).",
                       {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}),
        "per_page": _query("per_page", "Results a page.",
                           {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
        "resource_id": {"name": "resource_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                        "example": 1},
    }  # fmt: skip
    for name, (_facet, allowed) in {**TAG_FACETS, **COLUMN_FACETS}.items():
        params[name] = _choice_list(name, allowed, f"Only entries with any of these {name}s.")
    return params


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref("Error")}}}


_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
}
_SECURITY = [{}, {"bearerAuth": []}]  # public for decided entries, a token for the rest


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


def _param_refs(*names: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


def document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 description of the API."""
    filters = ["q", *TAG_FACETS, *COLUMN_FACETS, "offline", "low_data", "moderated", "status",
               "show", "page", "per_page"]  # fmt: skip
    not_found = {"404": {"$ref": "#/components/responses/NotFound"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Registry of digital self-management resources for severe mental illness",
            "version": "1.0.0",
            "description": "Read-only. Decided entries (recommended, recommended with cautions, "
            "not recommended, and those due for re-review) are public; other entries need an "
            "API token (`registry token create EMAIL`) sent as `Authorization: Bearer <secret>`. "
            "A registry run with REGISTRY_PUBLIC_ACCESS=none needs a token for every request.",
        },
        "paths": {
            "/api/v1/entries": {
                "get": {
                    "operationId": "listEntries",
                    "summary": "Search entries with the catalogue's filters, best match first.",
                    "parameters": _param_refs(*filters),
                    "security": _SECURITY,
                    "responses": {"200": _ok("EntryPage", "A page of entries."), **_ERRORS},
                }
            },
            "/api/v1/entries/{resource_id}": {
                "get": {
                    "operationId": "getEntry",
                    "summary": "One entry, its standing decision and its latest check.",
                    "parameters": _param_refs("resource_id"),
                    "security": _SECURITY,
                    "responses": {"200": _ok("Entry", "The entry."), **_ERRORS, **not_found},
                }
            },
            "/api/v1/entries/{resource_id}/checks": {
                "get": {
                    "operationId": "listChecks",
                    "summary": "The entry's check history, newest first.",
                    "parameters": _param_refs("resource_id", "page", "per_page"),
                    "security": _SECURITY,
                    "responses": {
                        "200": _ok("CheckPage", "A page of check reports."),
                        **_ERRORS,
                        **not_found,
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description.",
                    "security": [{}],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {_JSON: {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "responses": {
                "BadRequest": _error_response("A parameter is not valid; the message says which."),
                "Unauthorized": _error_response(
                    "A token is needed, or the one sent is unknown, revoked or its account "
                    "disabled."
                ),
                "Forbidden": _error_response("The token's account may not read this."),
                "NotFound": _error_response("There is no such entry."),
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }

"""Open Referral HSDS 3: an entry as an HSDS `service`, and a service back as entry fields."""

import uuid
from typing import Any

from registry.vocab import LANGUAGES

# Fixed for good: every identifier of an export derives from it, so they stay stable.
NAMESPACE = uuid.UUID("9c6d7f6a-b2ac-48d8-b625-9b8796b0d21e")

# Registry fields with no HSDS field of their own travel as service attributes (link_type).
ATTRIBUTE_LISTS = ("conditions", "audience", "platforms")
ATTRIBUTE_SCALARS = ("kind", "ios_url", "android_url", "moderation", "evidence", "source")
ATTRIBUTE_FLAGS = ("works_offline", "low_data", "crisis_signposting")


def _id(*parts: Any) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


def service_id(resource_id: int) -> str:
    """Return the HSDS service id of an entry: the same in every export."""
    return _id("resource", resource_id)


def to_service(record: dict[str, Any]) -> dict[str, Any]:
    """Return an exported entry (see exchange.export_records) as an HSDS 3 service."""
    sid = service_id(record["id"])
    service: dict[str, Any] = {
        "id": sid,
        "name": record["name"],
        "status": "inactive" if record.get("state") == "retired" else "active",
        "url": record["url"],
    }
    if record.get("description"):
        service["description"] = record["description"]
    if record.get("provider"):
        name = record["provider"]
        service["organization"] = {"id": _id("provider", name), "name": name, "description": name}
    service["languages"] = [
        {"id": _id(sid, "language", code), "service_id": sid, "code": code,
         "name": LANGUAGES.get(code, code)}
        for code in record.get("languages") or []
    ]  # fmt: skip
    # HSDS phone types come from RFC 6350: "voice" to call, "text" for SMS.
    service["phones"] = [
        {"id": _id(sid, "phone", number), "service_id": sid,
         "number": number.removeprefix("text "),
         "type": "text" if number.startswith("text ") else "voice"}
        for number in record.get("phone_numbers") or []
    ]  # fmt: skip
    if record.get("cost"):
        service["cost_options"] = [
            {"id": _id(sid, "cost"), "service_id": sid, "option": record["cost"]}
        ]
    attributes: list[tuple[str, str]] = []
    for field in ATTRIBUTE_SCALARS:
        if record.get(field) is not None:
            attributes.append((field, str(record[field])))
    for field in ATTRIBUTE_LISTS:
        attributes += [(field, value) for value in record.get(field) or []]
    for field in ATTRIBUTE_FLAGS:
        if record.get(field) is not None:
            attributes.append((field, "yes" if record[field] else "no"))
    service["attributes"] = [
        {"id": _id(sid, "attribute", field, value), "link_id": sid, "link_type": field,
         "link_entity": "service", "value": value}
        for field, value in attributes
    ]  # fmt: skip
    return service


def from_service(service: Any) -> dict[str, Any]:
    """Return the entry fields an HSDS service carries (for ResourceCreate to validate)."""
    if not isinstance(service, dict):
        return {"name": None, "url": None, "kind": None}
    organization = service.get("organization") or {}
    costs = service.get("cost_options") or []
    fields: dict[str, Any] = {
        "name": service.get("name"),
        "url": service.get("url"),
        "description": service.get("description"),
        "provider": organization.get("name") if isinstance(organization, dict) else None,
        "languages": [
            lang.get("code") for lang in service.get("languages") or [] if isinstance(lang, dict)
        ],
        "cost": costs[0].get("option") if costs and isinstance(costs[0], dict) else None,
        "phone_numbers": [
            ("text " if phone.get("type") == "text" else "") + str(phone.get("number") or "")
            for phone in service.get("phones") or []
            if isinstance(phone, dict) and phone.get("number")
        ],
    }
    for attribute in service.get("attributes") or []:
        if not isinstance(attribute, dict):
            continue
        field, value = attribute.get("link_type"), attribute.get("value")
        if field in ATTRIBUTE_LISTS:
            fields.setdefault(field, []).append(value)
        elif field in ATTRIBUTE_SCALARS or field in ATTRIBUTE_FLAGS:
            fields[field] = value
        # Attributes of other directories' own taxonomies have no place here: left out.
    # A service from another directory says nothing of kind: "other" until a reviewer looks.
    fields.setdefault("kind", "other")
    return {key: value for key, value in fields.items() if value not in (None, [])}

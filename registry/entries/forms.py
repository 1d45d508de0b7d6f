"""Reading the registry's HTML forms into the data models that validate them."""

from typing import Any

from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

from registry.entries.schemas import LIST_FIELDS, ResourceCreate, field_errors
from registry.entries.services import snapshot
from registry.models import Resource
from registry.vocab import Audience, Condition, Cost, Kind, Moderation, Platform

# Fields a person fills in on the suggestion and edit forms, with their labels.
FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "url": "Web address",
    "kind": "Kind",
    "provider": "Provider",
    "description": "What it is, in one line",
    "conditions": "Conditions",
    "audience": "Who it is for",
    "cost": "Cost",
    "platforms": "Platforms",
    "ios_url": "App Store link",
    "android_url": "Google Play link",
    "phone_numbers": "Phone and text numbers",
    "works_offline": "Works offline",
    "low_data": "Low data use",
    "languages": "Languages (codes such as en, cy)",
    "moderation": "Moderation (forums)",
    "crisis_signposting": "Signposts crisis help",
    "evidence": "Evidence",
    "source": "Where these facts came from",
}


def resource_input(form: MultiDict) -> dict[str, Any]:
    """Return what a resource form holds, lists as lists, ready for ResourceCreate."""
    data: dict[str, Any] = {}
    for field in FIELD_LABELS:
        if field in LIST_FIELDS and field != "languages":
            data[field] = [v for v in form.getlist(field) if v]
        else:
            data[field] = form.get(field, "")
    data["languages"] = form.get("languages", "").replace(",", ";")
    return data


def resource_values(resource: Resource) -> dict[str, Any]:
    """Return an entry's current values in the shape the form shows."""
    values = snapshot(resource)
    values["languages"] = "; ".join(values["languages"])
    values["phone_numbers"] = "; ".join(values["phone_numbers"])
    for key in ("works_offline", "low_data", "crisis_signposting"):
        values[key] = {True: "yes", False: "no", None: ""}[values[key]]
    return values


def validate_resource(
    form: MultiDict,
) -> tuple[ResourceCreate | None, dict[str, str], dict[str, Any]]:
    """Return (validated data or None, errors by field, the raw values to show again)."""
    raw = resource_input(form)
    try:
        return ResourceCreate.model_validate(raw), {}, raw
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for field, message in field_errors(exc):
            name = field.split(".")[0]
            errors.setdefault(name, f"{FIELD_LABELS.get(name, name)}: {message}")
        return None, errors, raw


# The choices each list field offers on the suggest and edit forms.
CHOICES = {
    "kind": list(Kind),
    "conditions": list(Condition),
    "audience": list(Audience),
    "cost": list(Cost),
    "platforms": list(Platform),
    "moderation": list(Moderation),
}

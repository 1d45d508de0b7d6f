"""Entries: create them from validated data, with their tags and an audit entry."""

from typing import Any

from sqlmodel import Session, select

from registry import audit
from registry.models import Resource, ResourceTag
from registry.schemas import LIST_FIELDS, ResourceCreate, url_key
from registry.vocab import State


def snapshot(resource: Resource) -> dict[str, Any]:
    """Return an entry's fields as a plain dict, lists included (what the audit log compares)."""
    data = {
        key: getattr(resource, key) for key in ResourceCreate.model_fields if key not in LIST_FIELDS
    }
    for field, facet in LIST_FIELDS.items():
        data[field] = resource.values(facet)
    data["state"] = resource.state
    return data


def find_by_url(session: Session, url: str) -> Resource | None:
    """Return the entry with the same normalised URL, if there is one."""
    return session.exec(select(Resource).where(Resource.url_key == url_key(url))).first()


def create_resource(
    session: Session,
    *,
    data: ResourceCreate,
    actor_id: int | None = None,
    actor_label: str | None = None,
    reason: str | None = None,
) -> Resource:
    """Add a new entry in state `suggested`, with an audit entry; the caller commits."""
    resource = Resource(
        **data.scalar_fields(),
        url_key=url_key(data.url),
        state=State.SUGGESTED.value,
        suggested_by_id=actor_id,
    )
    resource.tags = [
        ResourceTag(facet=facet, value=value)
        for field, facet in LIST_FIELDS.items()
        for value in getattr(data, field)
    ]
    session.add(resource)
    session.flush()  # gives the entry its id for the audit entry
    audit.record(
        session,
        entity="resource",
        entity_id=resource.id,
        action="created",
        changes=audit.diff({}, snapshot(resource)),
        actor_id=actor_id,
        actor_label=actor_label,
        reason=reason,
    )
    return resource

"""Entries: create them from validated data, with their tags and an audit entry."""

from typing import Any

from sqlmodel import Session, select

from registry import audit
from registry.entries.schemas import LIST_FIELDS, ResourceCreate, url_key
from registry.models import Resource, ResourceTag
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


def apply_facts(resource: Resource, data: ResourceCreate) -> None:
    """Set an entry's fields, its URL key and its tags (adding and removing) from data."""
    for key, value in data.scalar_fields().items():
        setattr(resource, key, value)
    resource.url_key = url_key(data.url)
    wanted = {(facet, v) for field, facet in LIST_FIELDS.items() for v in getattr(data, field)}
    resource.tags = [t for t in resource.tags if (t.facet, t.value) in wanted] + [
        ResourceTag(facet=facet, value=v)
        for facet, v in sorted(wanted - {(t.facet, t.value) for t in resource.tags})
    ]


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
    suggested_by_label: str | None = None,
) -> Resource:
    """Add a new entry in state `suggested`, with an audit entry; the caller commits.

    The account that acts (actor_id) is its suggester; without one, suggested_by_label names
    where it came from (such as "seed data"), so that any reviewer may decide on it.
    """
    resource = Resource(
        name=data.name,
        url=data.url,
        url_key=url_key(data.url),
        kind=data.kind.value,
        state=State.SUGGESTED.value,
        suggested_by_id=actor_id,
        suggested_by_label=None if actor_id else suggested_by_label,
    )
    apply_facts(resource, data)
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

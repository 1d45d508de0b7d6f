"""Search the registry: one function that turns a query and filters into a statement."""

from dataclasses import dataclass

from sqlalchemy import Select, and_, case, exists, func, or_
from sqlmodel import select

from registry.models import Resource, ResourceTag

MAX_QUERY_LENGTH = 200
MAX_TERMS = 12


@dataclass(frozen=True)
class Filters:
    """What a person asked to narrow the results to."""

    kind: str | None = None
    condition: str | None = None


def terms(query: str | None) -> list[str]:
    """Split what someone typed into at most MAX_TERMS lower-case words."""
    text = (query or "")[: MAX_QUERY_LENGTH * 10].lower()
    words = [word.strip("\"'()[]{}*,.;:!?") for word in text.split()]
    return [word[:MAX_QUERY_LENGTH] for word in words if word][:MAX_TERMS]


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _tag_match(pattern: str):
    return exists().where(
        ResourceTag.resource_id == Resource.id,
        func.lower(ResourceTag.value).like(pattern, escape="\\"),
    )


def search_statement(query: str | None, filters: Filters | None = None) -> Select:
    """Return a statement selecting matching entries, best match first (every word must match)."""
    filters = filters or Filters()
    words = terms(query)
    stmt = select(Resource)
    name_hits = []
    for word in words:
        pattern = _like(word)
        name_hit = func.lower(Resource.name).like(pattern, escape="\\")
        name_hits.append(name_hit)
        stmt = stmt.where(
            or_(
                name_hit,
                func.lower(func.coalesce(Resource.description, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Resource.provider, "")).like(pattern, escape="\\"),
                _tag_match(pattern),
            )
        )
    if filters.kind:
        stmt = stmt.where(Resource.kind == filters.kind)
    if filters.condition:
        stmt = stmt.where(
            exists().where(
                and_(
                    ResourceTag.resource_id == Resource.id,
                    ResourceTag.facet == "condition",
                    ResourceTag.value == filters.condition,
                )
            )
        )
    if name_hits:
        stmt = stmt.order_by(case((and_(*name_hits), 0), else_=1))
    return stmt.order_by(func.lower(Resource.name), Resource.id)


def count_statement(stmt: Select) -> Select:
    """Return a statement counting the rows stmt would select."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())

"""Import and export: the CSV and JSON shapes of DESIGN.md and HSDS 3, read, planned, written."""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from registry import audit
from registry.api.serialize import proposal_json, reviewer_name
from registry.db import utcnow
from registry.entries import visibility
from registry.entries.schemas import CSV_COLUMNS, LIST_FIELDS, ResourceCreate
from registry.entries.services import apply_facts, create_resource, find_by_url, snapshot
from registry.entries.status import latest_checks, latest_reviews
from registry.exchange import cells, hsds
from registry.exchange.seed import RowError, parse_csv, validate_records
from registry.models import Resource, User
from registry.review import lifecycle as review
from registry.review import panel
from registry.vocab import label

FORMATS = ("csv", "json", "hsds")
# Written by export for people to read; an import never sets them.
READ_ONLY = ("id", "state", "decision", "decided_by", "proposal", "review_due", "latest_check")
_SPREADSHEETS = (".xlsx", ".xls", ".ods", ".numbers")

Rows = list[tuple[int, ResourceCreate]]


class ExchangeError(Exception):
    """A file that cannot be imported at all, or an import that must stop; says what to do."""


# Reading ---------------------------------------------------------------------------------------


def read_csv(text: str) -> tuple[Rows, list[RowError]]:
    """Return the valid rows and the errors of a CSV text (numbered by line)."""
    return parse_csv(text)


def _records(items: Any, what: str) -> list[Any]:
    if isinstance(items, dict) and isinstance(items.get("contents"), list):
        return items["contents"]  # an HSDS API page
    if not isinstance(items, list):
        raise ExchangeError(f"is JSON but not an array of {what}")
    return items


def read_json(text: str) -> tuple[Rows, list[RowError]]:
    """Return the valid entries and the errors of the registry's JSON shape (numbered from 1)."""
    records, errors = [], []
    for number, item in enumerate(_records(_load_json(text), "entries"), start=1):
        if not isinstance(item, dict):
            errors.append(RowError(number, "entry", "is not an object", "entry"))
            continue
        unknown = [key for key in item if key not in CSV_COLUMNS and key not in READ_ONLY]
        errors += [RowError(number, key, "is not a known field", "entry") for key in unknown]
        bad_lists = [
            key for key in LIST_FIELDS
            if not isinstance(item.get(key), str | list | None)
            or isinstance(item.get(key), list) and not all(isinstance(v, str) for v in item[key])
        ]  # fmt: skip
        errors += [
            RowError(number, key, "must be a list of words or text separated by ;", "entry")
            for key in bad_lists
        ]
        if not unknown and not bad_lists:
            records.append((number, {k: v for k, v in item.items() if k not in READ_ONLY}))
    rows, row_errors = validate_records(records, unit="entry")
    return rows, sorted(errors + row_errors, key=lambda error: error.line)


def read_hsds(text: str) -> tuple[Rows, list[RowError]]:
    """Return the valid entries and the errors of an array (or page) of HSDS 3 services."""
    services = _records(_load_json(text), "HSDS services")
    records = [(n, hsds.from_service(service)) for n, service in enumerate(services, start=1)]
    return validate_records(records, unit="entry")


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExchangeError(
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _looks_like_hsds(data: Any) -> bool:
    if isinstance(data, dict):
        return "contents" in data
    first = next((item for item in data if isinstance(item, dict)), {}) if data else {}
    return isinstance(data, list) and ("status" in first or "attributes" in first)


def read_file(path: Path, fmt: str | None = None) -> tuple[str, Rows, list[RowError]]:
    """Read a file in a known format (given, or told by its name and content)."""
    if path.suffix.lower() in _SPREADSHEETS:
        raise ExchangeError("is a spreadsheet file: save it as “CSV UTF-8” and import that")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ExchangeError("does not exist: check the file name and folder") from None
    except UnicodeDecodeError:
        raise ExchangeError(
            "is not UTF-8 text: import a CSV (saved as “CSV UTF-8”) or a JSON file"
        ) from None
    except OSError as exc:
        raise ExchangeError(f"cannot be read ({exc.strerror})") from None
    if fmt is None:
        looks_json = text.lstrip()[:1] in ("[", "{")
        if path.suffix.lower() == ".json" or looks_json:
            fmt = "hsds" if _looks_like_hsds(_load_json(text)) else "json"
        else:
            fmt = "csv"
    if fmt not in FORMATS:
        raise ExchangeError(f"cannot be read as {fmt!r}: the formats are {', '.join(FORMATS)}")
    reader = {"csv": read_csv, "json": read_json, "hsds": read_hsds}[fmt]
    rows, errors = reader(text)
    return fmt, rows, errors


# Planning and applying -------------------------------------------------------------------------


@dataclass
class Change:
    """An entry of the registry that a row of the file matches, and what the row changes."""

    line: int
    resource: Resource
    data: ResourceCreate
    changes: dict[str, list[Any]]
    version: int


@dataclass
class Plan:
    """What an import would do: add, change, leave alone, reject."""

    additions: Rows = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    unchanged: list[tuple[int, Resource]] = field(default_factory=list)
    rejections: list[RowError] = field(default_factory=list)


def _facts(data: ResourceCreate) -> dict[str, Any]:
    """Return data's fields as the audit log compares them (lists in the registry's order)."""
    facts = data.scalar_fields()
    for name in LIST_FIELDS:
        facts[name] = sorted(getattr(data, name), key=label)
    return facts


def _merged(resource: Resource, data: ResourceCreate) -> ResourceCreate:
    """Return the entry with the row's filled fields over it; blank cells keep what is there."""
    base = {key: value for key, value in snapshot(resource).items() if key != "state"}
    for name in data.model_fields_set - {"url"}:  # the same address, maybe spelt otherwise
        value = getattr(data, name)
        if value not in (None, []):
            base[name] = value
    return ResourceCreate.model_validate(base)


def plan(session: Session, rows: Rows, errors: list[RowError] | None = None) -> Plan:
    """Match each row to the registry by normalised URL and say what importing it would do."""
    result = Plan(rejections=list(errors or []))
    for line, data in rows:
        existing = find_by_url(session, data.url)
        if existing is None:
            result.additions.append((line, data))
            continue
        merged = _merged(existing, data)
        before = {k: v for k, v in snapshot(existing).items() if k != "state"}
        changes = audit.diff(before, _facts(merged))
        if changes:
            result.changes.append(Change(line, existing, merged, changes, existing.version))
        else:
            result.unchanged.append((line, existing))
    return result


def _update(session: Session, change: Change, *, user: User, reason: str) -> None:
    """Write a change to its entry, audited, unless someone changed the entry meanwhile.

    A decided entry whose address, kind or store links change goes back to review.
    """
    resource, data = change.resource, change.data
    moved_on = f"“{resource.name}” changed during the import: run it again"
    if resource.version != change.version:
        raise ExchangeError(moved_on)
    apply_facts(resource, data)
    resource.updated_at = utcnow()
    session.add(resource)
    try:
        session.flush()
    except StaleDataError:
        raise ExchangeError(moved_on) from None
    audit.record(
        session, entity="resource", entity_id=resource.id, action="edited",
        changes=change.changes, actor_id=user.id, reason=reason,
    )  # fmt: skip
    review.send_back_if_basis_changed(session, resource, change.changes, user=user)


def apply(
    session: Session, planned: Plan, *, source: str, user: User, skip_invalid: bool = False
) -> None:
    """Carry out a plan in one transaction: all of it, or (with rejections) nothing.

    `user` is the account that runs the import: it is named in the audit log and is the
    suggester of every entry added, so it cannot approve them.
    """
    if planned.rejections and not skip_invalid:
        raise ExchangeError(f"has {len(planned.rejections)} problem(s): nothing was imported")
    reason = f"imported from {source}"
    try:
        for _line, data in planned.additions:
            create_resource(session, data=data, actor_id=user.id, reason=reason)
        for change in planned.changes:
            _update(session, change, user=user, reason=reason)
        session.commit()
    except Exception:
        session.rollback()
        raise


# Exporting -------------------------------------------------------------------------------------


def export_records(
    session: Session, *, recommended_only: bool = False, proposals: bool = False
) -> list[dict[str, Any]]:
    """Return every entry, or what the public sees by default, as the JSON shape of DESIGN.md.

    recommended_only gives the entries whose standing decision recommends them, also those under
    re-review (registry/entries/visibility.py): the registry's open data. proposals (for
    reviewers) adds each entry's decision proposed and waiting (registry/review/panel.py).
    """
    query = select(Resource).order_by(Resource.id)
    if recommended_only:
        query = query.where(visibility.where(visibility.public_default_rule))
    resources = session.exec(query).all()
    ids = [r.id for r in resources]
    checks = latest_checks(session, ids)
    # Who each standing decision rests on; the whole registry (staff's) also has what waits.
    steps = panel.standing_many(session, latest_reviews(session, ids))
    waiting = panel.pending_many(session, list(resources)) if proposals else {}
    people = panel.people_of(session, waiting.values())
    records = []
    for resource in resources:
        facts = snapshot(resource)
        record: dict[str, Any] = {"id": resource.id}
        record.update({name: facts[name] for name in CSV_COLUMNS})
        check = checks.get(resource.id)
        record.update(
            state=resource.state,
            decision=resource.decision,
            review_due=resource.review_due.isoformat() if resource.review_due else None,
            latest_check=check.report if check else None,
        )
        step = steps.get(resource.id)
        record["decided_by"] = [
            reviewer_name(user, staff=not recommended_only) for user in step.deciders
        ] if step else []  # fmt: skip
        if proposals:
            record["proposal"] = proposal_json(waiting.get(resource.id), people)
        records.append(record)
    return records


def _cell(value: Any) -> str:
    """Return value as a CSV cell that a spreadsheet opens as text, never as a formula."""
    if isinstance(value, list):
        text = ";".join(value)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = "" if value is None else str(value)
    return cells.neutralise(text)


def write_csv(records: list[dict[str, Any]]) -> str:
    """Return records as the CSV shape of DESIGN.md, every formula-like cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow([_cell(record[name]) for name in CSV_COLUMNS])
    return out.getvalue()


def write_json(records: list[dict[str, Any]]) -> str:
    """Return records as the JSON shape of DESIGN.md."""
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def write_hsds(records: list[dict[str, Any]]) -> str:
    """Return records as a JSON array of HSDS 3 services."""
    return json.dumps([hsds.to_service(r) for r in records], indent=2, ensure_ascii=False) + "\n"


WRITERS = {"csv": write_csv, "json": write_json, "hsds": write_hsds}

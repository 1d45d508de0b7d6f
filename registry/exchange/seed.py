"""The seed registry: read and validate a CSV of entries, and load it once, all or nothing."""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.db import utcnow
from registry.entries.schemas import CSV_COLUMNS, ResourceCreate, field_errors, url_key
from registry.entries.services import create_resource, find_by_url
from registry.exchange import cells
from registry.models import Meta

SEED_MARKER = "seed_loaded_at"
# Who suggested the seed's entries: no account did, so any reviewer may decide on them.
SEED_SUGGESTER = "seed data"
_REQUIRED_COLUMNS = ("name", "url", "kind")


@dataclass(frozen=True)
class RowError:
    """A problem with one row (line) and one field of a CSV file."""

    line: int
    field: str
    message: str
    unit: str = "line"  # what `line` counts: "line" of a CSV file, "entry" of a JSON array

    def __str__(self) -> str:
        where = f"{self.unit} {self.line}" if self.line else "header"
        return f"{where}, {self.field}: {self.message}"


class SeedError(Exception):
    """A CSV file that cannot be loaded; it names every bad row and field."""

    def __init__(self, source: str, errors: list[RowError]):
        self.source = source
        self.errors = errors
        shown = "\n".join(f"  {error}" for error in errors[:50])
        more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{source}: {len(errors)} problem(s), nothing was loaded:\n{shown}{more}")


def parse_csv(text: str) -> tuple[list[tuple[int, ResourceCreate]], list[RowError]]:
    """Return the valid rows (with their line numbers) and the errors of a CSV text."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    errors = [
        RowError(0, name, "is a required column")
        for name in _REQUIRED_COLUMNS
        if name not in header
    ]
    errors += [
        RowError(0, name or f"column {i}", "is not a known column" if name else "has no name")
        for i, name in enumerate(header, start=1)
        if name not in CSV_COLUMNS
    ]
    if errors:
        return [], errors
    reader.fieldnames = header

    def records() -> Iterable[tuple[int, dict[str, Any]]]:
        for record in reader:
            if None in record:
                errors.append(RowError(reader.line_num, "row", "has more fields than the header"))
                continue
            yield reader.line_num, _restored(record)

    rows, row_errors = validate_records(records())
    return rows, sorted(errors + row_errors, key=lambda error: error.line)


def _restored(record: dict[str, Any]) -> dict[str, Any]:
    """Give back the cells export neutralised for spreadsheets as they were (exchange/cells.py)."""
    return {k: cells.restore(v) if isinstance(v, str) else v for k, v in record.items()}


def validate_records(
    records: Iterable[tuple[int, dict[str, Any]]], *, unit: str = "line"
) -> tuple[list[tuple[int, ResourceCreate]], list[RowError]]:
    """Validate (line, fields) records; skip blank ones and report repeated URLs."""
    rows: list[tuple[int, ResourceCreate]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, record in records:
        if not any(_filled(value) for value in record.values()):
            continue  # a blank line in a spreadsheet export
        try:
            data = ResourceCreate.model_validate(record)
        except ValidationError as exc:
            errors += [RowError(line, field, msg, unit) for field, msg in field_errors(exc)]
            continue
        key = url_key(data.url)
        if key in seen:
            errors.append(RowError(line, "url", f"repeats the URL of {unit} {seen[key]}", unit))
            continue
        seen[key] = line
        rows.append((line, data))
    return rows, errors


def _filled(value: Any) -> bool:
    return bool(value.strip()) if isinstance(value, str) else value not in (None, [], {})


def read_csv(path: Path) -> list[tuple[int, ResourceCreate]]:
    """Read and validate a CSV file; raise SeedError naming every bad row and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SeedError(
            str(path), [RowError(0, "file", f"is not UTF-8 text ({exc.reason})")]
        ) from None
    except OSError as exc:
        raise SeedError(
            str(path), [RowError(0, "file", f"cannot be read ({exc.strerror})")]
        ) from None
    rows, errors = parse_csv(text)
    if errors:
        raise SeedError(str(path), errors)
    return rows


def _add_missing(session: Session, rows: list[tuple[int, ResourceCreate]], source: str) -> int:
    added = 0
    for _line, data in rows:
        if find_by_url(session, data.url) is None:
            create_resource(
                session, data=data, actor_label="seed loader", reason=f"seed data from {source}",
                suggested_by_label=SEED_SUGGESTER,
            )  # fmt: skip
            added += 1
    return added


def load(session: Session, path: Path) -> int:
    """Add the file's entries not in the registry yet, in one transaction; return how many."""
    rows = read_csv(path)
    try:
        added = _add_missing(session, rows, path.name)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return added


def load_once(session: Session, path: Path) -> int | None:
    """Load the seed unless this database has had it; return how many were added, or None."""
    if session.get(Meta, SEED_MARKER) is not None:
        return None
    rows = read_csv(path)  # validate before touching anything
    try:
        added = _add_missing(session, rows, path.name)
        session.add(Meta(key=SEED_MARKER, value=utcnow().isoformat()))
        session.commit()
    except IntegrityError:
        session.rollback()  # another process loaded it at the same moment
        return None
    except Exception:
        session.rollback()
        raise
    return added

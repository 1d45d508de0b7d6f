"""Import and export as an admin uses them: round trips, spreadsheets, bad rows, duplicates."""

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, func, select

from registry import create_app
from registry.accounts import services as accounts
from registry.cli import main
from registry.cli._common import prepare_database
from registry.db import get_engine, make_engine, utcnow
from registry.entries.schemas import CSV_COLUMNS
from registry.exchange import services as exchange
from registry.models import AuditEvent, CheckResult, Resource

FIXTURES = Path(__file__).parent.parent / "fixtures"


def run(database_url, *args):
    """Run `registry ARGS` on the database at database_url, as a person at a terminal would."""
    env = {"DATABASE_URL": database_url, "SECRET_KEY": "test-secret"}
    return CliRunner().invoke(main, list(args), env=env)


IMPORTER = "importer@example.org"


def run_import(database_url, *args):
    """Run `registry import --as IMPORTER ARGS`, the importer's admin account made if need be."""
    ensure_importer(database_url)
    return run(database_url, "import", "--as", IMPORTER, *args)


def ensure_importer(database_url):
    """Give the registry at database_url the admin account that runs the imports."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            if accounts.find(session, IMPORTER) is None:
                _importer(session)
                session.commit()
    finally:
        engine.dispose()


def _importer(session):
    return accounts.create(session, email=IMPORTER, role="admin", password="x" * 16, one_time=False)


@pytest.fixture
def empty_url(another_database_url):
    """The URL of a second, migrated, empty registry."""
    url = another_database_url
    prepare_database(
        create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x"}), seed=False
    )
    return url


def count(session, model=Resource):
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


def by_name(session, name):
    session.expire_all()
    return session.exec(select(Resource).where(Resource.name == name)).one()


def export(database_url, fmt, *extra):
    result = run(database_url, "export", "--format", fmt, *extra)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("fmt", ["csv", "json", "hsds"])
def test_an_export_imported_into_an_empty_registry_exports_the_same(app, empty_url, tmp_path, fmt):
    first = export(app.config["DATABASE_URL"], fmt)
    path = tmp_path / f"registry.{'csv' if fmt == 'csv' else 'json'}"
    path.write_text(first, encoding="utf-8", newline="")

    result = run_import(empty_url, str(path))

    assert result.exit_code == 0, result.output
    assert "4 added, 0 changed, 0 unchanged, 0 rejected" in result.output
    assert export(empty_url, fmt) == first


def test_csv_export_has_the_design_columns_in_order(app):
    rows = list(csv.reader(io.StringIO(export(app.config["DATABASE_URL"], "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    mood = dict(zip(rows[0], next(r for r in rows if r[0] == "Mood Diary App"), strict=True))
    assert set(mood["platforms"].split(";")) == {"ios", "android"}
    assert mood["works_offline"] == "yes" and mood["languages"] in ("en;cy", "cy;en")


def test_json_export_carries_the_design_fields_and_the_review_and_latest_check(reviewed):
    with Session(get_engine(reviewed)) as session:
        mood = by_name(session, "Mood Diary App")
        report = {"url": mood.url, "verdict": "pass", "liveness": {"status": "up"}}
        session.add(CheckResult(resource_id=mood.id, url=mood.url, verdict="pass", liveness_status="up",
                                https_status="ok", privacy_status="found", report=report))  # fmt: skip
        session.commit()

    entries = json.loads(export(reviewed.config["DATABASE_URL"], "json"))

    assert len(entries) == 4
    for entry in entries:
        assert set(entry) == {
            "id", *CSV_COLUMNS, "state", "decision", "decided_by", "proposal", "review_due",
            "latest_check",
        }  # fmt: skip
    mood = next(e for e in entries if e["name"] == "Mood Diary App")
    assert mood["state"] == mood["decision"] == "recommended"
    assert mood["decided_by"] == ["reviewer@example.org"] and mood["proposal"] is None
    assert mood["review_due"] and mood["latest_check"] == report
    assert mood["works_offline"] is True and sorted(mood["platforms"]) == ["android", "ios"]
    unreviewed = next(e for e in entries if e["name"] == "Bipolar Peer Forum")
    assert unreviewed["decision"] is None and unreviewed["latest_check"] is None
    assert unreviewed["decided_by"] == []


def test_recommended_only_export_leaves_out_undecided_and_not_recommended(reviewed):
    entries = json.loads(export(reviewed.config["DATABASE_URL"], "json", "--recommended-only"))
    assert {e["name"] for e in entries} == {"Mood Diary App", "Voices Together"}


def test_hsds_export_validates_against_the_published_hsds_3_schema(reviewed, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((FIXTURES / "hsds" / "service.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    output = tmp_path / "registry.hsds.json"

    result = run(
        reviewed.config["DATABASE_URL"], "export", "--format", "hsds", "--output", str(output)
    )

    assert result.exit_code == 0, result.output
    services = json.loads(output.read_text(encoding="utf-8"))
    assert len(services) == 4
    for service in services:
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(service)]
        assert errors == [], service["name"]
    mood = next(s for s in services if s["name"] == "Mood Diary App")
    assert mood["organization"]["name"] == "Example Health"
    assert {lang["code"] for lang in mood["languages"]} == {"en", "cy"}
    assert mood["cost_options"][0]["option"] == "freemium"
    assert {"link_type": "kind", "value": "app"}.items() <= mood["attributes"][0].items()


def test_hsds_service_ids_stay_the_same_from_one_export_to_the_next(app):
    first = json.loads(export(app.config["DATABASE_URL"], "hsds"))
    assert [s["id"] for s in first] == [
        s["id"] for s in json.loads(export(app.config["DATABASE_URL"], "hsds"))
    ]
    assert len({s["id"] for s in first}) == 4


def test_a_spreadsheet_csv_with_odd_headers_a_bom_and_windows_line_ends_imports(app, session):
    result = run_import(app.config["DATABASE_URL"], str(FIXTURES / "spreadsheet.csv"))

    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    hub = by_name(session, "Hearing Voices Hub")
    assert hub.url == "https://hub.example.org/voices" and hub.kind == "website"
    assert hub.provider == "Example Voices Network" and hub.cost == "free" and hub.works_offline
    assert set(hub.values("condition")) == {"psychosis", "schizophrenia"}
    assert hub.state == "suggested"
    assert by_name(session, "Bipolar Steps App").kind == "app"


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(app, session):
    before = count(session)

    result = run_import(app.config["DATABASE_URL"], str(FIXTURES / "bad_rows.csv"))

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "nothing was imported" in result.output
    assert "line 3, kind:" in result.output
    assert "line 5, url:" in result.output and "line 6, cost:" in result.output
    assert "--skip-invalid" in result.output
    assert count(session) == before


def test_skip_invalid_imports_the_good_rows_and_lists_the_bad(app, session):
    before = count(session)

    result = run_import(
        app.config["DATABASE_URL"], "--skip-invalid", str(FIXTURES / "bad_rows.csv")
    )

    assert result.exit_code == 0, result.output
    assert "2 added, 0 changed, 0 unchanged, 3 rejected" in result.output
    assert "line 5, url:" in result.output
    assert count(session) == before + 2


def test_a_duplicate_by_url_updates_the_existing_entry_with_an_audit_entry(reviewed, tmp_path):
    path = tmp_path / "update.csv"
    path.write_text(
        "name,url,kind,description,cost\n"
        "Mood Diary App,http://www.mood.example.org,app,Now tracks sleep too.,\n",
        encoding="utf-8",
    )

    result = run_import(reviewed.config["DATABASE_URL"], str(path))

    assert result.exit_code == 0, result.output
    assert "0 added, 1 changed" in result.output
    with Session(get_engine(reviewed)) as session:
        assert count(session) == 4
        mood = by_name(session, "Mood Diary App")
        assert mood.description == "Now tracks sleep too."
        assert mood.cost == "freemium"  # a blank cell keeps what the registry knows
        assert mood.state == "recommended" and mood.decision == "recommended"
        event = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.entity_id == mood.id and event.action == "edited"
        assert event.actor_id == accounts.find(session, IMPORTER).id
        assert event.reason == "imported from update.csv"
        assert event.changes["description"][1] == "Now tracks sleep too."


@pytest.mark.parametrize("url", ["http://voices.example.net", "https://www.voices.example.net/",
                                 "https://VOICES.example.net"])  # fmt: skip
def test_the_same_address_written_differently_is_not_a_new_entry(app, session, tmp_path, url):
    path = tmp_path / "same.csv"
    path.write_text(f"name,url,kind\nVoices Together,{url},website\n", encoding="utf-8")

    result = run_import(app.config["DATABASE_URL"], str(path))

    assert result.exit_code == 0, result.output
    assert "0 added, 0 changed, 1 unchanged" in result.output
    assert count(session) == 4
    assert by_name(session, "Voices Together").url == "https://voices.example.net/"


def test_importing_the_same_file_twice_changes_nothing_the_second_time(app, session):
    run_import(app.config["DATABASE_URL"], str(FIXTURES / "spreadsheet.csv"))
    events = count(session, AuditEvent)

    result = run_import(app.config["DATABASE_URL"], str(FIXTURES / "spreadsheet.csv"))

    assert "0 added, 0 changed, 2 unchanged" in result.output
    assert count(session, AuditEvent) == events


def test_dry_run_says_what_would_be_added_changed_and_rejected_and_changes_nothing(
    app, session, tmp_path
):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "name,url,kind,cost\n"
        "Brand New,https://brand-new.example.org/,website,free\n"
        "Mood Diary App,https://mood.example.org/,app,paid\n"
        "Broken,https://broken.example.org/,spaceship,free\n",
        encoding="utf-8",
    )
    ensure_importer(app.config["DATABASE_URL"])
    entries, events = count(session), count(session, AuditEvent)

    result = run_import(app.config["DATABASE_URL"], "--dry-run", str(path))

    assert result.exit_code == 0, result.output
    assert "Would add 1 entries:\n  line 2: Brand New" in result.output
    assert "Would change 1 entries:\n  line 3: Mood Diary App" in result.output
    assert "cost: 'freemium' → 'paid'" in result.output
    assert "Would reject 1 problem(s):\n  line 4, kind:" in result.output
    assert "nothing was changed" in result.output
    assert (count(session), count(session, AuditEvent)) == (entries, events)
    assert by_name(session, "Mood Diary App").cost == "freemium"


def test_a_json_file_with_an_unknown_field_names_the_entry(app, tmp_path):
    path = tmp_path / "entries.json"
    path.write_text(json.dumps([{"name": "A", "url": "https://a.example.org/", "kind": "app"},
                                {"name": "B", "url": "https://b.example.org/", "kind": "app", "colour": "red"}]))  # fmt: skip

    result = run_import(app.config["DATABASE_URL"], str(path))

    assert result.exit_code == 1
    assert "entry 2, colour: is not a known field" in result.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("registry.xlsx", b"PK\x03\x04", "save it as"),
        ("binary.csv", b"\xff\xfe\x00\x01\x80\x81", "is not UTF-8 text"),
        ("broken.json", b'[{"name": "A",', "is not valid JSON (line 1"),
        ("object.json", b'{"name": "A"}', "not an array"),
        (
            "notes.txt",
            b"just some notes\nnothing tabular\n",
            "CSV file whose first row names the columns",
        ),
    ],
)
def test_a_file_that_cannot_be_imported_gets_a_message_not_a_traceback(
    app, tmp_path, name, content, message
):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    result = run_import(app.config["DATABASE_URL"], str(path))

    assert result.exit_code == 1, result.output
    assert message in result.output
    assert isinstance(result.exception, SystemExit)


def test_an_unknown_format_is_refused_with_the_formats_named(app, tmp_path):
    result = run(app.config["DATABASE_URL"], "export", "--format", "xml")
    assert result.exit_code == 2
    assert "'csv', 'json', 'hsds'" in result.output or "csv, json, hsds" in result.output


def test_an_entry_edited_while_the_import_runs_stops_the_import(app, session):
    rows, errors = exchange.read_csv(
        "name,url,kind,cost\nMood Diary App,https://mood.example.org/,app,paid\n"
        "Brand New,https://brand-new.example.org/,website,free\n"
    )
    importer = _importer(session)
    session.commit()
    planned = exchange.plan(session, rows, errors)
    with Session(get_engine(app)) as other:
        mood = by_name(other, "Mood Diary App")
        mood.description, mood.updated_at = "Edited by a reviewer meanwhile.", utcnow()
        other.add(mood)
        other.commit()

    with pytest.raises(exchange.ExchangeError, match="changed during the import"):
        exchange.apply(session, planned, source="late.csv", user=importer)

    assert count(session) == 4
    assert by_name(session, "Mood Diary App").cost == "freemium"


@pytest.fixture
def downloads(reviewed):
    """The reviewed registry, which serves the download routes."""
    return reviewed


def test_anyone_can_download_the_recommended_entries(downloads):
    client = downloads.test_client()
    response = client.get("/export.json")
    assert response.status_code == 200
    assert {e["name"] for e in response.get_json()} == {"Mood Diary App", "Voices Together"}
    csv_response = client.get("/export.csv")
    assert csv_response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["Content-Disposition"]
    assert len(client.get("/export.hsds.json").get_json()) == 2


def test_the_whole_registry_download_is_for_signed_in_staff(downloads, as_role):
    anonymous = downloads.test_client().get("/export.json?all=1")
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.headers["Location"]
    clinician = as_role("clinician")
    assert len(clinician.get("/export.json?all=1").get_json()) == 4


def _write(tmp_path, rows: list[dict]) -> Path:
    path = tmp_path / "numbers.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({**{c: "" for c in CSV_COLUMNS}, **row} for row in rows)
    return path


def test_phone_numbers_import_in_one_form_and_travel_in_every_export(app, session, tmp_path):
    path = _write(tmp_path, [{
        "name": "Night Line", "url": "https://nightline.example.org/", "kind": "helpline",
        "phone_numbers": "0800-068-4141;text 85258; +1 988",
    }])  # fmt: skip

    result = run_import(app.config["DATABASE_URL"], str(path))

    assert result.exit_code == 0, result.output
    assert by_name(session, "Night Line").phone_numbers == ["0800 068 4141", "text 85258", "+1 988"]
    url = app.config["DATABASE_URL"]
    rows = list(csv.DictReader(io.StringIO(export(url, "csv"))))
    [line] = [r for r in rows if r["name"] == "Night Line"]
    assert line["phone_numbers"] == "0800 068 4141;text 85258;+1 988"
    [entry] = [e for e in json.loads(export(url, "json")) if e["name"] == "Night Line"]
    assert entry["phone_numbers"] == ["0800 068 4141", "text 85258", "+1 988"]
    [service] = [s for s in json.loads(export(url, "hsds")) if s["name"] == "Night Line"]
    assert [(p["number"], p["type"]) for p in service["phones"]] == [
        ("0800 068 4141", "voice"), ("85258", "text"), ("+1 988", "voice"),
    ]  # fmt: skip


def test_a_number_that_cannot_be_dialled_rejects_its_row_saying_what_to_write(
    app, session, tmp_path
):
    path = _write(tmp_path, [
        {"name": "Good", "url": "https://good.example.org/", "kind": "helpline",
         "phone_numbers": "116 123"},
        {"name": "Bad", "url": "https://bad.example.org/", "kind": "helpline",
         "phone_numbers": "116 123; call us"},
    ])  # fmt: skip
    before = count(session)

    result = run_import(app.config["DATABASE_URL"], str(path))

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "line 3, phone_numbers: 'call us' is not a phone number" in result.output
    assert count(session) == before

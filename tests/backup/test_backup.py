"""Backups: `registry backup` writes the whole database to a file, `registry restore` puts it back.

Each test runs on the run's backend (./scripts/test runs SQLite, then PostgreSQL).
"""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel
from werkzeug.datastructures import MultiDict

from registry import create_app
from registry.accounts import tokens as api_tokens
from registry.catalogue import facets
from registry.catalogue.search import Filters
from registry.cli import main
from registry.cli._common import prepare_database
from registry.db import get_engine, make_engine, utcnow
from registry.entries.visibility import Audience
from registry.jobs.checkrun import result_row
from registry.models import AuditEvent, CheckRun, Resource, User
from registry.review import lifecycle as review
from registry.review.rubric import ITEMS
from tests.api.conftest import report
from tests.conftest import ON_POSTGRESQL

FIXTURES = Path(__file__).parent.parent / "fixtures"
REVIEWED_ANSWERS = {item.key: {"answer": "yes"} for item in ITEMS}


def run(database_url: str, *args: str, **env: str):
    """Run `registry ARGS` on the database at database_url, as a person at a terminal would."""
    settings = {"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", **env}
    return CliRunner().invoke(main, list(args), env=settings)


def snapshot(database_url: str) -> dict[str, list[tuple]]:
    """Return every row of every table of the registry, ordered by primary key.

    The search version is left out: a restore moves it on on purpose (see registry/backup.py);
    so is the audit entry a restore leaves behind, saying so (test_a_restore_leaves_its_trace).
    """
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in SQLModel.metadata.sorted_tables
            }
            tables["alembic_version"] = list(
                connection.execute(text("SELECT version_num FROM alembic_version"))
            )
    finally:
        engine.dispose()
    tables["meta"] = [row for row in tables["meta"] if row[0] != facets.SEARCH_VERSION]
    tables["audit_event"] = [row for row in tables["audit_event"] if not _restore_record(row)]
    return tables


def _restore_record(row: tuple) -> bool:
    columns = [column.name for column in AuditEvent.__table__.columns]
    return row[columns.index("entity")] == "database" and row[columns.index("action")] == "restored"


def app_on(database_url: str):
    """An app on an existing database, as a web process would start."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret"})
    prepare_database(app, seed=False)
    return app


def filter_counts(app) -> dict:
    """The catalogue's filter counts over every live entry, as a web process computes them."""
    with Session(get_engine(app)) as session:
        staff = Filters.from_args(MultiDict({"show": "all"}), audience=Audience.STAFF)
        return facets.counts(session, None, staff)


@pytest.fixture
def history(reviewed, people):
    """The reviewed registry with a check run and its results, a problem report and a token."""
    with Session(get_engine(reviewed)) as session:
        checked = CheckRun(status="finished", trigger="nightly", total=2, passed=1, failed=1,
                           finished_at=utcnow())  # fmt: skip
        session.add(checked)
        session.flush()
        entries = session.exec(select(Resource).order_by(Resource.id)).scalars().all()
        for entry, verdict in zip(entries[:2], ("pass", "fail"), strict=True):
            liveness = "down" if verdict == "fail" else "up"
            session.add(result_row(report(entry.url, verdict, liveness),
                                   resource_id=entry.id, run_id=checked.id))  # fmt: skip
        clinician = session.get(User, people["clinician"])
        review.report_problem(session, entries[0], user=clinician, reason="broken",
                              note="The page says 404.")  # fmt: skip
        api_tokens.create(session, email="clinician@example.org", name="reporting")
        session.commit()
    return reviewed


@pytest.mark.parametrize("target", ["another_database_url", "fresh_database_url"])
def test_a_backup_restores_into_another_database_row_for_row(
    history, database_url, tmp_path, request, target
):
    """Into a migrated, empty registry, or a new database with no tables (a new server)."""
    another_database_url = request.getfixturevalue(target)
    file = tmp_path / "registry.backup"
    made = run(database_url, "backup", str(file))
    assert made.exit_code == 0, made.output
    assert "4 entries, 3 reviews" in made.output
    assert "2 check results, 4 accounts" in made.output
    assert stat.S_IMODE(file.stat().st_mode) == 0o600  # it holds password hashes

    restored = run(another_database_url, "restore", "--yes", str(file))
    assert restored.exit_code == 0, restored.output
    assert "4 entries, 3 reviews" in restored.output

    before, after = snapshot(database_url), snapshot(another_database_url)
    assert after == before
    assert all(after[table] for table in ("review", "audit_event", "check_run", "check_result",
                                          "problem_report", "api_token", "user_account"))  # fmt: skip

    client = app_on(another_database_url).test_client()
    found = client.get("/?q=mood&show=all").get_data(as_text=True)
    assert "Mood Diary App" in found and "Carers Helpline" not in found
    entry_id = next(row[0] for row in after["resource"] if row[1] == "Mood Diary App")
    page = client.get(f"/resources/{entry_id}")
    assert page.status_code == 200
    assert "Rationale for Mood Diary App." in page.get_data(as_text=True)


def test_a_restore_leaves_its_trace_and_the_history_rule_in_force(
    history, database_url, another_database_url, tmp_path
):
    file = tmp_path / "registry.backup"
    assert run(database_url, "backup", str(file)).exit_code == 0
    app_on(another_database_url)  # an empty registry, at the latest schema

    assert run(another_database_url, "restore", "--yes", str(file)).exit_code == 0

    engine = make_engine(another_database_url)
    try:
        with engine.connect() as connection:
            trace = connection.execute(
                text("SELECT actor_label, reason, changes FROM audit_event "
                     "WHERE entity = 'database' AND action = 'restored'")
            ).all()  # fmt: skip
        with pytest.raises(DBAPIError, match="append-only rule: review rows are history"):
            with engine.begin() as connection:
                connection.execute(text("UPDATE review SET rationale = 'rewritten'"))
    finally:
        engine.dispose()
    [(actor, reason, changes)] = trace
    assert actor == "registry restore" and reason == "restored from the backup registry.backup"
    changes = changes if isinstance(changes, dict) else json.loads(changes)
    assert changes["reviews"] == [0, 3] and changes["entries"] == [0, 4]


def delete_tag(app, value: str) -> None:
    """Take one condition off one entry, in one statement (one step of the search version)."""
    with get_engine(app).begin() as connection:
        connection.execute(
            text(
                "DELETE FROM resource_tag WHERE facet = 'condition' AND value = :value "
                "AND resource_id = (SELECT min(resource_id) FROM resource_tag "
                "WHERE facet = 'condition' AND value = :value)"
            ),
            {"value": value},
        )


def test_restoring_over_later_changes_gives_back_the_backup_and_its_counts(
    history, database_url, people, tmp_path
):
    file = tmp_path / "registry.backup"
    assert run(database_url, "backup", str(file)).exit_code == 0
    backed_up, counts_backed_up = snapshot(database_url), filter_counts(history)

    # Later work, seen by the running app: a condition taken off an entry (one change)...
    delete_tag(history, "psychosis")
    assert filter_counts(history)["condition"] != counts_backed_up["condition"]
    # ... then an entry added and the unreviewed entry recommended.
    with Session(get_engine(history)) as session:
        session.add(Resource(name="Added Later", url="https://later.example.org/",
                             url_key="later.example.org", kind="website"))  # fmt: skip
        unreviewed = session.exec(
            select(Resource).where(Resource.name == "Bipolar Peer Forum")
        ).scalar_one()
        review.decide(
            session, unreviewed, user=session.get(User, people["reviewer2"]),
            decision=review.Decision("recommended"), rationale="Later.", cautions=None,
            answers=REVIEWED_ANSWERS,
        )  # fmt: skip
        session.commit()

    restored = run(database_url, "restore", "--yes", str(file))
    assert restored.exit_code == 0, restored.output
    assert snapshot(database_url) == backed_up

    # One change after the restore: the app, started before it, counts the restored data with
    # that change, not the counts it kept from before the restore.
    delete_tag(history, "bipolar")
    after = filter_counts(history)
    expected = {
        **counts_backed_up["condition"],
        "bipolar": counts_backed_up["condition"]["bipolar"] - 1,
    }
    assert after["condition"] == {name: n for name, n in expected.items() if n}
    assert {k: v for k, v in after.items() if k != "condition"} == {
        k: v for k, v in counts_backed_up.items() if k != "condition"
    }
    found = history.test_client().get("/?q=later&show=all").get_data(as_text=True)
    assert "Added Later" not in found


def test_an_older_backup_is_brought_up_to_the_current_schema(
    history, database_url, another_database_url, tmp_path
):
    from alembic import command

    from registry import migrate

    at_head = snapshot(database_url)
    engine = make_engine(database_url)
    try:
        command.downgrade(migrate.alembic_config(engine), "0006")  # before API tokens
    finally:
        engine.dispose()
    file = tmp_path / "old.backup"
    made = run(database_url, "backup", str(file))
    assert "schema revision 0006" in made.output

    restored = run(another_database_url, "restore", "--yes", str(file))
    assert restored.exit_code == 0, restored.output
    head = at_head["alembic_version"][0][0]
    assert f"schema revision {head}" in restored.output
    # Everything but the tables later migrations made (the downgrade emptied those), and the
    # columns they added, which come back with their defaults: results kept before 0010 were
    # fingerprinted the old way (scheme 1), entries kept before 0011 have no numbers.
    columns = {t.name: [c.name for c in t.columns] for t in SQLModel.metadata.sorted_tables}

    def as_before(table: str, defaults: dict) -> list[tuple]:
        at = {columns[table].index(name): value for name, value in defaults.items()}
        return [tuple(at.get(i, v) for i, v in enumerate(row)) for row in at_head[table]]

    expected = {
        **at_head,
        "api_token": [],
        "sign_in_attempt": [],
        "check_result": as_before("check_result", {"policy_scheme": 1}),
        "resource": as_before("resource", {"phone_numbers": []}),
    }
    assert snapshot(another_database_url) == expected


def test_a_backup_made_with_the_plain_tools_restores_too(
    history, backend, database_url, another_database_url, tmp_path, request
):
    file = tmp_path / "plain.backup"
    if backend == "sqlite":
        sqlite3_program = shutil.which("sqlite3")
        assert sqlite3_program, "the sqlite3 program is missing: apt-get install sqlite3"
        source = make_url(database_url).database
        command = [sqlite3_program, source, f".backup {file}"]
    else:
        pg_dump = request.getfixturevalue("postgres_server").tool("pg_dump")
        libpq_url = make_url(database_url).set(drivername="postgresql")
        command = [str(pg_dump), "--format=custom", "--no-owner", "--no-privileges",
                   f"--file={file}", f"--dbname={libpq_url.render_as_string(False)}"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)

    restored = run(another_database_url, "restore", "--yes", str(file))

    assert restored.exit_code == 0, restored.output
    assert snapshot(another_database_url) == snapshot(database_url)


@pytest.fixture
def sqlite_backup(tmp_path) -> Path:
    """A genuine backup of a small SQLite registry."""
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x",
                      "REGISTRY_SEED_FILE": str(FIXTURES / "small.csv")})  # fmt: skip
    prepare_database(app, seed=True)
    assert run(url, "backup", str(tmp_path / "sqlite.backup")).exit_code == 0
    return tmp_path / "sqlite.backup"


def other_backends_backup(backend: str, tmp_path: Path, request) -> Path:
    """A backup of the kind the run's backend cannot take."""
    if backend == "postgresql":
        return request.getfixturevalue("sqlite_backup")
    # What pg_dump's custom format starts with (the SQLite run starts no PostgreSQL server).
    file = tmp_path / "postgresql.backup"
    file.write_bytes(b"PGDMP\x01\x0e\x00\x04\x08\x01\x01\x01" + os.urandom(2000))
    return file


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("missing", "there is no backup file at"),
        ("random bytes", "is not a registry backup"),
        ("a CSV file", "is not a registry backup"),
        ("the other backend's backup", "restores only into the same kind of database"),
    ],
)
def test_restore_refuses_what_is_not_a_backup_for_this_database(
    app, backend, database_url, tmp_path, request, given, message
):
    file = tmp_path / "given"
    if given == "random bytes":
        file.write_bytes(os.urandom(4096))
    elif given == "a CSV file":
        file.write_bytes((FIXTURES / "small.csv").read_bytes())
    elif given == "the other backend's backup":
        file = other_backends_backup(backend, tmp_path, request)
    before = snapshot(database_url)

    refused = run(database_url, "restore", "--yes", str(file))

    assert refused.exit_code != 0
    assert message in refused.output
    assert "Traceback" not in refused.output
    assert snapshot(database_url) == before


def test_restore_refuses_a_backup_from_a_newer_registry(
    app, database_url, another_database_url, tmp_path
):
    with get_engine(app).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    file = tmp_path / "future.backup"
    assert run(database_url, "backup", str(file)).exit_code == 0
    target = app_on(another_database_url)
    before = snapshot(another_database_url)

    refused = run(another_database_url, "restore", "--yes", str(file))

    assert refused.exit_code != 0
    assert "comes from a newer version of the registry" in refused.output
    assert "9999_from_the_future" in refused.output
    assert snapshot(another_database_url) == before
    assert target.test_client().get("/").status_code == 200


def test_restore_asks_first_and_answering_no_changes_nothing(history, database_url, tmp_path):
    file = tmp_path / "registry.backup"
    assert run(database_url, "backup", str(file)).exit_code == 0
    delete_tag(history, "psychosis")
    before = snapshot(database_url)

    declined = CliRunner().invoke(
        main, ["restore", str(file)], input="n\n",
        env={"DATABASE_URL": database_url, "SECRET_KEY": "test-secret"},
    )  # fmt: skip

    assert declined.exit_code != 0
    assert "Replace everything in" in declined.output
    assert snapshot(database_url) == before


def test_backup_never_overwrites_a_file_without_force(app, database_url, tmp_path):
    file = tmp_path / "registry.backup"
    file.write_text("last night's backup")

    refused = run(database_url, "backup", str(file))
    assert refused.exit_code != 0
    assert "already exists" in refused.output and "--force" in refused.output
    assert file.read_text() == "last night's backup"

    replaced = run(database_url, "backup", "--force", str(file))
    assert replaced.exit_code == 0, replaced.output
    assert file.read_bytes()[:5] in (b"SQLit", b"PGDMP")


def test_a_backup_of_a_database_without_a_registry_fails_and_writes_no_file(
    backend, fresh_database_url, tmp_path
):
    """A DATABASE_URL pointing at the wrong place: no SQLite file, or an empty PostgreSQL database."""
    file = tmp_path / "registry.backup"

    failed = run(fresh_database_url, "backup", str(file))

    assert failed.exit_code != 0
    assert "there is no database at" in failed.output or "holds no registry" in failed.output
    assert "Traceback" not in failed.output
    assert list(tmp_path.iterdir()) == []  # no backup, no partial file, no new database


@ON_POSTGRESQL  # pg_dump backs up PostgreSQL only
def test_a_failed_pg_dump_leaves_no_file(app, database_url, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pg_dump"
    # Half an archive, then an error, as when the connection drops or the disk fills mid-dump.
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case $a in --file=*) printf PGDMPhalf > "${a#--file=}";; esac; done\n'
        "echo 'pg_dump: error: connection to server lost' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()

    failed = run(database_url, "backup", str(out / "registry.backup"),
                 PATH=f"{bin_dir}:{os.environ['PATH']}")  # fmt: skip

    assert failed.exit_code != 0
    assert "pg_dump failed: pg_dump: error: connection to server lost" in failed.output
    assert list(out.iterdir()) == []


def test_a_damaged_backup_leaves_the_database_as_it_was(history, database_url, tmp_path):
    file = tmp_path / "registry.backup"
    assert run(database_url, "backup", str(file)).exit_code == 0
    whole = file.read_bytes()
    file.write_bytes(whole[: len(whole) * 2 // 3])  # cut short, as by a full disk or a bad copy
    delete_tag(history, "psychosis")
    before = snapshot(database_url)

    failed = run(database_url, "restore", "--yes", str(file))

    assert failed.exit_code != 0
    assert "Traceback" not in failed.output
    assert snapshot(database_url) == before


# Fails the restore part way through, after the old tables are dropped and new ones made.
REFUSE_USER_ACCOUNT = [
    "CREATE SCHEMA testing",
    """CREATE FUNCTION testing.refuse() RETURNS event_trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                   WHERE object_identity = 'public.user_account') THEN
            RAISE EXCEPTION 'user_account refused by the test';
        END IF;
    END $$""",
    "CREATE EVENT TRIGGER refuse ON ddl_command_end WHEN TAG IN ('CREATE TABLE') "
    "EXECUTE FUNCTION testing.refuse()",
]


@ON_POSTGRESQL  # SQLite's backup API cannot be made to fail part way from outside
def test_a_restore_that_fails_part_way_changes_nothing(history, database_url, tmp_path):
    file = tmp_path / "registry.backup"
    assert run(database_url, "backup", str(file)).exit_code == 0
    delete_tag(history, "psychosis")
    with get_engine(history).begin() as connection:
        for statement in REFUSE_USER_ACCOUNT:
            connection.execute(text(statement))
    before = snapshot(database_url)

    failed = run(database_url, "restore", "--yes", str(file))

    assert failed.exit_code != 0
    assert "user_account refused by the test" in failed.output
    assert snapshot(database_url) == before
    assert "Mood Diary App" in history.test_client().get("/?q=mood").get_data(as_text=True)

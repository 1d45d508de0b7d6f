"""The seed registry and its loader: real data, validated, loaded once, all or nothing."""

from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from registry.cli._common import prepare_database
from registry.config import default_seed_file
from registry.db import get_engine
from registry.exchange.seed import SeedError, load, parse_csv, read_csv
from registry.models import AuditEvent, Resource
from registry.vocab import State

HEADER = (
    "name,url,kind,provider,description,conditions,audience,cost,platforms,ios_url,android_url,"
    "works_offline,low_data,languages,moderation,crisis_signposting,evidence,source\n"
)


def _count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_the_shipped_seed_has_forty_valid_entries_each_with_a_source():
    rows = read_csv(default_seed_file())
    assert len(rows) >= 40
    assert all(data.source for _line, data in rows), (
        "every seed entry says where its facts came from"
    )
    assert {data.kind.value for _line, data in rows} >= {"website", "forum", "helpline", "app"}


def test_every_seed_entry_starts_unreviewed(make_app):
    app = make_app(seed=default_seed_file())
    with Session(get_engine(app)) as session:
        states = set(session.exec(select(Resource.state)).all())
        assert states == {State.SUGGESTED.value}
        assert (
            session.exec(
                select(func.count()).select_from(Resource).where(Resource.decision.is_not(None))
            ).one()
            == 0
        )


def test_loading_the_seed_twice_changes_nothing(app, session):
    before = (_count(session, Resource), _count(session, AuditEvent))
    assert load(session, Path(app.config["REGISTRY_SEED_FILE"])) == 0
    assert prepare_database(app, seed=True) is None  # the marker says it was loaded
    assert (_count(session, Resource), _count(session, AuditEvent)) == before == (4, 4)


def test_each_seeded_entry_has_an_audit_entry_naming_the_seed_loader(session):
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "created")).all()
    assert len(events) == 4
    assert {event.actor_label for event in events} == {"seed loader"}
    first = next(e for e in events if e.changes["name"][1] == "Mood Diary App")
    assert first.changes["platforms"] == [None, ["android", "ios"]]


def test_seeded_entries_are_suggested_by_seed_data_not_by_an_account(session):
    suggesters = set(session.exec(select(Resource.suggested_by_id, Resource.suggested_by_label)))
    assert suggesters == {(None, "seed data")}


def test_a_bad_row_is_named_by_line_and_field():
    text = HEADER + (
        "Good,https://good.example.org/,website,,,,,,,,,,,,,,,\n"
        "Bad kind,https://bad.example.org/,blog,,,,,,,,,,,,,,,\n"
        "Bad url,notaurl,app,,,,,,,,,,,,,,,\n"
        ",https://noname.example.org/,app,,,psychosis;flu,,,,,,maybe,,,,,,\n"
        "No kind,https://nokind.example.org/,,,,,,,,,,,,,,,,\n"
    )
    rows, errors = parse_csv(text)
    assert [line for line, _ in rows] == [2]
    found = {(e.line, e.field) for e in errors}
    assert found == {
        (3, "kind"), (4, "url"), (5, "name"), (5, "conditions"), (5, "works_offline"), (6, "kind")
    }  # fmt: skip
    messages = {(e.line, e.field): e.message for e in errors}
    assert "'flu'" in messages[(5, "conditions")]
    assert messages[(5, "name")] == "is required"
    assert messages[(6, "kind")].startswith("is required: 'app', 'forum'")
    assert messages[(3, "kind")].startswith("Input should be 'app'")  # there, but not a kind


def test_a_file_with_one_bad_row_loads_nothing(session, tmp_path):
    path = tmp_path / "team.csv"
    good = "New one,https://new.example.org/,website,,,,,,,,,,,,,,,\n"
    bad = "Broken,https://broken.example.org/,website,,,,,,,,,,,,nonsense,,,\n"
    path.write_text(HEADER + good + bad)
    before = _count(session, Resource)
    with pytest.raises(SeedError) as raised:
        load(session, path)
    assert "line 3, moderation" in str(raised.value)
    assert "nothing was loaded" in str(raised.value)
    assert _count(session, Resource) == before


def test_a_file_without_a_required_column_is_refused_before_any_row(tmp_path):
    path = tmp_path / "team.csv"
    path.write_text("name,kind\nSomething,website\n")
    with pytest.raises(SeedError, match="header, url: is a required column"):
        read_csv(path)


def test_a_spreadsheet_export_with_bom_crlf_and_odd_header_case_reads(tmp_path):
    path = tmp_path / "team.csv"
    header = HEADER.replace("name,url,kind", " Name ,URL,Kind")
    row = "Spaced , https://spaced.example.org ,WEBSITE,,,bipolar ; psychosis,,,,,,,,,,,,\n"
    path.write_bytes(("\ufeff" + header + row).replace("\n", "\r\n").encode("utf-8"))
    [(line, data)] = read_csv(path)
    assert (line, data.name, data.url, data.kind.value) == (
        2,
        "Spaced",
        "https://spaced.example.org/",
        "website",
    )
    assert data.conditions == ["bipolar", "psychosis"]


def test_the_same_resource_twice_in_one_file_is_an_error():
    text = HEADER + "A,https://www.same.example.org/,website,,,,,,,,,,,,,,,\n" \
                    "B,http://same.example.org,website,,,,,,,,,,,,,,,\n"  # fmt: skip
    _rows, errors = parse_csv(text)
    assert [(e.line, e.field) for e in errors] == [(3, "url")]
    assert "line 2" in errors[0].message


def test_a_file_that_is_not_utf8_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "Caf\xe9,https://cafe.example.org/,website,,,,,,,,,,,,,,,\n").encode("latin-1")
    )
    with pytest.raises(SeedError, match="is not UTF-8"):
        read_csv(path)

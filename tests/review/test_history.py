"""History is kept: audit entries are never rewritten, and edits never collide silently."""

import pytest
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from registry.audit import HistoryIsImmutable
from registry.db import get_engine
from registry.models import AuditEvent, Resource


def test_an_audit_entry_cannot_be_changed(session):
    event = session.exec(select(AuditEvent)).first()
    event.reason = "rewritten"
    with pytest.raises(HistoryIsImmutable):
        session.commit()


def test_an_audit_entry_cannot_be_deleted(session):
    session.delete(session.exec(select(AuditEvent)).first())
    with pytest.raises(HistoryIsImmutable):
        session.commit()


def test_a_second_edit_from_a_stale_copy_fails_instead_of_overwriting(app):
    engine = get_engine(app)
    with Session(engine) as first, Session(engine) as second:
        mine = first.exec(select(Resource).where(Resource.name == "Mood Diary App")).one()
        entry_id = mine.id
        theirs = second.get(Resource, entry_id)
        mine.description = "First reviewer's wording"
        first.commit()
        theirs.description = "Second reviewer's wording"
        with pytest.raises(StaleDataError):
            second.commit()
    with Session(engine) as check:
        saved = check.get(Resource, entry_id)
        assert (saved.description, saved.version) == ("First reviewer's wording", 2)

"""The registry's tables: entries and tags, reviews, accounts, checks, reports, the audit log."""

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, Relationship, SQLModel

from registry.db import utcnow
from registry.vocab import State, label


def _timestamp(**kwargs: Any) -> Any:
    """A timezone-aware timestamp column that defaults to now."""
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


class User(SQLModel, table=True):
    """A staff account: clinician, reviewer or admin."""

    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str | None = Field(default=None, max_length=200)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=20)
    active: bool = True
    # A one-time password must be replaced at the first sign-in.
    must_change_password: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Bumped to end every session of the account (password change, disabling).
    session_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    created_at: datetime = _timestamp()
    last_login_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Resource(SQLModel, table=True):
    """An entry in the registry: an app, forum, website or helpline."""

    __table_args__ = (Index("ix_resource_state_name", "state", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    url: str = Field(max_length=2000)
    # The URL reduced to what identifies the resource (no scheme, no www., no trailing slash).
    url_key: str = Field(max_length=2000, sa_column_kwargs={"unique": True})
    kind: str = Field(max_length=20, index=True)
    provider: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, sa_type=Text)
    cost: str | None = Field(default=None, max_length=20)
    ios_url: str | None = Field(default=None, max_length=2000)
    android_url: str | None = Field(default=None, max_length=2000)
    # Phone and text numbers, as checks.contacts keeps them: "116 123", "text 85258".
    phone_numbers: list[str] = Field(
        default_factory=list, sa_type=JSON, sa_column_kwargs={"server_default": "[]"}
    )
    works_offline: bool | None = None
    low_data: bool | None = None
    moderation: str | None = Field(default=None, max_length=20)
    crisis_signposting: bool | None = None
    evidence: str | None = Field(default=None, sa_type=Text)
    source: str | None = Field(default=None, sa_type=Text)

    state: str = Field(default=State.SUGGESTED.value, max_length=30)
    decision: str | None = Field(default=None, max_length=30)
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    review_due: date | None = None
    suggested_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    # Who suggested it when no account did: "seed data" (the decision is anyone's but theirs).
    suggested_by_label: str | None = Field(default=None, max_length=100)

    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()

    tags: list["ResourceTag"] = Relationship(
        back_populates="resource",
        sa_relationship_kwargs={"cascade": "all, delete-orphan", "lazy": "selectin"},
    )

    # Optimistic locking: an UPDATE whose version no longer matches raises StaleDataError.
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version.sa_column}  # type: ignore[attr-defined]

    def values(self, facet: str) -> list[str]:
        """Return the entry's values for a list facet (condition, audience, platform, language)."""
        return sorted((tag.value for tag in self.tags if tag.facet == facet), key=label)


class ResourceTag(SQLModel, table=True):
    """One value of an entry's list field: a condition, audience, platform or language."""

    __tablename__ = "resource_tag"
    __table_args__ = (Index("ix_resource_tag_facet_value", "facet", "value"),)

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    )
    facet: str = Field(max_length=20, primary_key=True)
    value: str = Field(max_length=40, primary_key=True)

    resource: Resource = Relationship(back_populates="tags")


class Review(SQLModel, table=True):
    """A reviewer's decision on an entry, with its rubric and rationale; never edited."""

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    reviewer_id: int = Field(foreign_key="user_account.id")
    decision: str = Field(max_length=30)
    rationale: str = Field(sa_type=Text)
    cautions: str | None = Field(default=None, sa_type=Text)
    rubric: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    valid_until: date
    # The check result the reviewer saw beside the rubric, if there was one.
    check_result_id: int | None = Field(default=None, foreign_key="check_result.id")
    supersedes_id: int | None = Field(default=None, foreign_key="review.id")
    # Which step of a decision this row is (registry.vocab.Stage); only some stages stand.
    stage: str = Field(
        default="decision", max_length=20, sa_column_kwargs={"server_default": "decision"}
    )
    # The proposal that a confirmation, disagreement, settlement or withdrawal answers.
    responds_to_id: int | None = Field(default=None, foreign_key="review.id", index=True)
    created_at: datetime = _timestamp()


class CheckRun(SQLModel, table=True):
    """One run of the checks over the registry."""

    __tablename__ = "check_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _timestamp()
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    status: str = Field(default="running", max_length=20)
    trigger: str = Field(default="manual", max_length=20)
    host: str | None = Field(default=None, max_length=255)
    pid: int | None = None
    total: int = 0
    passed: int = 0
    warned: int = 0
    failed: int = 0


class CheckResult(SQLModel, table=True):
    """What one run found for one entry; never overwritten."""

    __tablename__ = "check_result"
    __table_args__ = (
        UniqueConstraint("run_id", "resource_id", name="uq_check_result_run_resource"),
        Index("ix_check_result_resource_checked", "resource_id", "checked_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="check_run.id")
    resource_id: int = Field(foreign_key="resource.id")
    checked_at: datetime = _timestamp()
    url: str = Field(max_length=2000)
    final_url: str | None = Field(default=None, max_length=2000)
    verdict: str = Field(max_length=10)
    liveness_status: str = Field(max_length=20)
    https_status: str = Field(max_length=30)
    privacy_status: str = Field(max_length=20)
    policy_fingerprint: str | None = Field(default=None, max_length=64)
    # How the fingerprint was taken (checks.FINGERPRINT_SCHEME): only one scheme's are compared.
    policy_scheme: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    report: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class PolicyText(SQLModel, table=True):
    """A privacy policy's main text, kept once per fingerprint, to show reviewers what changed."""

    __tablename__ = "policy_text"

    fingerprint: str = Field(sa_column=Column(String(64), primary_key=True))
    text: str = Field(sa_type=Text)
    first_seen_at: datetime = _timestamp()


class ProblemReport(SQLModel, table=True):
    """A clinician's report of a problem with an entry, and how it was resolved."""

    __tablename__ = "problem_report"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    reporter_id: int = Field(foreign_key="user_account.id")
    reason: str = Field(max_length=40)
    note: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="open", max_length=20)
    created_at: datetime = _timestamp()
    resolved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    resolved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    resolution: str | None = Field(default=None, sa_type=Text)


class AuditEvent(SQLModel, table=True):
    """One change to the registry: who, when, what (before and after per field) and why."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _timestamp()
    actor_id: int | None = Field(default=None, foreign_key="user_account.id")
    # Who acted when it was not a signed-in person: "seed loader", "nightly check", a CLI user.
    actor_label: str | None = Field(default=None, max_length=100)
    entity: str = Field(max_length=30)
    entity_id: int
    action: str = Field(max_length=30)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    reason: str | None = Field(default=None, sa_type=Text)


class RunLock(SQLModel, table=True):
    """A named lock in the database: one check run at a time, whatever process starts it."""

    __tablename__ = "run_lock"

    name: str = Field(sa_column=Column(String(50), primary_key=True))
    holder: str = Field(max_length=255)
    acquired_at: datetime = _timestamp()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


class Meta(SQLModel, table=True):
    """Facts about this database itself, such as when the seed data was loaded."""

    key: str = Field(sa_column=Column(String(50), primary_key=True))
    value: str = Field(sa_type=Text)


class GuidancePage(SQLModel, table=True):
    """A page of guidance for staff, in Markdown; an admin's edit replaces the shipped text."""

    __tablename__ = "guidance_page"

    slug: str = Field(sa_column=Column(String(60), primary_key=True))
    title: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    updated_at: datetime = _timestamp()
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")


class ApiToken(SQLModel, table=True):
    """A secret that lets a program read the API as an account; only its hash is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=100)
    # sha256 hex of the secret: a stolen database gives no usable token.
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _timestamp()
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class SignInAttempt(SQLModel, table=True):
    """One sign-in attempt, kept for rate limiting that holds across processes and hosts."""

    __tablename__ = "sign_in_attempt"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _timestamp(index=True)
    account: str = Field(max_length=254, index=True)
    address: str = Field(max_length=64, index=True)
    succeeded: bool = False


# Rows of these tables are history: they may be added, never changed or removed.
APPEND_ONLY: tuple[type[SQLModel], ...] = (AuditEvent, Review, CheckResult)

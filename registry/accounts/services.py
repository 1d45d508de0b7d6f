"""Staff accounts: creating them, their passwords and roles, and checking a sign-in."""

import re
import secrets

from sqlmodel import Session, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from registry import audit
from registry.db import utcnow
from registry.models import User
from registry.vocab import Role

MIN_PASSWORD_LENGTH = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Compared against when the account does not exist, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A request about an account that cannot be done; the message says why."""


def normalise_email(email: str) -> str:
    """Return email trimmed and lower-cased, or raise AccountError if it is not an address."""
    value = (email or "").strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise AccountError(f"“{email}” is not an email address.")
    return value


def check_password_rules(password: str) -> None:
    """Raise AccountError if password is too weak to use."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")


def one_time_password() -> str:
    """Return a random password for a new account, to be changed at first sign-in."""
    return secrets.token_urlsafe(12)


def find(session: Session, email: str) -> User | None:
    """Return the account with this email address, if any."""
    value = (email or "").strip().lower()
    return session.exec(select(User).where(func.lower(User.email) == value)).first()


def create(
    session: Session,
    *,
    email: str,
    role: str,
    password: str,
    one_time: bool,
    name: str | None = None,
    by: User | None = None,
) -> User:
    """Add an account; a one-time password must be changed at the first sign-in."""
    address = normalise_email(email)
    if role not in {r.value for r in Role}:
        raise AccountError(f"“{role}” is not a role; use clinician, reviewer or admin.")
    if find(session, address) is not None:
        raise AccountError(f"There is already an account for {address}.")
    check_password_rules(password)
    user = User(
        email=address,
        name=(name or "").strip() or None,
        role=role,
        password_hash=generate_password_hash(password),
        must_change_password=one_time,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        entity="user",
        entity_id=user.id,
        action="created",
        changes={"email": [None, address], "role": [None, role]},
        actor_id=by.id if by else None,
        actor_label=None if by else "command line",
        reason="account created",
    )
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the active account these credentials open, or None (the same for every failure)."""
    user = find(session, email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    user.last_login_at = utcnow()
    session.add(user)
    return user


def set_password(
    session: Session, user: User, password: str, *, by: User | None, one_time: bool = False
) -> None:
    """Replace a password and end the account's other sessions."""
    check_password_rules(password)
    user.password_hash = generate_password_hash(password)
    user.must_change_password = one_time
    user.session_version += 1
    session.add(user)
    audit.record(
        session, entity="user", entity_id=user.id, action="password_changed",
        actor_id=by.id if by else None, actor_label=None if by else "command line",
        reason="one-time password issued" if one_time else "password changed",
    )  # fmt: skip


def update(session: Session, user: User, *, by: User, role: str, active: bool) -> None:
    """Change an account's role or whether it may sign in; an admin cannot lock themself out."""
    if role not in {r.value for r in Role}:
        raise AccountError(f"“{role}” is not a role.")
    if user.id == by.id and (role != Role.ADMIN or not active):
        raise AccountError("You cannot remove your own admin role or disable your own account.")
    changes = audit.diff(
        {"role": user.role, "active": user.active}, {"role": role, "active": active}
    )
    if not changes:
        return
    user.role, user.active = role, active
    if not active:
        user.session_version += 1  # signs the account out everywhere
    session.add(user)
    audit.record(
        session, entity="user", entity_id=user.id, action="updated", changes=changes,
        actor_id=by.id, reason="account changed by an administrator",
    )  # fmt: skip

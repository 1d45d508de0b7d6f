"""API tokens: made for an account, shown once, kept only as a hash, revocable."""

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, select

from registry import audit
from registry.accounts import services as accounts
from registry.db import aware, utcnow
from registry.models import ApiToken, User

PREFIX = "smireg_"
# last_used_at is written at most this often, so reading the API is not a write per request.
TOUCH_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """A request about a token that cannot be done; the message says why."""


def digest(secret: str) -> str:
    """Return the sha256 hex digest under which a secret is stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create(
    session: Session, *, email: str, name: str | None = None, actor_label: str = "command line"
) -> tuple[ApiToken, str]:
    """Make a token for the account with this email; return it and its secret (shown once)."""
    user = accounts.find(session, email)
    if user is None:
        raise TokenError(f"There is no account for {email}; add one with `registry user add`.")
    if not user.active:
        raise TokenError(f"The account {user.email} is disabled, so its tokens would not work.")
    label = (name or "").strip()[:100] or "API token"
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=label, token_hash=digest(secret))
    session.add(token)
    session.flush()
    audit.record(
        session, entity="api_token", entity_id=token.id, action="created",
        changes={"user": [None, user.email], "name": [None, label]},
        actor_label=actor_label, reason="API token created",
    )  # fmt: skip
    return token, secret


def revoke(session: Session, token_id: int, *, actor_label: str = "command line") -> ApiToken:
    """Stop a token working at once; revoking it twice changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise TokenError(f"There is no token with id {token_id}; `registry token list` shows them.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        audit.record(
            session, entity="api_token", entity_id=token_id, action="revoked",
            actor_label=actor_label, reason="API token revoked",
        )  # fmt: skip
    return token


def tokens(email: str | None = None):
    """Return a statement for the tokens and their accounts, of one account or all, oldest first."""
    stmt = select(ApiToken, User).join(User, User.id == ApiToken.user_id)  # type: ignore[arg-type]
    if email:
        stmt = stmt.where(User.email == email.strip().lower())
    return stmt.order_by(ApiToken.id)


def account_for(session: Session, secret: str) -> User | None:
    """Return the active account a secret opens, or None if it is unknown, revoked or disabled."""
    found = session.exec(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)  # type: ignore[arg-type]
        .where(ApiToken.token_hash == digest(secret), ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if found is None:
        return None
    token, user = found
    if not user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - aware(token.last_used_at) > TOUCH_EVERY:
        token.last_used_at = now
        session.add(token)
        session.commit()
    return user

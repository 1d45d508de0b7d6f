"""How each check result's policy fingerprint was taken.

`check_result.policy_scheme` is `checks.FINGERPRINT_SCHEME` at the time of the check. The
results kept before this revision were all fingerprinted by html.parser: scheme 1. A policy is
compared only with fingerprints of its own scheme, so the first check after the parser changed
is a new baseline rather than a "policy changed" for every page whose markup it repairs anew.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN with a default: every earlier row is scheme 1, and no table is rebuilt.
    op.add_column(
        "check_result",
        sa.Column("policy_scheme", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    op.drop_column("check_result", "policy_scheme")  # SQLite 3.35 and newer drop in place

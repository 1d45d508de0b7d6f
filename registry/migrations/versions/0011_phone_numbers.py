"""Entries' phone and text numbers.

`resource.phone_numbers` is a JSON list of the numbers an entry gives, as `checks.contacts`
keeps them ("116 123", "0800 068 4141", "text 85258"). Every earlier entry has none.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild of the table would drop its search triggers.
    op.add_column(
        "resource", sa.Column("phone_numbers", sa.JSON(), nullable=False, server_default="[]")
    )


def downgrade() -> None:
    op.drop_column("resource", "phone_numbers")  # SQLite 3.35 and newer drop in place

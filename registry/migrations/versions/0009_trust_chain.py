"""Who suggested an entry when no account did, and the privacy policies' text.

An entry loaded from the seed or another source without an account names its suggester in
`suggested_by_label` ("seed data"). `policy_text` keeps each distinct policy text once, by its
fingerprint, so a reviewer can be shown what changed between two checks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild of the table would drop its search triggers.
    op.add_column(
        "resource",
        sa.Column(
            "suggested_by_label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True
        ),
    )
    # Entries added before: the seed's are suggested by "seed data", an import's by its label.
    op.execute(
        "UPDATE resource SET suggested_by_label = (SELECT CASE a.actor_label "
        "WHEN 'seed loader' THEN 'seed data' ELSE a.actor_label END FROM audit_event a "
        "WHERE a.entity = 'resource' AND a.entity_id = resource.id AND a.action = 'created' "
        "ORDER BY a.id LIMIT 1) WHERE suggested_by_id IS NULL"
    )
    op.create_table(
        "policy_text",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("policy_text")
    op.drop_column("resource", "suggested_by_label")  # SQLite 3.35 and newer drop in place

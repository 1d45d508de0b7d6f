"""Two-person decisions: each review row says what step it was, and which proposal it answers.

`review.stage` is one of decision (a single reviewer's, it stands), proposal (waits for a
second reviewer), confirmation and settlement (they stand), disagreement (waits for a third
reviewer) and withdrawn (closes a proposal). `review.responds_to_id` names the proposal that a
confirmation, disagreement, settlement or withdrawal answers. Every earlier row was a decision
that stood.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: nothing rewrites the rows, which are history.
    op.add_column(
        "review",
        sa.Column("stage", sa.String(length=20), nullable=False, server_default="decision"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # Alembic would add the foreign key apart, which SQLite cannot; it can in the column.
        op.execute("ALTER TABLE review ADD COLUMN responds_to_id INTEGER REFERENCES review (id)")
    else:
        op.add_column(
            "review", sa.Column("responds_to_id", sa.Integer(), sa.ForeignKey("review.id"))
        )
    op.create_index("ix_review_responds_to_id", "review", ["responds_to_id"])


def downgrade() -> None:
    op.drop_index("ix_review_responds_to_id", table_name="review")
    # On SQLite a column in a foreign key cannot be dropped in place: the batch rebuilds the table.
    with op.batch_alter_table("review") as batch:
        batch.drop_column("responds_to_id")
        batch.drop_column("stage")

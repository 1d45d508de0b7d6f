"""Drop the database's full-text index: the catalogue matches and ranks words in memory now.

Since 213d650 the words index of each web process (registry/catalogue/words.py) finds and ranks
what was typed, the same on both databases, and nothing reads SQLite's resource_fts or
PostgreSQL's resource_search any more. Their triggers still rebuilt an entry's document on
every change to it or its tags, for nobody. This drops the tables, their triggers and, on
PostgreSQL, their functions; the unaccent extension stays (other things may use it). A
downgrade builds the index again from the entries, as 0004 did.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0004():
    """Load migration 0004, whose upgrade and downgrade make and drop the index."""
    path = Path(__file__).with_name("0004_full_text_search.py")
    spec = importlib.util.spec_from_file_location("registry_migration_0004", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def upgrade() -> None:
    _revision_0004().downgrade()


def downgrade() -> None:
    _revision_0004().upgrade()

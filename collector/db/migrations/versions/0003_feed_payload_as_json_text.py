"""The change feed's payload as PostgreSQL ``json`` (text kept as written), not ``jsonb``.

The pull streams payloads as they are stored; rendering 100,000 JSONB values back to text was most of
a PostgreSQL pull. Nothing queries inside a payload. SQLite stores JSON as text already: no change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 11:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE changes ALTER COLUMN payload TYPE json USING payload::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE changes ALTER COLUMN payload TYPE jsonb USING payload::jsonb")

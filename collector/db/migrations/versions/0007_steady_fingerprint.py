"""The steady night (issue 15): a site remembers the report that last wrote its state and, when that
report changed nothing, a fingerprint of what it said, so the same report again skips the lifecycle.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("steady_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("steady_report_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("steady_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("steady_seen_at")
        batch_op.drop_column("steady_report_id")
        batch_op.drop_column("steady_fingerprint")

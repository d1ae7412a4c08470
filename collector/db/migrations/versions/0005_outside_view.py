"""The outside view (issue 14): a site's declared public addresses and who authorised them; an agent's vantage.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_addresses", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("public_authorized_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("public_authorized_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vantage", sa.String(length=16), nullable=False, server_default="internal"))
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("internet_exposed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("internet_exposed")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("vantage")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("public_authorized_at")
        batch_op.drop_column("public_authorized_by")
        batch_op.drop_column("public_addresses")

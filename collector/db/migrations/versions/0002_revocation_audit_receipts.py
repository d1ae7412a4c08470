"""Revocation and expiry of credentials, last use, the audit of reads, the collector's receipt key,
reports an agent holds aside, and a digest of each finding's JSON (bulk ingest skips unchanged ones).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_WHEN = ("revoked_at", "expires_at", "last_used_at")


def upgrade() -> None:
    with op.batch_alter_table("reader_keys") as batch:
        for col in _WHEN:
            batch.add_column(sa.Column(col, sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("agents") as batch:
        for col in _WHEN:
            batch.add_column(sa.Column(col, sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("enrollment_tokens") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("data_digest", sa.String(length=64), nullable=True))
    op.create_table(
        "read_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=True),
        sa.Column("site_id", sa.String(length=32), nullable=True),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_audit")),
    )
    op.create_index("ix_read_audit_client_at", "read_audit", ["client_id", "at"])
    op.create_index(op.f("ix_read_audit_key_id"), "read_audit", ["key_id"])
    op.create_table(
        "collector_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collector_keys")),
    )
    op.create_table(
        "held_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("report_hash", sa.String(length=64), nullable=False),
        sa.Column("held_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_held_reports_agent_id_agents")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_held_reports_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_reports")),
        sa.UniqueConstraint("agent_id", "report_id", name="uq_held_reports_agent_report"),
    )
    op.create_index(op.f("ix_held_reports_client_id"), "held_reports", ["client_id"])


def downgrade() -> None:
    op.drop_table("held_reports")
    op.drop_table("collector_keys")
    op.drop_index(op.f("ix_read_audit_key_id"), table_name="read_audit")
    op.drop_index("ix_read_audit_client_at", table_name="read_audit")
    op.drop_table("read_audit")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("data_digest")
    with op.batch_alter_table("enrollment_tokens") as batch:
        batch.drop_column("revoked_at")
    for table in ("agents", "reader_keys"):
        with op.batch_alter_table(table) as batch:
            for col in reversed(_WHEN):
                batch.drop_column(col)

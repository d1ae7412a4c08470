"""Initial schema: tenancy, reports, lifecycle state, change feed, webhook outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-30 04:11:08.463285
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "clients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("webhook_secret", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("name", name=op.f("uq_clients_name")),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_changes_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_client_id_id", ["client_id", "id"], unique=False)

    op.create_table(
        "reader_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_reader_keys_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reader_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_reader_keys_key_hash")),
    )
    with op.batch_alter_table("reader_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reader_keys_client_id"), ["client_id"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_sites_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("client_id", "name", name="uq_sites_client_name"),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_client_id"), ["client_id"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_webhook_deliveries_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_status", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_report_id", sa.String(length=36), nullable=True),
        sa.Column("last_report_hash", sa.String(length=64), nullable=True),
        sa.Column("last_report_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_agents_client_id_clients")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_agents_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("credential_hash", name=op.f("uq_agents_credential_hash")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agents_site_id"), ["site_id"], unique=False)

    op.create_table(
        "assets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_agent_id", sa.String(length=32), nullable=False),
        sa.Column("last_report_id", sa.String(length=36), nullable=False),
        sa.Column("changed_by_report_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_assets_client_id_clients")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_assets_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("site_id", "ip", name="uq_assets_site_ip"),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_client_id"), ["client_id"], unique=False)

    op.create_table(
        "enrollment_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_enrollment_tokens_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrollment_tokens_token_hash")),
    )
    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrollment_tokens_site_id"), ["site_id"], unique=False)

    op.create_table(
        "findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("ident", sa.String(length=200), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("exposure", sa.String(length=64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("proto", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("kev", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_agent_id", sa.String(length=32), nullable=False),
        sa.Column("last_report_id", sa.String(length=36), nullable=False),
        sa.Column("changed_by_report_id", sa.String(length=36), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_findings_client_id_clients")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_findings_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("site_id", "ident", name="uq_findings_site_ident"),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_client_site_status", ["client_id", "site_id", "status"], unique=False)

    op.create_table(
        "obligations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("framework", sa.String(length=100), nullable=False),
        sa.Column("requirement", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_report_id", sa.String(length=36), nullable=False),
        sa.Column("changed_by_report_id", sa.String(length=36), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_obligations_client_id_clients")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_obligations_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obligations")),
        sa.UniqueConstraint("site_id", "framework", "requirement", name="uq_obligations_site_req"),
    )
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_obligations_client_id"), ["client_id"], unique=False)

    op.create_table(
        "chain_gaps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("expected", sa.String(length=64), nullable=True),
        sa.Column("got", sa.String(length=64), nullable=True),
        sa.Column("explained_by_tombstone", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_chain_gaps_agent_id_agents")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_chain_gaps_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_gaps")),
    )
    with op.batch_alter_table("chain_gaps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_gaps_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_gaps_client_id"), ["client_id"], unique=False)

    op.create_table(
        "dropped_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("report_hash", sa.String(length=64), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_in_report", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_dropped_reports_agent_id_agents")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_dropped_reports_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dropped_reports")),
        sa.UniqueConstraint("agent_id", "report_id", name="uq_dropped_reports_agent_report"),
    )
    with op.batch_alter_table("dropped_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dropped_reports_client_id"), ["client_id"], unique=False)

    op.create_table(
        "reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("report_hash", sa.String(length=64), nullable=False),
        sa.Column("raw_report", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_report_hash", sa.String(length=64), nullable=True),
        sa.Column("chain_gap", sa.Boolean(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_reports_agent_id_agents")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_reports_client_id_clients")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_reports_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_site_id"), ["site_id"], unique=False)

    # The change feed's id source (collector/changes.py locks this row).
    op.execute("INSERT INTO counters (name, value) VALUES ('changes', 0)")


def downgrade() -> None:

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_site_id"))
        batch_op.drop_index(batch_op.f("ix_reports_client_id"))
        batch_op.drop_index(batch_op.f("ix_reports_agent_id"))

    op.drop_table("reports")
    with op.batch_alter_table("dropped_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dropped_reports_client_id"))

    op.drop_table("dropped_reports")
    with op.batch_alter_table("chain_gaps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_gaps_client_id"))
        batch_op.drop_index(batch_op.f("ix_chain_gaps_agent_id"))

    op.drop_table("chain_gaps")
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_obligations_client_id"))

    op.drop_table("obligations")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_client_site_status")

    op.drop_table("findings")
    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollment_tokens_site_id"))

    op.drop_table("enrollment_tokens")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_client_id"))

    op.drop_table("assets")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_site_id"))
        batch_op.drop_index(batch_op.f("ix_agents_client_id"))

    op.drop_table("agents")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_status")

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_client_id"))

    op.drop_table("sites")
    with op.batch_alter_table("reader_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reader_keys_client_id"))

    op.drop_table("reader_keys")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_client_id_id")

    op.drop_table("changes")
    op.drop_table("counters")
    op.drop_table("clients")

"""No index holds a row's last report (issue 15): the steady night rewrites ``last_seen_at`` and
``last_report_id`` of every row the previous report saw, and a column in an index makes each of
those updates an index update too; on PostgreSQL a row update that changes an indexed column is
written as a new row version in every index of the table (no heap-only update). The steady night's
"seen again" update reads the site's rows by the site (the rows the last report saw are most of
them), and the check that an agent left nothing unseen uses (site, agent, status). PostgreSQL keeps
30 % of each findings and assets page free, so those updates stay on their page (heap-only).

Measured on the 2-core machine (bench/collector_bench.py, alternated with 0008): PostgreSQL steady
104-110 -> 123-128 reports/s (the machine's CPU per report 15.7-16.6 -> 13.4-14.5 ms); SQLite steady
166-197 -> 180-195, new findings unchanged within the noise.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:45:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLES = ("findings", "assets")


def _marked_index(batch_op: Any, columns: list[str]) -> None:
    batch_op.create_index(
        "ix_findings_site_exposed",
        columns,
        unique=False,
        sqlite_where=sa.text("internet_exposed IS NOT NULL"),
        postgresql_where=sa.text("internet_exposed IS NOT NULL"),
    )


def upgrade() -> None:
    # The rows an outside view marked, by site and status: SQLite then prefers it to (site, agent,
    # status) for "any live marked row at this site?", asked at every inside report (with the site
    # alone in both, it took either, and the other one reads the whole site).
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_site_exposed")
        _marked_index(batch_op, ["site_id", "status"])
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_site_agent_status")
            batch_op.drop_index(f"ix_{table}_site_report")
            batch_op.create_index(f"ix_{table}_site_agent_status", ["site_id", "last_agent_id", "status"], unique=False)
        if op.get_bind().dialect.name == "postgresql":
            # New and updated rows keep the room; existing pages get it as they are rewritten.
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")


def downgrade() -> None:
    for table in _TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_site_agent_status")
            batch_op.create_index(f"ix_{table}_site_report", ["site_id", "last_report_id"], unique=False)
            batch_op.create_index(
                f"ix_{table}_site_agent_status", ["site_id", "last_agent_id", "status", "last_report_id"], unique=False
            )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_site_exposed")
        _marked_index(batch_op, ["site_id"])

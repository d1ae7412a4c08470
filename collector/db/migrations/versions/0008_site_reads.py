"""Index-driven site reads (issue 15): findings and assets carry their address as a 16-byte key that
sorts like the address (IPv4 as IPv4-mapped IPv6), indexed with the site, so a report's resolve
candidates are one index range per scanned network; and a partial index of the findings an outside
view marked, so "none at this site" is answered without reading the site; and (site, last report)
and (site, agent, status, last report) indexes, so the steady night's "seen again" update and the
check that an agent left nothing unseen read index ranges, not the site.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 06:15:00
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 1000


def _key(ip: str) -> bytes:
    """``rows.ip_key`` as of this revision (a migration keeps its own copy: the code may move on)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv4Address):
        return b"\x00" * 10 + b"\xff\xff" + addr.packed
    return addr.packed


def _backfill(table: str) -> None:
    conn = op.get_bind()
    t = sa.table(table, sa.column("id", sa.BigInteger), sa.column("ip", sa.String), sa.column("ip_key", sa.LargeBinary))
    stmt = sa.update(t).where(t.c.id == sa.bindparam("k_id")).values(ip_key=sa.bindparam("k_key"))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(t.c.id, t.c.ip).where(t.c.id > last, t.c.ip_key.is_(None)).order_by(t.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        conn.execute(stmt, [{"k_id": i, "k_key": _key(ip)} for i, ip in rows])
        last = rows[-1][0]


def upgrade() -> None:
    for table in ("findings", "assets"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("ip_key", sa.LargeBinary(length=16), nullable=True))
        _backfill(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("ip_key", existing_type=sa.LargeBinary(length=16), nullable=False)
            batch_op.create_index(f"ix_{table}_site_ip_key", ["site_id", "ip_key"], unique=False)
            batch_op.create_index(f"ix_{table}_site_report", ["site_id", "last_report_id"], unique=False)
            batch_op.create_index(
                f"ix_{table}_site_agent_status", ["site_id", "last_agent_id", "status", "last_report_id"], unique=False
            )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_findings_site_exposed",
            ["site_id"],
            unique=False,
            sqlite_where=sa.text("internet_exposed IS NOT NULL"),
            postgresql_where=sa.text("internet_exposed IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_site_exposed")
    for table in ("assets", "findings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_site_agent_status")
            batch_op.drop_index(f"ix_{table}_site_report")
            batch_op.drop_index(f"ix_{table}_site_ip_key")
            batch_op.drop_column("ip_key")

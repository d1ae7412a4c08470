"""Tenancy's small leaks (issue 15): per-client id keys, report ids unique per client, per-agent
receipt sequence, signed tombstones.

- ``id_keys``: one secret per client (and one for the all-clients scope) that turns internal row
  ids into opaque ids and cursors (``collector/ids.py``): made here for every existing client
  (``add-client`` makes a new client's; the all-clients one is made on first use).
- ``reports``: primary key (client_id, id) instead of (id): another tenant's report id is unrelated.
- ``reports.sequence``: renumbered as each agent's report number (1, 2, …), no longer the global
  feed id that showed every other tenant's activity in the gaps. Receipts an agent already holds
  keep the number they were signed with; ``GET /v1/reports/{id}`` re-signs the new one.
- ``dropped_reports.signature``: the agent's signature over the tombstone (None for older rows).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "id_keys",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_id_keys")),
    )
    conn = op.get_bind()
    now = datetime.now(UTC)
    keys = [
        {"s": cid, "k": base64.b64encode(os.urandom(32)).decode(), "t": now}
        for (cid,) in conn.execute(sa.text("SELECT id FROM clients")).all()
    ]
    if keys:
        conn.execute(sa.text("INSERT INTO id_keys (scope, secret, created_at) VALUES (:s, :k, :t)"), keys)
    with op.batch_alter_table("dropped_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=100), nullable=True))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint("pk_reports", type_="primary")
        batch_op.create_primary_key("pk_reports", ["client_id", "id"])
    _renumber()


def _renumber() -> None:
    """Each agent's reports numbered 1, 2, … in the order they were stored (the old global order).

    Computed here, not by one correlated UPDATE: SQLite may let such an UPDATE see its own new values."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT client_id, id, agent_id FROM reports ORDER BY agent_id, sequence")).all()
    counts: dict[str, int] = {}
    params = []
    for client_id, report_id, agent_id in rows:
        counts[agent_id] = counts.get(agent_id, 0) + 1
        params.append({"c": client_id, "i": report_id, "n": counts[agent_id]})
    if params:
        conn.execute(sa.text("UPDATE reports SET sequence = :n WHERE client_id = :c AND id = :i"), params)


def downgrade() -> None:
    # Report sequences stay per agent (the global order is gone); they stay unique per agent.
    conn = op.get_bind()
    dup = conn.execute(sa.text("SELECT id FROM reports GROUP BY id HAVING count(*) > 1 LIMIT 1")).first()
    if dup is not None:
        raise RuntimeError(
            f"cannot downgrade below 0006: report id {dup[0]} is used by more than one client "
            "(0005 keys reports by id alone)"
        )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint("pk_reports", type_="primary")
        batch_op.create_primary_key("pk_reports", ["id"])
    with op.batch_alter_table("dropped_reports", schema=None) as batch_op:
        batch_op.drop_column("signature")
    op.drop_table("id_keys")

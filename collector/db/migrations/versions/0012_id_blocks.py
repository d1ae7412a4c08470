"""PostgreSQL: the id sequences of findings, assets and obligations step by 4,096, so one ``nextval``
sets aside a block of ids for a collector process (``persist.SequenceBlocks``) (issue 15).

A block was taken as 4,096 ``nextval`` calls in one statement: ~10 ms of PostgreSQL's CPU each,
0.25 ms a report of 100 new findings. A sequence's values are never given twice, so a block that
starts at a value ``nextval`` returned is nobody else's; an insert that takes the column's default
gets a block's first id (ids are internal: every id a reader sees is enciphered per client). SQLite
has no sequences: no change.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TABLES = ("findings", "assets", "obligations")
BLOCK = 4096


def _step(by: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(
            f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s INCREMENT BY {by}', "
            f"pg_get_serial_sequence('{table}', 'id')); END $$"
        )


def upgrade() -> None:
    _step(BLOCK)


def downgrade() -> None:
    _step(1)

"""PostgreSQL: a report's signed text compressed with lz4 where the server has it (issue 15).

A report's signed text (~48 KB for 100 findings) is compressed as it is stored. PostgreSQL's own
pglz took 0.30 ms of its CPU per report on the 2-core machine, lz4 0.13-0.15 ms, for 8 % more
bytes. lz4 needs PostgreSQL 14 or later built with it (Debian's packages and the official images
are); elsewhere the column keeps pglz. Rows already stored keep their compression until rewritten.
SQLite stores the text as it comes: no change.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _compression(method: str) -> str:
    # Run by EXECUTE, so that a server without lz4 (feature_not_supported), or older than
    # PostgreSQL 14 (no such clause: syntax_error), keeps what it had and the migration goes on.
    return (
        "DO $$ BEGIN "
        f"EXECUTE 'ALTER TABLE reports ALTER COLUMN raw_report SET COMPRESSION {method}'; "
        "EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL; "
        "END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_compression("lz4"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_compression("pglz"))

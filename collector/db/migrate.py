"""Run the shipped Alembic migrations (``collector init`` and every ``serve`` start).

Several replicas may start at once, so they take turns and only the first one migrates: on
PostgreSQL a session advisory lock, on SQLite one BEGIN IMMEDIATE transaction around every step.
Alembic commits after each step on SQLite (no transactional DDL in its view), which would let a
waiting replica in between two steps; the transaction we open first makes Alembic run inside it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from duecare.collector.db.session import WRITE_OPTION

MIGRATIONS = Path(__file__).with_name("migrations")
#: Arbitrary constant naming "duecare collector schema migration" for pg_advisory_lock.
_PG_MIGRATION_LOCK = 0x0D0E_CA4E


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _config()
    # SQLite: the write option makes the transaction BEGIN IMMEDIATE, so a second process
    # waits for the first one's whole schema instead of failing on a lock upgrade (session.py).
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
        try:
            conn.begin()  # SQLite: BEGIN IMMEDIATE, held until every step and its version row are in
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if conn.in_transaction():
                conn.rollback()  # a step failed: nothing of the run stays, and the lock can be released
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    cfg = _config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()

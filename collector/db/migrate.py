"""Run the shipped Alembic migrations (``collector init`` and every ``serve`` start).

On PostgreSQL several replicas may start at once: a session advisory lock makes them take turns,
so only the first one creates the tables and the others find them at head.
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
    # waits for the first one's schema instead of failing on a lock upgrade (session.py).
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
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

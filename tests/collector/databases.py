"""Fresh databases per test: a SQLite file in tmp_path, or a PostgreSQL database of its own.

PostgreSQL runs locally at 127.0.0.1:5432 with trust auth. Each test gets
``duecare_test_<random>`` (so parallel runs never collide) and drops it afterwards. Without a
reachable server the PostgreSQL variants skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.env import require

PG_ADMIN = os.environ.get("DUECARE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN}: {exc}"


@contextmanager
def postgres_database() -> Iterator[str]:
    problem = _pg_available()
    require(problem is None, problem or "")
    name = f"duecare_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'collector.db'}"
    else:
        with postgres_database() as url:
            yield url

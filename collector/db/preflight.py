"""Refuse a database that is not what it should be, before anything is written to it.

An empty file, a truncated or corrupt one, or a missing one where a collector ran before would be
silently re-initialised by the migrations: every agent would then get 401 and every finding would be
gone. Each refusal says what to do instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from duecare.collector.errors import CollectorError

_MAGIC = b"SQLite format 3\x00"


class DatabaseRefused(CollectorError):
    status_code = 503


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def check(url: str, *, create: bool) -> None:
    """``create``: ``collector init`` may make a new file; ``serve`` and the admin commands may not."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        if create:
            return
        raise DatabaseRefused(f"no database at {path}: run `duecare collector init` first (or check --db)")
    size = path.stat().st_size
    if size == 0:
        raise DatabaseRefused(
            f"{path} is empty (0 bytes), not a collector database: restore it from a backup; to start "
            f"afresh instead, move it away and run `duecare collector init` (every agent must then enroll again)"
        )
    with path.open("rb") as fh:
        header = fh.read(len(_MAGIC))
    if header != _MAGIC:
        raise DatabaseRefused(f"{path} is not an SQLite database: restore it from a backup (or check --db)")
    problem = _integrity(path)
    if problem is not None:
        raise DatabaseRefused(
            f"{path} is corrupt ({problem}): stop the collector and restore it from a backup; "
            f"`sqlite3 {path} .recover` may save what is left"
        )


def _integrity(path: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = "; ".join(str(r[0]) for r in rows[:3])
    return None if result == "ok" else result

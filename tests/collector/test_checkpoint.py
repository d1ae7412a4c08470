"""SQLite's WAL is checkpointed by the server's thread, outside the write gate (``db/checkpoint.py``)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from duecare.collector.app import create_app
from duecare.collector.db import checkpoint, migrate
from duecare.collector.db.checkpoint import Checkpointer
from duecare.collector.db.session import Database, make_engine
from duecare.collector.settings import CollectorSettings, WebhookSettings
from tests.collector.conftest import Collector


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'c.db'}"))
    with db.write() as s:
        s.execute(text("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body TEXT)"))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the empty table in the file itself
    yield db
    db.dispose()


def _write_pages(db: Database, rows: int, first: int = 0) -> None:
    """About ``rows`` pages of WAL (one 3 KB row a page), one commit per 100 rows."""
    for start in range(first, first + rows, 100):
        with db.write() as s:
            s.execute(
                text("INSERT INTO blobs (id, body) VALUES (:id, :body)"),
                [{"id": i, "body": "x" * 3000} for i in range(start, start + 100)],
            )


def _rows_in_database_file(db: Database, tmp: Path) -> int:
    """Rows the database file itself holds: a copy of it read without its WAL."""
    path = Path(str(db.engine.url.database))
    copy = tmp / "copy.db"
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM blobs").fetchone()[0])
    finally:
        conn.close()


def _copied_rows(db: Database, tmp: Path) -> int:
    """``_rows_in_database_file`` while the thread may be writing the file (a torn copy: not yet)."""
    try:
        return _rows_in_database_file(db, tmp)
    except sqlite3.DatabaseError:
        return -1


def _gate_watch(db: Database) -> tuple[list[bool], checkpoint.Checkpointer]:
    """A checkpointer of ``db`` whose gate records, at each pass under it, that the gate was held."""
    assert db.gate is not None
    gate, held = db.gate, []

    @contextmanager
    def hold() -> Iterator[None]:
        with gate.hold(None):
            held.append(True)
            yield

    return held, Checkpointer(Path(str(db.engine.url.database)), hold, restart_pages=500)


def test_commits_leave_the_checkpoint_to_the_thread(sqlite_db: Database, tmp_path: Path) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == checkpoint.SAFETY_NET_PAGES
    # 1,500 pages: past SQLite's default threshold (1,000), so a commit would have checkpointed them.
    _write_pages(sqlite_db, 1500)
    assert _rows_in_database_file(sqlite_db, tmp_path) == 0
    checkpointer = sqlite_db.checkpointer()
    assert checkpointer is not None
    try:
        done = checkpointer.run_once()
        assert done is not None and done.copied_frames == done.log_frames >= 1500 and not done.under_gate
        assert _rows_in_database_file(sqlite_db, tmp_path) == 1500
        assert checkpointer.run_once() is None  # nothing written since: no pass at all
    finally:
        checkpointer.stop()


def test_a_long_wal_is_caught_up_under_the_gate(sqlite_db: Database, tmp_path: Path) -> None:
    held, checkpointer = _gate_watch(sqlite_db)
    try:
        _write_pages(sqlite_db, 300)
        short = checkpointer.run_once()
        assert short is not None and not short.under_gate and held == []
        _write_pages(sqlite_db, 600, first=300)
        long = checkpointer.run_once()
        assert long is not None and long.under_gate and held == [True]
        assert long.copied_frames == long.log_frames
        # Every frame copied: the next write starts the WAL over instead of growing it.
        _write_pages(sqlite_db, 100, first=900)
        after = checkpointer.run_once()
        assert after is not None and after.log_frames < 200
        assert _rows_in_database_file(sqlite_db, tmp_path) == 1000
    finally:
        checkpointer.stop()


def test_the_thread_copies_while_writers_go_on(sqlite_db: Database, tmp_path: Path) -> None:
    checkpointer = sqlite_db.checkpointer()
    assert checkpointer is not None
    checkpointer.every_s = 0.02
    checkpointer.start()
    try:
        writer = threading.Thread(target=_write_pages, args=(sqlite_db, 2000))
        writer.start()
        writer.join(30)
        deadline = time.monotonic() + 10
        while _copied_rows(sqlite_db, tmp_path) < 2000:
            assert time.monotonic() < deadline, "the thread did not checkpoint the last commits"
            time.sleep(0.05)
        assert checkpointer.passes >= 1
    finally:
        checkpointer.stop()
    assert not checkpointer.running


def test_the_server_runs_it_for_a_sqlite_file_only(sqlite_collector: Collector, collector: Collector) -> None:
    mine = sqlite_collector.http.app.state.checkpointer  # type: ignore[attr-defined]
    assert mine is not None and mine.running
    other = collector.http.app.state.checkpointer  # type: ignore[attr-defined]
    if collector.db.engine.dialect.name == "sqlite":
        assert other is not None and other.running
    else:
        assert other is None


def test_stopped_with_the_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'collector.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(CollectorSettings(database_url=url, webhooks=WebhookSettings(sweep_interval_s=0)))
    with TestClient(app) as http:
        assert http.get("/healthz").status_code == 200
        running = app.state.checkpointer
        assert running.running
    assert not running.running
    assert not any(t.name == "sqlite-checkpoint" and t.is_alive() for t in threading.enumerate())

"""SQLite's write-ahead log copied back into the database by a thread of the server, not by a writer.

By default the commit that grows the WAL past 1,000 pages runs the checkpoint itself: it copies ~4 MB
into the database file and syncs both files while it still holds the write gate, and every other
writer waits. A report of 100 new findings writes ~1 MB of WAL, so one report in four held the gate
10-16 ms instead of 4 (bench/README.md). Here a commit checkpoints only as a safety net
(``SAFETY_NET_PAGES``); a thread runs PASSIVE checkpoints, which block no reader and no writer,
a few times a second outside the gate.

A PASSIVE checkpoint copies the frames there are when it starts; commits go on meanwhile, so under
steady load it never catches up with the last one and the WAL could not start over (SQLite restarts
it only at a write that finds every frame copied). Once the WAL holds ``restart_pages`` frames, the
thread copies the few left while holding the gate, and the next write starts the WAL over: its file
stays bounded (``journal_size_limit`` truncates it).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("duecare.collector.checkpoint")

#: Pages of WAL at which a committing connection checkpoints itself (a thread that fell behind).
SAFETY_NET_PAGES = 65_536
#: Pages the WAL may hold before the thread catches up under the gate so that it starts over.
RESTART_PAGES = 32_768
#: The WAL file is cut back to this size when it starts over (bytes).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Pass:
    """One checkpoint: frames in the WAL, frames copied into the database, whether the gate was held."""

    log_frames: int
    copied_frames: int
    under_gate: bool = False


class Checkpointer:
    """Checkpoints one SQLite database file from its own connection, on a thread (``start``/``stop``)
    or one pass at a time (``run_once``: the tests)."""

    def __init__(
        self,
        path: Path,
        gate: Callable[[], AbstractContextManager[object]],
        *,
        every_s: float = 0.2,
        restart_pages: int = RESTART_PAGES,
    ) -> None:
        self.path = path
        self._gate = gate
        self.every_s = every_s
        self.restart_pages = restart_pages
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Passes that copied frames, since start (the tests read it).
        self.passes = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=1.0)
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            self._conn = conn
        return self._conn

    def _changed(self, conn: sqlite3.Connection) -> bool:
        """Whether another connection committed since the last look (``data_version``: no I/O)."""
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        changed = version != self._version
        self._version = version
        return changed

    def _checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int]:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if busy:
            return 0, 0  # another process's checkpointer holds the checkpoint lock: it does the work
        return max(int(frames), 0), max(int(copied), 0)

    def run_once(self) -> Pass | None:
        """Copy what the WAL holds; catch up under the gate once it is long. None when nothing was written."""
        conn = self._connection()
        if not self._changed(conn):
            return None
        frames, copied = self._checkpoint(conn)
        result = Pass(frames, copied)
        if frames >= self.restart_pages:
            with self._gate():
                frames, copied = self._checkpoint(conn)
            result = Pass(frames, copied, under_gate=True)
        if result.copied_frames:
            self.passes += 1
        return result

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.run_once()
            except sqlite3.Error as exc:
                # The database's own problems reach the requests (and /readyz); commits checkpoint
                # at the safety net meanwhile.
                log.warning("background checkpoint failed: %s", exc)
            except Exception:  # the gate's 503 when a bulk write held it past its timeout
                log.warning("background checkpoint skipped", exc_info=True)

    def start(self) -> Checkpointer:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

"""Durable outbox: a report is in SQLite before anyone tries to deliver it, and leaves only
after the collector's receipt. Bounded: past ``max_pending`` the oldest is dropped, and a
tombstone (id + hash) is kept and sent with the next delivery so the collector sees the gap.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from duecare.agent.signing import seal
from duecare.wire import Receipt, Report, SignedReport, Tombstone

if TYPE_CHECKING:  # the daemon reads and delivers the outbox without ever loading the signing library
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  report_id TEXT NOT NULL UNIQUE,
  report_hash TEXT NOT NULL,
  envelope BLOB NOT NULL,
  created_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS delivered (
  seq INTEGER PRIMARY KEY,
  report_id TEXT NOT NULL UNIQUE,
  report_hash TEXT NOT NULL,
  envelope BLOB NOT NULL,
  receipt TEXT NOT NULL,
  delivered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
  seq INTEGER PRIMARY KEY,
  report_id TEXT NOT NULL,
  envelope BLOB NOT NULL,
  status INTEGER NOT NULL,
  reason TEXT NOT NULL,
  refused_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
  report_id TEXT PRIMARY KEY,
  report_hash TEXT NOT NULL,
  dropped_at TEXT NOT NULL,
  acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class PendingReport:
    seq: int
    report_id: str
    report_hash: str
    envelope: SignedReport
    attempts: int
    next_attempt_at: float


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class Outbox:
    def __init__(self, path: Path, *, max_pending: int = 500, keep_delivered: int = 200) -> None:
        self.path = path
        self.max_pending = max_pending
        self.keep_delivered = keep_delivered
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _meta(self, db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def add(self, report: Report, key: Ed25519PrivateKey) -> tuple[SignedReport, str]:
        """Chain, sign and store in one transaction: the chain head moves only with a stored report."""
        with self._tx() as db:
            head = self._meta(db, "chain_head")
            env, digest = seal(report, key, head)
            db.execute(
                "INSERT INTO pending(report_id, report_hash, envelope, created_at) VALUES (?, ?, ?, ?)",
                (str(report.report_id), digest, env.model_dump_json().encode(), _now()),
            )
            self._set_meta(db, "chain_head", digest)
            self._trim(db)
        return env, digest

    def _trim(self, db: sqlite3.Connection) -> None:
        (count,) = db.execute("SELECT count(*) FROM pending").fetchone()
        excess = int(count) - self.max_pending
        if excess <= 0:
            return
        rows = db.execute("SELECT seq, report_id, report_hash FROM pending ORDER BY seq LIMIT ?", (excess,)).fetchall()
        for seq, rid, digest in rows:
            db.execute(
                "INSERT OR IGNORE INTO tombstones(report_id, report_hash, dropped_at) VALUES (?, ?, ?)",
                (rid, digest, _now()),
            )
            db.execute("DELETE FROM pending WHERE seq = ?", (seq,))

    def next_due(self, now: float | None = None) -> PendingReport | None:
        """The oldest pending report whose backoff has passed: delivery stays in chain order."""
        now = time.time() if now is None else now
        with self._db() as db:
            row = db.execute(
                "SELECT seq, report_id, report_hash, envelope, attempts, next_attempt_at FROM pending "
                "ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None or float(row[5]) > now:
            return None
        env = SignedReport.model_validate_json(row[3])
        return PendingReport(int(row[0]), str(row[1]), str(row[2]), env, int(row[4]), float(row[5]))

    def next_attempt_at(self) -> float | None:
        """When the oldest pending report may be sent again (epoch seconds); None when empty."""
        with self._db() as db:
            row = db.execute("SELECT next_attempt_at FROM pending ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def tombstones(self) -> list[Tombstone]:
        with self._db() as db:
            rows = db.execute("SELECT report_id, report_hash, dropped_at FROM tombstones WHERE acknowledged = 0")
            return [Tombstone(report_id=r[0], report_hash=r[1], dropped_at=r[2]) for r in rows.fetchall()]

    def delivered(self, item: PendingReport, receipt: Receipt, tombstones: list[Tombstone]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO delivered(seq, report_id, report_hash, envelope, receipt, delivered_at) "
                "SELECT seq, report_id, report_hash, envelope, ?, ? FROM pending WHERE seq = ?",
                (receipt.model_dump_json(), _now(), item.seq),
            )
            db.execute("DELETE FROM pending WHERE seq = ?", (item.seq,))
            for t in tombstones:
                db.execute("UPDATE tombstones SET acknowledged = 1 WHERE report_id = ?", (str(t.report_id),))
            db.execute(
                "DELETE FROM delivered WHERE seq NOT IN (SELECT seq FROM delivered ORDER BY seq DESC LIMIT ?)",
                (self.keep_delivered,),
            )
            self._set_meta(db, "last_delivery", _now())

    def refused(self, item: PendingReport, status: int, reason: str) -> None:
        """The collector will never take this report (409/413/422): keep it aside for a human."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO refused(seq, report_id, envelope, status, reason, refused_at) "
                "SELECT seq, report_id, envelope, ?, ?, ? FROM pending WHERE seq = ?",
                (status, reason[:2000], _now(), item.seq),
            )
            db.execute("DELETE FROM pending WHERE seq = ?", (item.seq,))

    def postpone(self, item: PendingReport, until: float, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE pending SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?",
                (until, error[:2000], item.seq),
            )

    def envelopes(self) -> list[SignedReport]:
        """Every report still held (delivered archive, refused, pending), in chain order.

        Refused ones belong to the chain too: without them a report the collector refused as too
        big (413) would read as a gap in a chain nobody touched, and a tampered one (422) would
        hide behind the "chain broken" it causes instead of showing its bad signature."""
        with self._db() as db:
            rows = db.execute(
                "SELECT seq, envelope FROM delivered UNION ALL SELECT seq, envelope FROM refused "
                "UNION ALL SELECT seq, envelope FROM pending ORDER BY seq"
            ).fetchall()
        return [SignedReport.model_validate_json(r[1]) for r in rows]

    def status(self) -> dict[str, object]:
        with self._db() as db:
            pending = db.execute("SELECT count(*), min(created_at), max(attempts) FROM pending").fetchone()
            head = db.execute("SELECT next_attempt_at FROM pending ORDER BY seq LIMIT 1").fetchone()
            err = db.execute(
                "SELECT last_error FROM pending WHERE last_error IS NOT NULL ORDER BY seq LIMIT 1"
            ).fetchone()
            return {
                "pending": int(pending[0]),
                "oldest_pending": pending[1],
                "max_attempts": pending[2] or 0,
                # A report never tried, or whose backoff has passed, is due now.
                "next_attempt_at": None if head is None else _iso(max(float(head[0]), time.time())),
                "last_error": None if err is None else err[0],
                "refused": int(db.execute("SELECT count(*) FROM refused").fetchone()[0]),
                "tombstones_unacknowledged": int(
                    db.execute("SELECT count(*) FROM tombstones WHERE acknowledged = 0").fetchone()[0]
                ),
                "last_delivery": self._meta(db, "last_delivery"),
                "chain_head": self._meta(db, "chain_head"),
            }

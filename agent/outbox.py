"""Durable outbox: a report is in SQLite before anyone tries to deliver it, and leaves only
after the collector's receipt. Bounded: past ``max_pending`` the oldest is dropped, and a
tombstone (id + hash, signed with the agent's key when the report is dropped) is kept and sent
with the next delivery so the collector sees the gap; ``duecare verify --state-dir`` checks the
stored ones.

No head-of-line blocking: a report the collector keeps answering with server errors (a report it
cannot store, not a collector that is down) is *held* after ``HoldPolicy.errors`` such answers over
at least ``HoldPolicy.after_s`` seconds: the reports after it are delivered, the held one is retried
every ``retry_s``, ``agent status`` lists it with the reason, and a signed notice tells the collector.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from duecare.agent.signing import seal
from duecare.wire import HeldNotice, Receipt, Report, SignedReport, Tombstone
from duecare.wire.bounds import printable
from duecare.wire.envelope import held_payload, tombstone_payload

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
#: Columns added after the first release (an outbox from an older agent gains them at open).
_ADDED = {
    "server_errors": "INTEGER NOT NULL DEFAULT 0",
    "first_error_at": "REAL",
    "held_at": "REAL",
    "held_reason": "TEXT",
    "held_notified": "INTEGER NOT NULL DEFAULT 0",
}
#: Tombstone columns added later: an older agent's unsigned tombstones are signed at the next delivery.
_ADDED_TOMBSTONES = {"signature": "TEXT"}


@dataclass(frozen=True)
class HoldPolicy:
    errors: int = 5
    after_s: float = 900.0
    retry_s: float = 6 * 3600.0


@dataclass(frozen=True)
class PendingReport:
    seq: int
    report_id: str
    report_hash: str
    envelope: SignedReport
    attempts: int
    next_attempt_at: float
    #: Set aside after repeated server errors; retried slowly, never ahead of the others.
    held: bool = False


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _signed_tombstone(t: Tombstone, key: Ed25519PrivateKey) -> Tombstone:
    return t.model_copy(update={"signature": base64.b64encode(key.sign(tombstone_payload(t))).decode()})


class Outbox:
    def __init__(
        self, path: Path, *, max_pending: int = 500, keep_delivered: int = 200, hold: HoldPolicy | None = None
    ) -> None:
        self.path = path
        self.max_pending = max_pending
        self.keep_delivered = keep_delivered
        self.hold = hold or HoldPolicy()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The outbox holds every finding of the site: owner-only, whatever the caller's umask.
        old = os.umask(0o077)
        try:
            with self._db() as db:
                db.executescript(_SCHEMA)
                have = {r[1] for r in db.execute("PRAGMA table_info(pending)")}
                for col, decl in _ADDED.items():
                    if col not in have:
                        db.execute(f"ALTER TABLE pending ADD COLUMN {col} {decl}")
                have = {r[1] for r in db.execute("PRAGMA table_info(tombstones)")}
                for col, decl in _ADDED_TOMBSTONES.items():
                    if col not in have:
                        db.execute(f"ALTER TABLE tombstones ADD COLUMN {col} {decl}")
        finally:
            os.umask(old)
        for suffix in ("", "-wal", "-shm"):
            f = path.with_name(path.name + suffix)
            if f.exists():
                f.chmod(0o600)

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
            self._trim(db, key)
        return env, digest

    def _trim(self, db: sqlite3.Connection, key: Ed25519PrivateKey) -> None:
        (count,) = db.execute("SELECT count(*) FROM pending").fetchone()
        excess = int(count) - self.max_pending
        if excess <= 0:
            return
        rows = db.execute("SELECT seq, report_id, report_hash FROM pending ORDER BY seq LIMIT ?", (excess,)).fetchall()
        for seq, rid, digest in rows:
            stone = _signed_tombstone(Tombstone(report_id=rid, report_hash=digest, dropped_at=_now()), key)
            db.execute(
                "INSERT OR IGNORE INTO tombstones(report_id, report_hash, dropped_at, signature) VALUES (?, ?, ?, ?)",
                (rid, digest, stone.dropped_at.isoformat(), stone.signature),
            )
            db.execute("DELETE FROM pending WHERE seq = ?", (seq,))

    _COLS = "seq, report_id, report_hash, envelope, attempts, next_attempt_at, held_at"

    def next_due(self, now: float | None = None) -> PendingReport | None:
        """A held report whose slow retry is due, else the oldest report not held, once its backoff
        has passed: delivery stays in chain order except for what was set aside."""
        now = time.time() if now is None else now
        with self._db() as db:
            row = db.execute(
                f"SELECT {self._COLS} FROM pending WHERE held_at IS NOT NULL AND next_attempt_at <= ? "
                "ORDER BY seq LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                row = db.execute(
                    f"SELECT {self._COLS} FROM pending WHERE held_at IS NULL ORDER BY seq LIMIT 1"
                ).fetchone()
        if row is None or float(row[5]) > now:
            return None
        env = SignedReport.model_validate_json(row[3])
        return PendingReport(int(row[0]), str(row[1]), str(row[2]), env, int(row[4]), float(row[5]), row[6] is not None)

    def next_attempt_at(self) -> float | None:
        """When a report may be sent next (epoch seconds): the head's backoff or a held one's retry."""
        with self._db() as db:
            head = db.execute(
                "SELECT next_attempt_at FROM pending WHERE held_at IS NULL ORDER BY seq LIMIT 1"
            ).fetchone()
            held = db.execute("SELECT min(next_attempt_at) FROM pending WHERE held_at IS NOT NULL").fetchone()
        times = [float(r[0]) for r in (head, held) if r is not None and r[0] is not None]
        return min(times) if times else None

    def server_error(self, item: PendingReport, until: float, error: str, now: float) -> bool:
        """Count a server error (5xx, not 503) of ``item``; hold it once the policy's bounds are
        both passed. True when the report is (still) held: the caller goes on with the next one."""
        with self._tx() as db:
            row = db.execute("SELECT server_errors, first_error_at FROM pending WHERE seq = ?", (item.seq,)).fetchone()
            if row is None:
                return False
            errors, first = int(row[0]) + 1, now if row[1] is None else float(row[1])
            hold = item.held or (errors >= self.hold.errors and now - first >= self.hold.after_s)
            db.execute(
                "UPDATE pending SET attempts = attempts + 1, server_errors = ?, first_error_at = ?, "
                "next_attempt_at = ?, last_error = ?, held_at = CASE WHEN ? THEN coalesce(held_at, ?) END, "
                "held_reason = CASE WHEN ? THEN ? END WHERE seq = ?",
                (errors, first, now + self.hold.retry_s if hold else until, error[:2000], hold, now, hold,
                 error[:500], item.seq),
            )  # fmt: skip
        return hold

    def held(self) -> list[dict[str, object]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT report_id, report_hash, held_at, held_reason, server_errors, next_attempt_at, held_notified "
                "FROM pending WHERE held_at IS NOT NULL ORDER BY seq"
            ).fetchall()
        return [
            {
                "report_id": r[0],
                "report_hash": r[1],
                "held_since": _iso(float(r[2])),
                "reason": r[3],
                "server_errors": int(r[4]),
                "next_retry": _iso(float(r[5])),
                "collector_told": bool(r[6]),
            }
            for r in rows
        ]

    def held_notices(self, key: Callable[[], Ed25519PrivateKey]) -> list[HeldNotice]:
        """Signed notices of the held reports the collector has not been told about yet; the key is
        loaded only when there is one to sign."""
        untold = [h for h in self.held() if not h["collector_told"]]
        if not untold:
            return []
        signer = key()
        out = []
        for h in untold:
            notice = HeldNotice(
                report_id=str(h["report_id"]),
                report_hash=str(h["report_hash"]),
                held_since=str(h["held_since"]),
                reason=printable(str(h["reason"] or "server errors"), 500),
                signature="A" * 88,
            )
            sig = base64.b64encode(signer.sign(held_payload(notice))).decode()
            out.append(notice.model_copy(update={"signature": sig}))
        return out

    def tombstones(self, key: Callable[[], Ed25519PrivateKey] | None = None) -> list[Tombstone]:
        """The tombstones the collector has not acknowledged. One an older agent stored unsigned is
        signed now with ``key`` (asked only then) and the signature kept; without a key it goes unsigned."""
        with self._db() as db:
            rows = db.execute(
                "SELECT report_id, report_hash, dropped_at, signature FROM tombstones WHERE acknowledged = 0"
            ).fetchall()
        out = [Tombstone(report_id=r[0], report_hash=r[1], dropped_at=r[2], signature=r[3]) for r in rows]
        if key is None or all(t.signature is not None for t in out):
            return out
        signer = key()
        signed = [t if t.signature is not None else _signed_tombstone(t, signer) for t in out]
        with self._tx() as db:
            for t in signed:
                db.execute(
                    "UPDATE tombstones SET signature = ? WHERE report_id = ? AND signature IS NULL",
                    (t.signature, str(t.report_id)),
                )
        return signed

    def stored_tombstones(self) -> list[Tombstone]:
        """Every tombstone kept, acknowledged or not (``duecare verify --state-dir`` checks them)."""
        with self._db() as db:
            rows = db.execute("SELECT report_id, report_hash, dropped_at, signature FROM tombstones").fetchall()
        return [Tombstone(report_id=r[0], report_hash=r[1], dropped_at=r[2], signature=r[3]) for r in rows]

    def delivered(
        self, item: PendingReport, receipt: Receipt, tombstones: list[Tombstone], held: Sequence[HeldNotice] = ()
    ) -> None:
        with self._tx() as db:
            for h in held:
                db.execute("UPDATE pending SET held_notified = 1 WHERE report_id = ?", (str(h.report_id),))
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

    def receipts(self) -> list[tuple[str, str, Receipt]]:
        """(report id, report hash, receipt) of every delivered report kept: the proof of notice."""
        with self._db() as db:
            rows = db.execute("SELECT report_id, report_hash, receipt FROM delivered ORDER BY seq").fetchall()
        return [(str(r[0]), str(r[1]), Receipt.model_validate_json(r[2])) for r in rows]

    def status(self) -> dict[str, object]:
        with self._db() as db:
            pending = db.execute("SELECT count(*), min(created_at), max(attempts) FROM pending").fetchone()
            head = db.execute(
                "SELECT next_attempt_at FROM pending WHERE held_at IS NULL ORDER BY seq LIMIT 1"
            ).fetchone()
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
                "held": self.held(),
            }

"""Engine and transactions for SQLite (embedded default) and PostgreSQL (several replicas).

SQLite: WAL so readers never block the writer; a write transaction starts with BEGIN IMMEDIATE
so two writers queue on the database lock instead of failing when a read lock is upgraded
(https://www.sqlite.org/lang_transaction.html, "deferred" vs "immediate"); pysqlite's own
transaction handling is switched off so that BEGIN is ours (SQLAlchemy docs, "Serializable
isolation / Savepoints / Transactional DDL" for pysqlite).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from duecare.collector.db import checkpoint
from duecare.collector.db.gate import WriteGate

WRITE_OPTION = "duecare_write"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _json_dumps(value: Any) -> str:
    # orjson: ~10x json.dumps on the feed's payloads; it never writes NaN (the contract refuses it anyway).
    return orjson.dumps(value).decode("utf-8")


def make_engine(
    url: str, *, sqlite_busy_timeout_s: float = 10.0, lock_timeout_s: float = 10.0, pool_size: int = 5
) -> Engine:
    """A lock waited on past the timeout raises OperationalError, which the API answers 503 + Retry-After."""
    url = normalise_url(url)
    codec: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": sqlite_busy_timeout_s, "check_same_thread": False}, **codec
        )
        _sqlite_events(engine, busy_ms=int(sqlite_busy_timeout_s * 1000))
        return engine
    options = f"-c lock_timeout={int(lock_timeout_s * 1000)}"
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, connect_args={"options": options}, **codec)
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection unused for this long is pinged before it is handed out.
IDLE_PING_S = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle (a server restarted overnight, a
    firewall that dropped a quiet connection): then a dead one is replaced and nobody sees it.
    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: two round trips a post (the agent's
    credential, then the ingest), 0.1 ms of CPU each on the two sides (bench/README.md).
    A connection that breaks while in steady use fails its request with 503 + Retry-After (the
    agent retries), and SQLAlchemy then drops every connection of the pool opened before it."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        idle = 0.0 if since is None else time.monotonic() - since
        if idle < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (SQLAlchemy's documented
            # "pessimistic disconnect handling" with a custom ping).
            raise DisconnectionError(f"pooled connection idle for {idle:.0f} s is gone: {exc}") from exc


_BUSY: dict[int, float] = {}


def _busy_timeout(engine: Engine) -> float:
    return _BUSY.get(id(engine), 10.0)


def _sqlite_events(engine: Engine, *, busy_ms: int) -> None:
    _BUSY[id(engine)] = busy_ms / 1000

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        if ":memory:" not in str(engine.url):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Commits checkpoint only as a safety net: the server's thread does it outside the gate.
        cur.execute(f"PRAGMA wal_autocheckpoint={checkpoint.SAFETY_NET_PAGES}")
        cur.execute(f"PRAGMA journal_size_limit={checkpoint.JOURNAL_SIZE_LIMIT}")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """One engine per process, handed out as short transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)
        self.gate: WriteGate | None = None
        # PostgreSQL: one statement needs no transaction of its own (``first``).
        self._single = engine if is_sqlite(engine) else engine.execution_options(isolation_level="AUTOCOMMIT")
        if is_sqlite(engine):
            path = engine.url.database
            lock = None if not path or path == ":memory:" else Path(path).with_name(Path(path).name + ".writelock")
            self.gate = WriteGate(lock, _busy_timeout(engine))

    def checkpointer(self) -> checkpoint.Checkpointer | None:
        """The WAL's checkpointer for a server of a SQLite database file (``checkpoint.py``)."""
        gate = self.gate
        if gate is None or gate.lock_file is None or not self.engine.url.database:
            return None
        return checkpoint.Checkpointer(Path(self.engine.url.database), lambda: gate.hold(None))

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def write(self, client: str | None = None) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any exception.

        SQLite: writers queue at the gate first (``gate.py``), round-robin by ``client``."""
        if self.gate is None:
            with self._writer() as session, session.begin():
                yield session
            return
        with self.gate.hold(client), self._writer() as session, session.begin():
            yield session

    def first(self, statement: Any, params: dict[str, Any]) -> Any:
        """The first row of one read statement, or None. On PostgreSQL outside a transaction: a
        BEGIN and a ROLLBACK around it cost as much as the statement itself (bench/README.md)."""
        with self._single.connect() as conn:
            return conn.execute(statement, params).first()

    @contextmanager
    def pinned(self) -> Iterator[Connection]:
        """One connection held for several transactions (its TEMP tables live as long as it)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def read_on(self, conn: Connection) -> Iterator[Session]:
        conn.execution_options(**{WRITE_OPTION: False})
        with Session(bind=conn, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def write_on(self, conn: Connection, client: str | None = None) -> Iterator[Session]:
        """``write`` on a pinned connection (SQLite: behind the gate, BEGIN IMMEDIATE)."""
        conn.execution_options(**{WRITE_OPTION: True})
        try:
            if self.gate is None:
                with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                    yield session
                return
            with self.gate.hold(client), Session(bind=conn, expire_on_commit=False) as session, session.begin():
                yield session
        finally:
            conn.execution_options(**{WRITE_OPTION: False})

    def dispose(self) -> None:
        self.engine.dispose()

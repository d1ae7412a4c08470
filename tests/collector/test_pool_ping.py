"""PostgreSQL pool: a connection is pinged before use only after sitting idle, and a dead one is
then replaced unseen; one that dies in steady use fails its request once (a 503), not the next."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from duecare.collector.db import errors, session
from duecare.collector.db.session import make_engine
from duecare.collector.errors import Unavailable
from tests.collector.databases import PG_ADMIN, postgres_database

pytestmark = pytest.mark.slow  # real processes, a database server or a browser: not in `make test-fast`


@pytest.fixture
def engine() -> Iterator[Engine]:
    with postgres_database() as url:
        eng = make_engine(url)
        try:
            yield eng
        finally:
            eng.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    """End a pooled connection's server process, and wait until it is gone (the call only signals it)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is not None:
            assert time.monotonic() < deadline, f"backend {pid} still running 10 s after pg_terminate_backend"
            time.sleep(0.02)


def _count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(1)
        return ping(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = _count_pings(engine, monkeypatch)
    first = _backend(engine)
    assert [_backend(engine) for _ in range(5)] == [first] * 5
    assert pings == []
    monkeypatch.setattr(session, "IDLE_PING_S", 0.0)  # every checkout now follows an "idle" spell
    assert [_backend(engine) for _ in range(3)] == [first] * 3
    assert len(pings) == 3


def test_an_idle_connection_found_dead_is_replaced_unseen(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = _backend(engine)
    _terminate(dead)
    monkeypatch.setattr(session, "IDLE_PING_S", 0.0)
    fresh = _backend(engine)  # no error: the ping found it gone and the pool connected anew
    assert fresh != dead


def test_a_connection_dying_in_steady_use_fails_one_request_as_503(engine: Engine) -> None:
    dead = _backend(engine)
    _terminate(dead)
    with pytest.raises(OperationalError) as failed, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    answer = errors.classify(failed.value)
    assert isinstance(answer, Unavailable) and answer.retry_after_s == errors.RETRY_AFTER_S
    assert _backend(engine) != dead  # the pool dropped it: the retry works

"""One holder at a time, clients taking turns (``db/gate.py``: the SQLite write gate and, on SQLite,
the light lane of ``POST /v1/reports``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from duecare.collector import ingest
from duecare.collector.db.gate import Turns
from duecare.collector.errors import Unavailable
from tests.collector.conftest import Collector
from tests.collector.factories import finding


def _wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _holding(turns: Turns, client: str, release: threading.Event) -> threading.Thread:
    """A thread that holds a turn of ``client`` until ``release`` is set; returned once it holds it."""
    held = threading.Event()

    def hold() -> None:
        with turns.hold(client):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    return thread


def test_turns_one_holder_and_a_quiet_client_waits_for_one_turn_of_a_busy_one() -> None:
    turns = Turns(10.0)
    order: list[str] = []
    holders = 0
    most = 0
    lock = threading.Lock()
    waiting = 0

    def take(client: str) -> None:
        nonlocal holders, most, waiting
        with lock:
            waiting += 1
        with turns.hold(client):
            with lock:
                holders += 1
                most = max(most, holders)
                order.append(client)
            time.sleep(0.01)
            with lock:
                holders -= 1

    release = threading.Event()
    starter = _holding(turns, "busy", release)
    threads = [threading.Thread(target=take, args=("busy",)) for _ in range(5)]
    for t in threads:
        t.start()
    _wait_for(lambda: waiting == 5)
    quiet = threading.Thread(target=take, args=("quiet",))
    quiet.start()
    _wait_for(lambda: waiting == 6)
    time.sleep(0.05)  # every waiter queued
    release.set()
    for t in [starter, *threads, quiet]:
        t.join(10)
    assert most == 1
    # The busy client's first waiter, then the quiet client, then the rest of the busy client's.
    assert order.index("quiet") <= 1, order


def test_turns_waiting_past_the_timeout_is_unavailable_with_retry_after() -> None:
    turns = Turns(0.2)
    done = threading.Event()
    t = _holding(turns, "a", done)
    started = time.monotonic()
    with pytest.raises(Unavailable) as err, turns.hold("b"):
        pass
    assert 0.15 <= time.monotonic() - started < 2
    assert err.value.retry_after_s > 0
    done.set()
    t.join(5)
    with turns.hold("b"):  # free again, and the timed-out ticket left no trace
        pass


def test_sqlite_ingests_small_reports_one_at_a_time_and_postgresql_does_not_wait(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent posts in one process: on SQLite never two ingests at once (the light lane), on
    PostgreSQL side by side (a thread waiting on the server lets another run)."""
    sqlite = collector.db.gate is not None
    state = collector.http.app.state.collector  # type: ignore[attr-defined]
    assert (state.light_lane is not None) is sqlite
    real = ingest.ingest
    inside = 0
    most = 0
    lock = threading.Lock()

    def slow(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.2)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(ingest, "ingest", slow)
    agents = [collector.enroll(f"client{i}", "hq") for i in range(3)]
    codes: list[int] = []

    def post(i: int) -> None:
        agent = agents[i]
        body = agent.chain.next(findings=[finding(f"198.18.0.{i + 1}")])
        codes.append(collector.post(agent, body).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [201, 201, 201]
    assert most == (1 if sqlite else 3)

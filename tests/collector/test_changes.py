"""Change ids become visible in order: a reader paging by id never steps over one."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from duecare.collector import changes
from duecare.collector.db.models import Change, Client
from duecare.collector.db.session import Database
from tests.collector.conftest import Collector


def _client(db: Database) -> None:
    with db.write() as s:
        s.add(Client(id="cl_1", name="one", created_at=datetime.now(UTC)))


def _pending(n: int) -> list[changes.PendingChange]:
    return [changes.PendingChange("report", f"r{i}", "cl_1", "st_1", None, {}) for i in range(n)]


def _visible(db: Database) -> list[int]:
    with db.read() as s:
        return list(s.scalars(select(Change.id).order_by(Change.id)))


def test_a_second_writer_waits_for_the_first_to_commit(database: Database) -> None:
    _client(database)
    first_holds = threading.Event()
    release = threading.Event()
    second_ids: list[int] = []
    second_done = threading.Event()

    def first() -> None:
        with database.write() as s:
            changes.record(s, _pending(3), datetime.now(UTC))
            first_holds.set()
            release.wait(10)

    def second() -> None:
        first_holds.wait(10)
        with database.write() as s:
            second_ids.extend(c["id"] for c in changes.record(s, _pending(2), datetime.now(UTC)))
        second_done.set()

    t1, t2 = threading.Thread(target=first), threading.Thread(target=second)
    t1.start()
    t2.start()
    first_holds.wait(10)
    time.sleep(0.5)
    assert not second_done.is_set(), "second writer took ids while the first held uncommitted ones"
    assert _visible(database) == []  # nothing committed yet, and no later id visible either
    release.set()
    t1.join(10)
    t2.join(10)
    assert second_ids == [4, 5]
    assert _visible(database) == [1, 2, 3, 4, 5]


def test_rollback_gives_the_ids_back(database: Database) -> None:
    _client(database)
    try:
        with database.write() as s:
            changes.record(s, _pending(4), datetime.now(UTC))
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with database.write() as s:
        assert [c["id"] for c in changes.record(s, _pending(1), datetime.now(UTC))] == [1]
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(Change)) == 1


def test_many_concurrent_writers_leave_a_dense_prefix(database: Database) -> None:
    _client(database)
    seen_by_reader: list[list[int]] = []
    stop = threading.Event()

    def writer() -> None:
        for _ in range(15):
            with database.write() as s:
                changes.record(s, _pending(3), datetime.now(UTC))

    def reader() -> None:
        while not stop.is_set():
            seen_by_reader.append(_visible(database))

    readers = [threading.Thread(target=reader)]
    writers = [threading.Thread(target=writer) for _ in range(4)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    readers[0].join()
    assert _visible(database) == list(range(1, 181))
    for snapshot in seen_by_reader:  # every snapshot a reader took was a prefix: no holes
        assert snapshot == list(range(1, len(snapshot) + 1))


def test_feed_payloads_built_as_dicts_match_the_models(collector: Collector) -> None:
    """Ingest writes feed payloads as plain dicts (fast); they must be exactly what the models dump."""
    from tests.collector.factories import asset, finding

    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50")], assets=[asset("198.18.0.50", "box.lan")])
    assert collector.post(agent, body).status_code == 201
    reader = collector.reader()
    feed = collector.http.get("/v1/changes", headers=reader).json()["changes"]
    current = collector.http.get("/v1/findings", headers=reader).json()["findings"]
    assets = collector.http.get("/v1/assets", headers=reader).json()["assets"]
    (f,) = [c["finding"] for c in feed if c["kind"] == "finding"]
    (a,) = [c["asset"] for c in feed if c["kind"] == "asset"]
    assert f == current[0] and f["hostname"] == "box.lan"
    assert a == assets[0]

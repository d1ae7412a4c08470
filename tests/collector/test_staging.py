"""SQLite: a large report staged outside the write lock (collector/staging.py) is never half-visible,
a crash mid-way publishes nothing, and the agent's retry of the same report is stored once."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from duecare.collector import ingest, persist, staging
from duecare.collector.db.models import AssetState, ChainGap, Change, FindingState
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.db.session import Database, make_engine
from duecare.collector.rows import FindingRow, columns
from duecare.wire import Exposure, SignedReport
from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import AgentChain, finding
from tests.collector.processes import Server, cli

EXPOSURES = list(Exposure)[:5]


def _findings(n: int, net: int = 0) -> list[Any]:
    return [finding(f"10.{net}.{i // 250}.{i % 250 + 1}", EXPOSURES[i % 5], 1000 + i % 5) for i in range(n)]


def _visible(db: Database, site_id: str) -> tuple[int, int, int, int]:
    with db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(FindingState).where(FindingState.site_id == site_id)) or 0,
            s.scalar(select(func.count()).select_from(AssetState).where(AssetState.site_id == site_id)) or 0,
            s.scalar(select(func.count()).select_from(Change).where(Change.site_id == site_id)) or 0,
            s.scalar(select(func.count()).select_from(ReportRow).where(ReportRow.site_id == site_id)) or 0,
        )


#: ``staging.MEMORY_ROWS`` that stages every planned report in TEMP tables, or every one in memory.
STAGES = pytest.mark.parametrize(
    ("memory_rows", "kind"), [(0, staging.InTemp), (10**9, staging.InMemory)], ids=["temp", "memory"]
)


@STAGES
def test_staged_rows_are_invisible_until_published_and_a_lost_stage_is_harmless(
    sqlite_collector: Collector, monkeypatch: pytest.MonkeyPatch, memory_rows: int, kind: type
) -> None:
    """SQLite only: on PostgreSQL writers do not queue at one lock, so nothing is staged."""
    collector = sqlite_collector
    monkeypatch.setattr(ingest, "PLAN_AHEAD_ITEMS", 10)
    monkeypatch.setattr(staging, "MEMORY_ROWS", memory_rows)
    agent = collector.enroll("acme", "big")
    quiet = collector.enroll("other", "small")
    body = agent.chain.next(findings=_findings(300))
    identity = ingest.AgentIdentity(agent.agent_id, agent.site_id, agent.client_id, agent.chain.key.public_b64)
    checked = ingest.check_report(identity, SignedReport.model_validate(body))
    with collector.db.pinned() as conn:
        plan = ingest._plan(collector.db, identity, checked, conn)
        assert plan is not None and plan.staged == 600  # 300 new findings, 300 new assets
        assert isinstance(plan.stage, kind)
        assert staging.holds(conn) is (kind is staging.InTemp)
        # Staged, not published: no reader sees any of it, and another client's post goes through.
        assert _visible(collector.db, agent.site_id) == (0, 0, 0, 0)
        assert collector.post(quiet, quiet.chain.next(findings=_findings(3, 1))).status_code == 201
        assert _visible(collector.db, agent.site_id) == (0, 0, 0, 0)
    # The connection (and its TEMP stage) is gone, as after a kill -9: the same report posted again
    # is stored whole, once; a re-post is a duplicate.
    first = collector.post(agent, body)
    assert first.status_code == 201, first.text
    assert _visible(collector.db, agent.site_id) == (300, 300, 601, 1)
    again = collector.post(agent, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    with collector.db.read() as s:
        ids = s.scalars(select(Change.id).order_by(Change.id)).all()
        assert ids == list(range(1, len(ids) + 1))  # dense: staging took no feed ids


@STAGES
def test_staged_publish_matches_the_path_under_the_lock(
    collector: Collector, monkeypatch: pytest.MonkeyPatch, memory_rows: int, kind: type
) -> None:
    """Two sites, the same nights (new, some gone, back): staged (either way) or not, the same rows and feed."""
    monkeypatch.setattr(staging, "MEMORY_ROWS", memory_rows)
    nights = [_findings(120), _findings(80), _findings(120), _findings(120)]

    def post_all(site: str) -> list[Any]:
        agent = collector.enroll("acme", site)
        for items in nights:
            resp = collector.post(agent, agent.chain.next(findings=items))
            assert resp.status_code == 201, resp.text
        with collector.db.read() as s:
            f = s.execute(
                select(FindingState.ident, FindingState.status, FindingState.data).where(
                    FindingState.site_id == agent.site_id
                )
            ).all()
            c = s.execute(
                select(Change.kind, Change.subject, Change.payload)
                .where(Change.site_id == agent.site_id)
                .order_by(Change.id)
            )
            feed = [(kind, "" if kind == "report" else subject, _lasting(payload)) for kind, subject, payload in c]
            return [sorted(map(tuple, f), key=str), feed]

    monkeypatch.setattr(ingest, "PLAN_AHEAD_ITEMS", 10)
    staged = post_all(f"staged-{kind.__name__}")
    monkeypatch.setattr(ingest, "PLAN_AHEAD_ITEMS", 10**9)
    assert staged == post_all("locked")


#: Members of a feed entry that name the site, its report or when: they differ between the two sites.
_PLACE_AND_TIME = {"id", "site_id", "last_report_id", "changed_by_report_id", "first_seen_at", "last_seen_at",
                   "status_changed_at"}  # fmt: skip


def _lasting(payload: dict[str, Any]) -> Any:
    """A feed entry's payload without what names the site, the report or the time."""
    if "report" in payload:
        return None
    return {
        k: {n: v for n, v in item.items() if n not in _PLACE_AND_TIME} if isinstance(item, dict) else item
        for k, item in payload.items()
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_while_a_large_report_is_staged_then_retry_stores_it_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    cli("init", db=db)
    cli("add-client", "acme", db=db)
    token = cli("add-site", "acme", "big", db=db)[-1]
    server = Server(db, tmp_path / "s.log").start()
    try:
        chain = AgentChain()
        resp = httpx.post(f"{server.url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64})
        auth = {"authorization": f"Bearer {resp.json()['credential']}", "content-type": "application/json"}
        bodies = [json.dumps(chain.next(findings=_findings(4000, n))).encode() for n in range(3)]
        kills = 0
        for body in bodies:
            posted: list[int] = []

            def post(b: bytes = body, out: list[int] = posted) -> None:
                try:
                    out.append(httpx.post(f"{server.url}/v1/reports", content=b, headers=auth, timeout=120).status_code)
                except httpx.HTTPError:
                    out.append(0)

            t = threading.Thread(target=post)
            started = time.perf_counter()
            t.start()
            time.sleep(random.uniform(0.3, 1.5))  # inside the ingest: parse, plan, stage or publish
            server.kill9()
            kills += 1
            t.join()
            server.start()
            # The agent's retry of the same report: stored (201), or a duplicate if the kill came
            # after the commit; never a conflict, never half a report.
            retry = httpx.post(f"{server.url}/v1/reports", content=body, headers=auth, timeout=120)
            assert retry.status_code in (200, 201), (retry.status_code, retry.text, time.perf_counter() - started)
    finally:
        server.stop()
    engine = make_engine(db)
    check = Database(engine)
    with check.read() as s:
        assert s.scalar(select(func.count()).select_from(ReportRow)) == 3
        assert s.scalar(select(func.count()).select_from(ChainGap)) == 0
        assert s.scalar(select(func.count()).select_from(FindingState)) == 12_000
        assert s.scalar(select(func.count()).select_from(AssetState)) == 12_000
        ids = s.scalars(select(Change.id).order_by(Change.id)).all()
        assert ids == list(range(1, len(ids) + 1))
        assert len(ids) == 3 * (1 + 4000 + 4000)
    check.dispose()
    assert kills == 3


_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_times = st.builds(
    lambda dt, tz: dt.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31)),
    _offsets,
)
_FINDING_NAMES = ("id", *columns(FindingRow))
_PARENTS: dict[int, tuple[Enrolled, str]] = {}


def _parents(collector: Collector) -> tuple[Enrolled, str]:
    """A client, site, agent and stored report for rows to name (the schema's foreign keys)."""
    if id(collector) not in _PARENTS:
        agent = collector.enroll("acme", "tuples")
        body = agent.chain.next(findings=[])
        assert collector.post(agent, body).status_code == 201
        _PARENTS[id(collector)] = (agent, body["report"]["report_id"])
    return _PARENTS[id(collector)]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    seen=st.lists(_times, min_size=3, max_size=3),
    title=st.text(max_size=40),
    data=st.dictionaries(
        st.text(max_size=8), st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=12)), max_size=4
    ),
    port=st.one_of(st.none(), st.integers(0, 65535)),
    kev=st.booleans(),
    ip=st.ip_addresses().map(str),
)
def test_rows_written_as_tuples_are_stored_as_insert_stores_them(
    sqlite_collector: Collector,
    seen: list[datetime],
    title: str,
    data: dict[str, Any],
    port: int | None,
    kev: bool,
    ip: str,
) -> None:
    """``persist.sqlite_rows`` (staging, new rows on SQLite) stores the very values, byte for byte,
    that ``insert(table)`` stores: the same text for times and JSON, the same integers and blobs."""
    agent, report = _parents(sqlite_collector)
    row = FindingRow(
        client_id=agent.client_id, site_id=agent.site_id, ident=f"id-{ip}", ip=ip, exposure="rdp-exposed",
        port=port, proto="tcp", status="open", severity="high", title=title, kev=kev, first_seen_at=seen[0],
        last_seen_at=seen[1], status_changed_at=seen[2], last_agent_id=agent.agent_id, last_report_id=report,
        changed_by_report_id=report, data=data, data_digest="d",
    )  # fmt: skip
    table = persist.FINDINGS
    with sqlite_collector.db.write() as s:
        conn = s.connection()
        conn.execute(insert(table), [{"id": 1, **{n: getattr(row, n) for n in _FINDING_NAMES[1:]}}])
        row.ident += "-tuple"  # the (site, ident) key is unique
        persist.sqlite_rows(conn, table, _FINDING_NAMES, [[2, *(getattr(row, n) for n in _FINDING_NAMES[1:])]])
        names = ", ".join(n for n in _FINDING_NAMES if n not in ("id", "ident"))
        stored = conn.exec_driver_sql(f"SELECT {names} FROM findings WHERE id < 3 ORDER BY id").all()
        conn.exec_driver_sql("DELETE FROM findings WHERE id < 3")
    (a, b) = stored
    assert a == b


def test_id_blocks_of_two_processes_and_the_path_under_the_lock_never_clash(sqlite_collector: Collector) -> None:
    """Two workers' blocks (``persist.IdBlocks``) and rows inserted under the lock take disjoint ids."""
    db = sqlite_collector.db
    table = persist.FINDINGS

    def reserve(n: int) -> int:
        with db.write() as w:
            return persist.reserve(w, table, n)

    one, two = persist.IdBlocks(), persist.IdBlocks()
    taken: list[int] = []
    for i in range(40):
        blocks = one if i % 2 else two
        count = 100 if i % 7 else persist.IdBlocks.BLOCK + 5  # now and then more than a block
        first = blocks.take(table, count, reserve)
        taken += range(first, first + count)
        with db.write() as w:  # the path under the lock: after the largest id and every reserved one
            next_id = persist._next_id(w.connection(), table)
        taken.append(next_id)
        with db.write() as w:
            persist.reserve(w, table, 1)  # as if that row were inserted
    assert len(taken) == len(set(taken))
    assert taken and min(taken) >= 1

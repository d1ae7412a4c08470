"""The rows and feed entries ingest builds as plain dicts say what the models would have said."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from duecare.collector import admin, ingest, persist
from duecare.collector.db.models import Agent, Change
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.errors import Unauthorized
from duecare.collector.schemas import report_summary
from duecare.wire import Exposure, SignedReport
from duecare.wire.api import ChangePayload
from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import finding

_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_times = st.builds(
    lambda dt, tz: dt.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31)),
    st.one_of(st.just(UTC), _offsets),
)


@given(
    started=_times,
    finished=_times,
    received=_times,
    previous=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
    gap=st.booleans(),
    count=st.integers(min_value=0, max_value=100_000),
)
def test_the_feed_s_report_summary_is_the_model_s(
    started: datetime, finished: datetime, received: datetime, previous: str | None, gap: bool, count: int
) -> None:
    row = {
        "id": "0b9e8a52-3c55-4bd4-9d0e-3f6f0c2f6b1a",
        "client_id": "c1",
        "site_id": "s1",
        "agent_id": "a1",
        "report_hash": "ab" * 32,
        "raw_report": "{}",
        "signature": "sig",
        "received_at": received,
        "started_at": started,
        "finished_at": finished,
        "previous_report_hash": previous,
        "finding_count": count,
        "sequence": 7,
        "chain_gap": gap,
    }
    model = ChangePayload(report=report_summary(ReportRow(**row))).model_dump(mode="json")
    assert {"report": ingest._summary(row)} == {k: v for k, v in model.items() if v is not None}


def test_a_receipt_built_from_the_row_is_the_stored_row_s() -> None:
    now = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    row = {
        "id": "6c1f1e0e-5a7b-4c8e-9a51-2d9f0a4e7c33",
        "report_hash": "ab" * 32,
        "sequence": 3,
        "received_at": now,
        "chain_gap": False,
        "agent_id": "a1",
    }
    stored = ReportRow(**row)
    assert ingest._receipt(row, duplicate=True) == ingest.receipt_of(stored, duplicate=True)


def test_postgresql_statistics_follow_what_ingest_loaded(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small reports of new findings (a new client's first nights) get the planner's statistics
    refreshed like one large one: without them every lookup by (site, ident) reads the whole site.
    The first refresh comes early; the next once as many rows again were loaded as the table held."""
    monkeypatch.setattr(persist._Loads, "FIRST", 150)
    monkeypatch.setattr(persist, "_loads", persist._Loads())
    seen: list[tuple[int, str]] = []
    night = 0

    def spy(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.startswith("ANALYZE (SKIP_LOCKED) findings "):  # the feed has its own schedule
            seen.append((night, "ANALYZE findings"))

    event.listen(collector.db.engine, "before_cursor_execute", spy)
    agent = collector.enroll("acme", "new-client")
    for night in range(1, 8):
        items = [
            finding(f"10.1.{night}.{h}", e, 1000 + i) for i, e in enumerate(list(Exposure)[:10]) for h in range(1, 7)
        ]
        assert (
            collector.post(agent, agent.chain.next(findings=items, targets=[f"10.1.{night}.0/24"])).status_code == 201
        )
    if collector.db.engine.dialect.name != "postgresql":
        assert seen == []
        return
    # 60 findings a night: the 150th row is loaded on the third night (180 rows in the table); the
    # next refresh after 180 more rows, on the sixth night.
    assert seen == [(3, "ANALYZE findings"), (6, "ANALYZE findings")]
    assert persist._loads._due["findings"] == 360


def test_statistics_are_due_again_after_as_many_rows_as_the_table_held() -> None:
    loads = persist._Loads()
    assert not loads.add("t", persist._Loads.FIRST - 1)
    assert loads.add("t", 1)
    loads.measured("t", 4_000.0)
    assert not loads.add("t", 3_999)
    assert loads.add("t", 1)
    loads.measured("t", 10.0)  # never below the first step
    assert not loads.add("t", persist._Loads.FIRST - 1)
    assert loads.add("t", 1)
    loads.measured("t", 5e6)  # never more than the largest step
    assert loads.add("t", persist._Loads.MOST)


@given(when=_times, offset=_offsets)
def test_json_time_remembers_a_time_by_identity_never_an_equal_one_in_another_offset(
    when: datetime, offset: timezone
) -> None:
    from pydantic import TypeAdapter

    from duecare.collector.schemas import json_time

    dump = TypeAdapter(datetime).dump_python
    same_instant = when.astimezone(offset)
    assert json_time(when) == dump(when, mode="json")
    assert json_time(when) == dump(when, mode="json")  # remembered
    assert json_time(same_instant) == dump(same_instant, mode="json")  # equal, not identical: its own text


def _identity(collector: Collector, agent: Enrolled) -> ingest.AgentIdentity:
    """What the route knows of the agent once its credential was checked."""
    with collector.db.read() as s:
        key = s.execute(select(Agent.public_key).where(Agent.id == agent.agent_id)).scalar_one()
    return ingest.AgentIdentity(agent.agent_id, agent.site_id, agent.client_id, key)


def _twice_at_once(db: Any, identity: ingest.AgentIdentity, signed: SignedReport) -> list[ingest.IngestResult]:
    checked = ingest.check_report(identity, signed)
    start = threading.Barrier(2)
    results: list[ingest.IngestResult] = []

    def post() -> None:
        start.wait()
        results.append(ingest.ingest(db, identity, signed, checked))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_report_posted_twice_at_once_is_stored_once(collector: Collector) -> None:
    """An agent that retries while its first post is still in flight: one post stores the report, the
    other waits for the agent's row and answers the same receipt as a duplicate (on PostgreSQL the
    waiting transaction's first read cannot see the stored report: its INSERT fails on the report's
    key and ingest's second try finds it)."""
    agent = collector.enroll("acme", "hq")
    identity = _identity(collector, agent)
    for night in range(8):
        body = agent.chain.next(findings=[finding(f"10.3.0.{night}", Exposure.RDP_EXPOSED, 3389)])
        results = _twice_at_once(collector.db, identity, SignedReport.model_validate(body))
        assert sorted(r.created for r in results) == [False, True]
        first, second = (r.receipt.model_dump(exclude={"duplicate"}) for r in results)
        assert first == second and first["sequence"] == night + 1
    with collector.db.read() as s:
        assert s.execute(select(func.count()).select_from(ReportRow)).scalar_one() == 8


@pytest.mark.parametrize("gone", ["revoked", "client removed"])
def test_an_agent_revoked_or_removed_while_its_report_was_checked_gets_401(collector: Collector, gone: str) -> None:
    """The credential is checked before the ingest transaction; what happens in between is seen under
    the agent's row lock: a 401 naming it, never a 500, and nothing stored."""
    agent = collector.enroll("acme", "hq")
    identity = _identity(collector, agent)
    signed = SignedReport.model_validate(agent.chain.next(findings=[finding("10.3.1.1", Exposure.RDP_EXPOSED, 3389)]))
    checked = ingest.check_report(identity, signed)
    if gone == "revoked":
        admin.revoke_agent(collector.db, agent.agent_id)
    else:
        admin.remove_client(collector.db, "acme")
    with pytest.raises(Unauthorized, match="revoked" if gone == "revoked" else "no longer exists"):
        ingest.ingest(collector.db, identity, signed, checked)
    with collector.db.read() as s:
        assert s.execute(select(func.count()).select_from(ReportRow)).scalar_one() == 0


@pytest.mark.slow
def test_copy_writes_each_time_as_the_utc_column_would(pg_collector: Collector) -> None:
    """PostgreSQL's COPY takes times as text made by the collector (``persist.copy_rows``; SQLite binds
    through the column type): the same instants come back, whatever offset they were given in, and a
    naive time is refused as the column type refuses it."""
    collector = pg_collector
    agent = collector.enroll("acme", "times")
    given = [
        datetime(2026, 11, 1, 2, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 1, 3, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    ]
    names = ("id", "client_id", "site_id", "kind", "subject", "report_id", "created_at", "payload")
    rows = [(10**12 + i, agent.client_id, agent.site_id, "report", "s", None, t, {}) for i, t in enumerate(given)]
    with collector.db.write() as s:
        persist.copy_rows(s, Change.__table__, names, rows)  # type: ignore[arg-type]
        stored = s.execute(select(Change.created_at).where(Change.id >= 10**12).order_by(Change.id)).scalars()
        assert list(stored) == given
        s.rollback()
    naive = [(10**12, agent.client_id, agent.site_id, "report", "s", None, datetime(2026, 11, 1), {})]
    with collector.db.write() as s, pytest.raises(ValueError, match="naive"):
        persist.copy_rows(s, Change.__table__, names, naive)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_report_of_new_findings_takes_six_statements_on_postgresql(pg_collector: Collector) -> None:
    """What a report of new findings costs PostgreSQL in statements, each a round trip (~0.3 ms of CPU
    on the two sides, bench/README.md): the agent's credential read outside any transaction (no
    BEGIN and ROLLBACK around it), then in one transaction the first read, the site's rows
    (findings and assets, each by name and by range in one; obligations), and the feed's counter
    bumped with the report's row and the site's and the agent's marks in one statement; the rows
    themselves go by COPY."""
    collector = pg_collector
    agent = collector.enroll("acme", "trips")
    seen: list[tuple[str, bool]] = []

    def spy(conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        raw = conn.connection.driver_connection
        seen.append((" ".join(statement.split()[:3]), raw.autocommit))

    def items(net: int) -> list[Any]:
        return [finding(f"10.9.{net}.{h}", e, 1000 + i) for i, e in enumerate(list(Exposure)[:5]) for h in range(1, 5)]

    # The site's second report, as every night's after the first.
    assert collector.post(agent, agent.chain.next(findings=items(1), targets=["10.9.1.0/24"])).status_code == 201
    event.listen(collector.db.engine, "before_cursor_execute", spy)
    try:
        assert collector.post(agent, agent.chain.next(findings=items(2), targets=["10.9.2.0/24"])).status_code == 201
    finally:
        event.remove(collector.db.engine, "before_cursor_execute", spy)
    assert seen[0] == ("SELECT agents.id, agents.site_id,", True)  # the credential, outside a transaction
    assert all(not autocommit for _, autocommit in seen[1:])
    assert [s for s, _ in seen[1:]] == [
        "SELECT agents.last_report_id, agents.last_report_hash,",
        "SELECT findings.id, findings.client_id,",  # those it names and those it may resolve, in one
        "SELECT assets.id, assets.client_id,",  # the same
        "SELECT obligations.id, obligations.client_id,",
        "WITH site_marked AS",
    ]
    with collector.db.read() as s:
        assert s.execute(select(func.count()).select_from(Change)).scalar_one() > 40
        assert s.execute(select(func.count()).select_from(ReportRow)).scalar_one() == 2


@pytest.mark.slow
def test_a_steady_report_takes_five_statements_on_postgresql(pg_collector: Collector) -> None:
    """The same findings again (a quiet night): the credential, the first read, then the site's rows
    seen again, the site's and the agent's marks and the report's row in one statement, and the
    report's one feed entry (the counter's bump, then a plain INSERT)."""
    collector = pg_collector
    agent = collector.enroll("acme", "steady")
    same = [finding(f"10.9.3.{h}", e, 1000 + i) for i, e in enumerate(list(Exposure)[:5]) for h in range(1, 5)]
    seen: list[str] = []

    def spy(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    for night in range(4):  # new, new → open, settled (the site's fingerprint kept), steady
        if night == 3:
            event.listen(collector.db.engine, "before_cursor_execute", spy)
        assert collector.post(agent, agent.chain.next(findings=same, targets=["10.9.3.0/24"])).status_code == 201
    event.remove(collector.db.engine, "before_cursor_execute", spy)
    assert seen == [
        "SELECT agents.id, agents.site_id,",
        "SELECT agents.last_report_id, agents.last_report_hash,",
        "WITH findings_seen AS",
        "UPDATE counters SET",
        "INSERT INTO changes",
    ]
    with collector.db.read() as s:
        assert s.execute(select(func.count()).select_from(ReportRow)).scalar_one() == 4
        assert s.execute(select(Agent.report_count).where(Agent.id == agent.agent_id)).scalar_one() == 4

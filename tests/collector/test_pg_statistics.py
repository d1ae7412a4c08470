"""PostgreSQL plans that hold only with planner statistics, which the collector refreshes itself as it
loads rows (``persist._Loads``; autovacuum may be off, or minutes late): a page of the feed walks the
primary key instead of sorting every entry after the cursor (with the feed never measured, a pull of
100,000 changes sorted the rest of the feed, on disk, for each of its 20 pages)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from duecare.collector import persist, queries
from duecare.collector.api.routes.exports import PAGE
from duecare.wire import Exposure
from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import finding


def _plan(collector: Collector, cursor: int, limit: int) -> str:
    engine = collector.db.engine
    stmt = queries.feed_page(queries.Filters(), cursor, limit)
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))


def _night(collector: Collector, agent: Enrolled, night: int) -> None:
    items = [finding(f"10.2.{night}.{h}", e, 1000 + i) for i, e in enumerate(list(Exposure)[:10]) for h in range(1, 11)]
    resp = collector.post(agent, agent.chain.next(findings=items, targets=[f"10.2.{night}.0/24"]))
    assert resp.status_code == 201, resp.text


def _fill(collector: Collector, nights: int) -> Enrolled:
    agent = collector.enroll("acme", "hq")
    for night in range(nights):
        _night(collector, agent, night)
    return agent


def _fill_with_statistics(
    collector: Collector, monkeypatch: pytest.MonkeyPatch, nights: int, *, kept: bool
) -> Enrolled:
    """``_fill``, the collector keeping the statistics from its 500th row on (``kept``) or never."""
    monkeypatch.setattr(persist._Loads, "FIRST", 500 if kept else 10**9)
    monkeypatch.setattr(persist, "_loads", persist._Loads())
    return _fill(collector, nights)


def test_a_feed_page_walks_the_primary_key_once_the_feed_was_measured(
    pg_collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 7,771 entries, more than a page: measured after 5, 10, 19 and 37 reports.
    _fill_with_statistics(pg_collector, monkeypatch, 70, kept=True)
    assert persist._loads._due["changes"] > 2000  # measured more than once
    plan = _plan(pg_collector, 0, PAGE)
    assert "Index Scan using pk_changes" in plan and "Sort" not in plan, plan


def test_without_the_collector_s_statistics_the_same_page_sorts_the_feed(
    pg_collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the test above guards against (autovacuum is off on the test server)."""
    _fill_with_statistics(pg_collector, monkeypatch, 70, kept=False)
    assert "Sort" in _plan(pg_collector, 0, PAGE)


def _lookup_plan(collector: Collector, agent: Enrolled, night: int) -> str:
    """How PostgreSQL reads the findings a report names (the first part of the statement that reads
    them and the live rows it may resolve, ``site_state._named_or_candidate``): the statement and
    parameters of a report that names again night ``night``'s 100 findings, explained."""
    engine = collector.db.engine
    seen: list[tuple[str, Any]] = []

    def spy(_conn: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("SELECT findings.id, findings.client_id"):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", spy)
    try:
        _night(collector, agent, night)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    (sql, params), *_ = seen
    with engine.connect() as conn:
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
    named, _candidates = plan.split("\n  ->  ")[1:3]  # the two parts under the Append
    assert "ident" in named and "ip_key" in _candidates, plan
    return named


def test_a_report_s_lookup_by_ident_takes_the_unique_index_once_measured(
    pg_collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report's findings by (site, ident): the statistics the collector keeps are of the indexed
    columns only (``persist._planned``), which is what this choice needs."""
    agent = _fill_with_statistics(pg_collector, monkeypatch, 40, kept=True)
    plan = _lookup_plan(pg_collector, agent, 39)
    assert "uq_findings_site_ident" in plan and "ix_findings_site_agent_status" not in plan, plan
    assert set(persist._planned(persist.FINDINGS)) >= {"site_id", "ident", "last_agent_id", "status", "ip_key"}
    assert "data" not in persist._planned(persist.FINDINGS) and "title" not in persist._planned(persist.FINDINGS)


def test_without_the_collector_s_statistics_the_lookup_reads_the_whole_site(
    pg_collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unmeasured, the findings table looks tiny, and so does every site in it."""
    agent = _fill_with_statistics(pg_collector, monkeypatch, 40, kept=False)
    assert "ix_findings_site_agent_status" in _lookup_plan(pg_collector, agent, 39)

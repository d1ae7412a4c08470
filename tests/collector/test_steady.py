"""The steady night (collector/ingest.py ``_is_steady``): the same report again skips the lifecycle,
and the site's state, the feed and the receipts are exactly what the full path would have made."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from duecare.collector import admin, ingest
from duecare.collector.db.models import AssetState, Change, FindingState, ObligationState, Site
from duecare.wire import Exposure, ObligationStatus, SignedReport
from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import BASE_TIME, finding, make_report, obligations

SAME = [finding(f"198.18.0.{h}", e, 1000 + i) for i, e in enumerate(list(Exposure)[:3]) for h in (5, 6)]
OBLIGATIONS = obligations(("baseline", "r1", ObligationStatus.MET))


def _steady_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = ingest._track_steady

    def spy(*args: Any) -> None:
        calls.append(args[3])  # the report id
        real(*args)

    monkeypatch.setattr(ingest, "_track_steady", spy)
    return calls


def _state(c: Collector, site_id: str) -> list[Any]:
    """The site's rows without ids and names that differ between two sites."""
    out: list[Any] = []
    with c.db.read() as s:
        for model in (FindingState, AssetState, ObligationState):
            table: Any = model.__table__
            skip = {"id", "site_id", "client_id", "last_agent_id", "last_report_id", "changed_by_report_id"}
            cols = [col for col in table.c if col.name not in skip]
            rows = s.execute(select(*cols).where(table.c.site_id == site_id)).mappings().all()
            out.append(sorted((sorted((k, str(v)) for k, v in r.items()) for r in rows), key=str))
        kinds = s.execute(select(Change.kind).where(Change.site_id == site_id).order_by(Change.id)).scalars().all()
        out.append(list(kinds))
    return out


def _post_nights(c: Collector, agent: Enrolled, nights: list[list[Any]]) -> None:
    for findings in nights:
        resp = c.post(agent, agent.chain.next(findings=findings, obligation_summary=OBLIGATIONS))
        assert resp.status_code == 201, resp.text


NIGHTS = [SAME, SAME, SAME, SAME, SAME[:-1], SAME[:-1], SAME[:-1], SAME, SAME, SAME]


def test_steady_path_is_taken_and_matches_the_full_path(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _steady_calls(monkeypatch)
    fast = collector.enroll("acme", "fast")
    _post_nights(collector, fast, NIGHTS)
    # night 1 new, 2 new→open, 3 settles (fingerprint), 4 steady; 5 resolves, 6 settles, 7 steady;
    # 8 reopens, 9 reopened→open, 10 settles: two steady nights.
    assert len(calls) == 2
    monkeypatch.setattr(ingest, "_is_steady", lambda *a: False)
    full = collector.enroll("acme", "full")
    _post_nights(collector, full, NIGHTS)
    assert len(calls) == 2
    assert _state(collector, fast.site_id) == _state(collector, full.site_id)


def test_another_agent_between_two_same_reports_takes_the_full_path(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _steady_calls(monkeypatch)
    first = collector.enroll("acme", "two")
    second = collector.enroll("acme", "two", admin.mint_enrollment_token(collector.db, "acme", "two").secret)
    _post_nights(collector, first, [SAME, SAME, SAME])
    _post_nights(collector, second, [SAME[:1]])
    _post_nights(collector, first, [SAME])
    assert calls == []
    _post_nights(collector, first, [SAME])
    assert len(calls) == 1


def test_a_report_older_than_what_the_site_saw_takes_the_full_path(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _steady_calls(monkeypatch)
    agent = collector.enroll("acme", "late")
    _post_nights(collector, agent, [SAME, SAME, SAME])
    body = agent.chain.next(findings=SAME, obligation_summary=OBLIGATIONS, started_at=BASE_TIME - timedelta(days=1))
    assert collector.post(agent, body).status_code == 201
    assert calls == []


def _feed(c: Collector, site_id: str) -> list[Any]:
    """The site's feed without the ids and names that differ between two sites."""

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            skip = {"id", "site_id", "client_id", "report_id", "last_report_id", "changed_by_report_id", "agent_id"}
            return {k: scrub(v) for k, v in value.items() if k not in skip}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    with c.db.read() as s:
        rows = s.execute(select(Change.kind, Change.payload).where(Change.site_id == site_id).order_by(Change.id))
        return [(kind, scrub(payload)) for kind, payload in rows if kind != "report"]


def test_large_reports_tracked_ahead_of_the_lock_match_the_full_path(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[bool] = []
    real = ingest._Plan.holds

    def spy(self: ingest._Plan, site: ingest._SiteMark) -> bool:
        planned.append(real(self, site))
        return planned[-1]

    monkeypatch.setattr(ingest._Plan, "holds", spy)
    monkeypatch.setattr(ingest, "PLAN_AHEAD_ITEMS", 1)
    ahead = collector.enroll("acme", "ahead")
    _post_nights(collector, ahead, NIGHTS)
    if collector.db.gate is None:
        assert planned == []  # PostgreSQL: writers do not queue at one lock; nothing planned ahead
    else:
        assert len(planned) == len(NIGHTS) - 2 and all(planned)  # two steady nights need no plan
    monkeypatch.setattr(ingest, "PLAN_AHEAD_ITEMS", 10**9)
    full = collector.enroll("acme", "full")
    _post_nights(collector, full, NIGHTS)
    assert _state(collector, ahead.site_id) == _state(collector, full.site_id)
    assert _feed(collector, ahead.site_id) == _feed(collector, full.site_id)


def test_a_plan_made_before_another_report_landed_is_not_used(sqlite_collector: Collector) -> None:
    """SQLite only: on PostgreSQL no writer queues at one lock, so nothing is planned ahead."""
    collector = sqlite_collector
    agent = collector.enroll("acme", "stale")
    _post_nights(collector, agent, [SAME])
    body = agent.chain.next(findings=SAME[:-1], obligation_summary=OBLIGATIONS)
    identity = ingest.AgentIdentity(agent.agent_id, agent.site_id, agent.client_id, agent.chain.key.public_b64)
    checked = ingest.check_report(identity, SignedReport.model_validate(body))
    with collector.db.pinned() as conn:
        plan = ingest._plan(collector.db, identity, checked, conn)
    assert plan is not None
    with collector.db.read() as s:
        assert plan.holds(ingest._SiteMark.of(s.get_one(Site, agent.site_id)))
    _post_nights(collector, agent, [SAME])  # another report of the site lands first
    with collector.db.read() as s:
        assert not plan.holds(ingest._SiteMark.of(s.get_one(Site, agent.site_id)))
    # The stale plan's report is still stored correctly: tracked again under the lock.
    assert collector.post(agent, body).status_code == 201


def test_the_validation_cache_is_bounded_by_the_items_it_holds() -> None:
    cache = ingest._Validated()
    report = make_report(findings=SAME)
    for i in range(cache.MAX_TOTAL // len(SAME) + 10):
        cache.put(f"k{i}", report)
        cache.put(f"k{i}", report)  # held from the second sighting
    assert cache._total <= cache.MAX_TOTAL
    assert cache.get("k0") is None and cache.get(f"k{cache.MAX_TOTAL // len(SAME) + 9}") is not None


def test_the_validation_cache_holds_items_sent_twice_only() -> None:
    """Reports of new findings (each sent once) leave no models behind; a repeated one is held."""
    cache = ingest._Validated()
    report = make_report(findings=SAME)
    for i in range(cache.MAX_SEEN + 100):
        cache.put(f"new{i}", report)
    assert cache._total == 0 and not cache._items
    assert len(cache._seen) == cache.MAX_SEEN  # bounded: the oldest forgotten
    cache.put("again", report)
    assert cache.get("again") is None
    cache.put("again", report)
    assert cache.get("again") is not None and "again" not in cache._seen

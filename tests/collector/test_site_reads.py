"""Site reads narrowed by the (site, ip_key) index change no result: the same nights give the same
rows and feed with the SQL narrowing as with none, and every path that inserts a row (executemany,
staging on SQLite, COPY on PostgreSQL) gives it its key."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from duecare.collector import ingest, outside, site_state
from duecare.collector.db.models import AssetState, Change, FindingState
from duecare.collector.rows import ip_key
from duecare.wire import Exposure
from tests.collector.conftest import Collector
from tests.collector.factories import asset, finding

_EXPOSURES = list(Exposure)[:3]


def _hosts() -> list[str]:
    return (
        [f"10.0.1.{i}" for i in range(1, 31)]
        + [f"10.0.2.{i}" for i in range(1, 31)]
        + [f"2001:db8::{i:x}" for i in range(1, 21)]
        + [f"2001:db8:1::{i:x}" for i in range(1, 11)]
    )


def _night(keep: Any, targets: list[str], exclusions: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    hosts = [h for n, h in enumerate(_hosts()) if keep(n, h)]
    items = [finding(h, _EXPOSURES[n % 3], 100 + n % 3) for n, h in enumerate(hosts)]
    return {"findings": items, "assets": [asset(h) for h in hosts], "targets": targets, "exclusions": exclusions}


_NIGHTS = [
    _night(lambda n, h: True, ["10.0.0.0/16", "2001:db8::/47"]),
    # One /24 scanned, a third gone: only its findings may resolve, 10.0.2.x and IPv6 stay.
    _night(lambda n, h: h.startswith("10.0.1.") and n % 3, ["10.0.1.0/24"]),
    # IPv6 only, some gone; a range target and an exclusion.
    _night(lambda n, h: ":" in h and n % 4, ["2001:db8::/64", "10.0.2.1-10.0.2.9"], ["10.0.2.5"]),
    # Everything back, then many single-address targets (merged into bounded ranges), half gone.
    _night(lambda n, h: True, ["10.0.0.0/16", "2001:db8::/47"]),
    _night(lambda n, h: n % 2 == 0, [*_hosts()[::2], *_hosts()[1:40:4]]),
    # An unreadable scope: only the listed assets are covered.
    _night(lambda n, h: n % 5 == 0, ["not a target"]),
]


def _post_all(collector: Collector, site: str) -> list[Any]:
    agent = collector.enroll("acme", site)
    for night in _NIGHTS:
        resp = collector.post(agent, agent.chain.next(**night))
        assert resp.status_code == 201, resp.text
    with collector.db.read() as s:
        f = s.execute(
            select(FindingState.ident, FindingState.status, FindingState.status_changed_at).where(
                FindingState.site_id == agent.site_id
            )
        ).all()
        a = s.execute(select(AssetState.ip, AssetState.status).where(AssetState.site_id == agent.site_id)).all()
        c = s.execute(select(Change.kind, Change.subject).where(Change.site_id == agent.site_id).order_by(Change.id))
        feed = [(kind, "" if kind == "report" else subject) for kind, subject in c]
    return [sorted(map(tuple, f), key=str), sorted(map(tuple, a)), feed]


@pytest.mark.parametrize("plan_ahead", [10, 10**9], ids=["staged", "locked"])
def test_narrowed_reads_change_nothing_and_every_row_has_its_key(
    collector: Collector, monkeypatch: pytest.MonkeyPatch, plan_ahead: int
) -> None:
    monkeypatch.setattr(ingest, "PLAN_AHEAD_ITEMS", plan_ahead)
    narrowed = _post_all(collector, "narrowed")
    with monkeypatch.context() as m:
        m.setattr(site_state, "key_ranges", lambda coverage: [(bytes(16), b"\xff" * 16)])  # the whole site
        whole = _post_all(collector, "whole")
    assert narrowed == whole
    resolved = sum(1 for kind, _s in narrowed[2] if kind == "finding") - len(_hosts())
    assert resolved > 50  # the nights did resolve (and bring back) findings: the narrowing was exercised
    with collector.db.read() as s:
        for table in (FindingState, AssetState):
            rows = s.execute(select(table.ip, table.ip_key)).all()
            assert rows and all(k is not None and bytes(k) == ip_key(ip) for ip, k in rows)


def test_a_report_asks_for_marked_rows_through_the_partial_index(sqlite_collector: Collector) -> None:
    """``outside._ANY_MARKED`` (run at every inside report) reads the rows an outside view marked, never
    the site: SQLite took the (site, agent, status) index for it once that index lost its report column."""
    engine = sqlite_collector.db.engine
    sql = str(outside._ANY_MARKED.params(site="st_x").compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = [r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        assert conn.exec_driver_sql(sql).first() is None
    assert plan == ["SEARCH findings USING INDEX ix_findings_site_exposed (site_id=? AND status=?)"], plan


def test_lookups_of_more_keys_than_one_sqlite_statement_binds(collector: Collector) -> None:
    """A report naming 1,300 findings on 260 hosts, then one that resolves them all: SQLite looks them up
    500 keys at a time (its bound-parameter limit), PostgreSQL with one array; every row is found."""
    hosts = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(260)]
    items = [finding(h, e, 100 + n) for h in hosts for n, e in enumerate(list(Exposure)[:5])]
    agent = collector.enroll("acme", "wide")
    for night in ({"findings": items}, {"findings": items}, {"findings": [], "assets": []}):
        resp = collector.post(agent, agent.chain.next(targets=["10.1.0.0/16"], **night))
        assert resp.status_code == 201, resp.text
    with collector.db.read() as s:
        statuses = s.execute(select(FindingState.status).where(FindingState.site_id == agent.site_id)).scalars()
        assets = s.execute(select(AssetState.status).where(AssetState.site_id == agent.site_id)).scalars()
        assert sorted(statuses) == ["resolved"] * len(items)
        assert sorted(assets) == ["vanished"] * len(hosts)
        kinds = s.execute(select(Change.kind).where(Change.site_id == agent.site_id)).scalars().all()
    # new, then open (a second sighting), then resolved: three entries per finding, none doubled.
    assert kinds.count("finding") == 3 * len(items)

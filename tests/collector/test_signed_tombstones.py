"""Tombstones the agent signed are stored with their signature; forged or altered ones are a 422 that
names the tombstone and nothing of the report is stored; an older agent's unsigned one is kept, marked."""

from __future__ import annotations

from sqlalchemy import select

from duecare.collector.db.models import DroppedReport
from duecare.collector.db.models import Report as ReportRow
from tests.collector.conftest import Collector
from tests.collector.factories import AgentKey


def _no_report_stored(collector: Collector, body: dict[str, object]) -> bool:
    with collector.db.read() as s:
        report = body["report"]
        assert isinstance(report, dict)
        stmt = select(ReportRow.id).where(ReportRow.id == report["report_id"])
        return s.scalars(stmt).first() is None and s.scalars(select(DroppedReport.id)).first() is None


def test_signed_tombstone_is_stored_with_its_signature(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    assert collector.post(agent, agent.chain.next()).status_code == 201
    stone = agent.chain.skip()
    assert collector.post(agent, agent.chain.next(tombstones=[stone])).status_code == 201
    with collector.db.read() as s:
        row = s.scalars(select(DroppedReport)).one()
        assert row.signature == stone.signature and row.report_hash == stone.report_hash


def test_unsigned_tombstone_of_an_older_agent_is_kept_marked_unsigned(collector: Collector) -> None:
    """Refusing it would lose the report that carries it and every later one of that agent."""
    agent = collector.enroll("acme", "hq")
    assert collector.post(agent, agent.chain.next()).status_code == 201
    stone = agent.chain.skip().model_copy(update={"signature": None})
    resp = collector.post(agent, agent.chain.next(tombstones=[stone]))
    assert resp.status_code == 201, resp.text
    with collector.db.read() as s:
        row = s.scalars(select(DroppedReport)).one()
        assert row.signature is None and row.report_id == str(stone.report_id)
    feed = collector.http.get("/v1/changes", headers=collector.reader("acme")).json()
    dropped = [c["dropped_report"] for c in feed["changes"] if c["kind"] == "dropped_report"]
    assert [(d["report_id"], d["signature"]) for d in dropped] == [(str(stone.report_id), None)]


def test_forged_and_altered_tombstones_are_422(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    real = agent.chain.skip()
    forged = AgentKey().sign_tombstone(real.model_copy(update={"signature": None}))  # someone else's key
    altered = real.model_copy(update={"report_hash": "f" * 64})  # the agent's signature, another hash
    for i, bad in enumerate((forged, altered)):
        body = agent.chain.next(tombstones=[real, bad] if i else [bad])
        resp = collector.post(agent, body)
        assert resp.status_code == 422, resp.text
        assert f"tombstones.{i}" in resp.json()["detail"] and "not signed by this agent's key" in resp.json()["detail"]
        assert _no_report_stored(collector, body)
        agent.chain.previous = None  # the refused report never entered the collector's chain

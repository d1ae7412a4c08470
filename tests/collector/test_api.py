"""POST /v1/reports and the read side, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import gc

import pytest
from sqlalchemy import func, select

from duecare.collector.app import GC_YOUNG
from duecare.collector.db.models import ChainGap, Change, DroppedReport, FindingState
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.ids import Ids, Kind
from duecare.wire import Exposure, Receipt, report_hash
from tests.collector.conftest import Collector
from tests.collector.factories import finding


def _count(collector: Collector, model: type) -> int:
    with collector.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_healthz(collector: Collector) -> None:
    resp = collector.http.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_readyz_checks_writes_schema_and_disk(collector: Collector) -> None:
    resp = collector.http.get("/readyz")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "ready"
    assert all(body[k]["ok"] for k in ("database_writable", "migrations_current", "free_disk"))


def test_readyz_says_what_is_wrong(database: object) -> None:
    from tests.collector.conftest import make_collector

    gen = make_collector(database, min_free_disk_mb=10**9)  # type: ignore[arg-type]
    collector = next(gen)
    try:
        resp = collector.http.get("/readyz")
        if collector.db.engine.dialect.name == "sqlite":
            assert resp.status_code == 503
            assert resp.json()["status"] == "not_ready" and not resp.json()["free_disk"]["ok"]
            assert "MiB free" in resp.json()["free_disk"]["detail"]
        else:
            assert resp.status_code == 200  # the disk of a database server is not ours to see
        from duecare.collector.db import migrate

        migrate.downgrade(collector.db.engine, "0001")
        resp = collector.http.get("/readyz")
        assert resp.status_code == 503 and "collector init" in resp.json()["migrations_current"]["detail"]
        migrate.upgrade(collector.db.engine)
    finally:
        gen.close()


def test_report_stored_with_receipt_and_site_filled_in(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50")])
    resp = collector.post(agent, body)
    assert resp.status_code == 201, resp.text
    receipt = Receipt.model_validate(resp.json())
    assert receipt.report_hash == report_hash(body["report"])
    assert not receipt.duplicate and not receipt.chain_gap
    with collector.db.read() as s:
        row = s.get_one(ReportRow, (agent.client_id, str(receipt.report_id)))
        assert row.site_id == agent.site_id and row.sequence == receipt.sequence


def test_same_report_twice_gives_the_same_receipt(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50")])
    first = collector.post(agent, body).json()
    again = collector.post(agent, body)
    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True}
    assert _count(collector, ReportRow) == 1
    assert _count(collector, FindingState) == 1


def test_same_id_different_body_is_409(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50")])
    assert collector.post(agent, body).status_code == 201
    other = copy.deepcopy(body)
    other["report"]["catalog_version"] = "changed"
    other["signature"] = agent.chain.key.sign(other["report"])
    resp = collector.post(agent, other)
    assert resp.status_code == 409
    assert "different body" in resp.json()["detail"]


def test_tampered_report_is_422_and_stores_nothing(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50")])
    body["report"]["findings"] = []  # signed with the finding, sent without it
    resp = collector.post(agent, body)
    assert resp.status_code == 422
    assert "does not verify" in resp.json()["detail"]
    assert _count(collector, ReportRow) == 0


def test_signature_checked_over_raw_object_not_a_reserialised_model(collector: Collector) -> None:
    """Fields at their defaults left out by the agent: the model would add them back."""
    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50")])
    raw = {k: v for k, v in body["report"].items() if v is not None and v != []}
    body = {"report": raw, "signature": agent.chain.key.sign(raw), "tombstones": []}
    resp = collector.post(agent, body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["report_hash"] == report_hash(raw)


def test_signed_garbage_is_422_not_500(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    raw = {"report_id": "not-a-uuid", "findings": "nope"}
    resp = collector.post(agent, {"report": raw, "signature": agent.chain.key.sign(raw)})
    assert resp.status_code == 422
    assert "not a valid wire Report" in resp.json()["detail"]


def test_bad_signature_encoding_is_422(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    body = agent.chain.next()
    body["signature"] = "!" * 88
    resp = collector.post(agent, body)
    assert resp.status_code == 422 and "base64" in resp.json()["detail"]


def test_no_or_wrong_credential_is_401(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    body = agent.chain.next()
    assert collector.http.post("/v1/reports", json=body).status_code == 401
    resp = collector.http.post("/v1/reports", json=body, headers={"authorization": "Bearer dca_nope"})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"


def test_chain_gap_is_stored_and_said(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    assert collector.post(agent, agent.chain.next()).status_code == 201
    lost = agent.chain.next()  # made, never delivered
    third = agent.chain.next()
    resp = collector.post(agent, third)
    assert resp.status_code == 201
    assert resp.json()["chain_gap"] is True
    with collector.db.read() as s:
        gap = s.scalars(select(ChainGap)).one()
        assert gap.got == report_hash(lost["report"])
        assert gap.expected != gap.got and not gap.explained_by_tombstone
        assert s.scalars(select(Change).where(Change.kind == "chain_gap")).one().subject == agent.agent_id


def test_tombstones_recorded_and_explain_the_gap(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    assert collector.post(agent, agent.chain.next()).status_code == 201
    tomb = agent.chain.skip()
    resp = collector.post(agent, agent.chain.next(tombstones=[tomb]))
    assert resp.json()["chain_gap"] is True
    with collector.db.read() as s:
        dropped = s.scalars(select(DroppedReport)).one()
        assert dropped.report_id == str(tomb.report_id) and dropped.report_hash == tomb.report_hash
        assert s.scalars(select(ChainGap)).one().explained_by_tombstone


def test_first_report_with_a_previous_hash_is_a_gap(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    agent.chain.next()  # the collector never saw this one
    assert collector.post(agent, agent.chain.next()).json()["chain_gap"] is True


def test_agent_cannot_post_for_another_site(collector: Collector) -> None:
    x = collector.enroll("acme", "x")
    y = collector.enroll("acme", "y")
    resp = collector.post(x, x.chain.next(site_id=y.site_id))
    assert resp.status_code == 403
    assert "site" in resp.json()["detail"]
    resp = collector.post(x, x.chain.next(agent_id=y.agent_id))
    assert resp.status_code == 403
    assert _count(collector, ReportRow) == 0


def test_explicit_own_site_is_accepted(collector: Collector) -> None:
    x = collector.enroll("acme", "x")
    assert collector.post(x, x.chain.next(site_id=x.site_id, agent_id=x.agent_id)).status_code == 201


def test_nothing_half_written_when_the_transaction_fails(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    from duecare.collector import changes

    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50"), finding("198.18.0.51")])

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(changes, "record", boom)
    with pytest.raises(RuntimeError):
        collector.post(agent, body)
    monkeypatch.undo()
    for model in (ReportRow, FindingState, Change):
        assert _count(collector, model) == 0
    assert collector.post(agent, body).status_code == 201  # and the retry goes through
    assert _count(collector, FindingState) == 2


def test_findings_lifecycle_through_the_api(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    reader = collector.reader()
    telnet, redis = finding("198.18.0.50"), finding("198.18.0.70", Exposure.REDIS_NO_AUTH, 6379)

    def statuses() -> dict[str, str]:
        page = collector.http.get("/v1/findings", headers=reader).json()
        return {f["exposure"]: f["status"] for f in page["findings"]}

    collector.post(agent, agent.chain.next(findings=[telnet, redis]))
    assert statuses() == {"telnet-exposed": "new", "redis-no-auth": "new"}
    collector.post(agent, agent.chain.next(findings=[telnet, redis]))
    assert statuses() == {"telnet-exposed": "open", "redis-no-auth": "open"}
    collector.post(agent, agent.chain.next(findings=[telnet]))  # redis fixed; .70 inside the scope
    assert statuses() == {"telnet-exposed": "open", "redis-no-auth": "resolved"}
    collector.post(agent, agent.chain.next(findings=[telnet, redis]))
    assert statuses() == {"telnet-exposed": "open", "redis-no-auth": "reopened"}
    page = collector.http.get("/v1/findings", params={"status": "reopened"}, headers=reader).json()
    assert [f["exposure"] for f in page["findings"]] == ["redis-no-auth"]


def test_changes_feed_pages_without_loss(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    reader = collector.reader()
    for i in range(5):
        collector.post(agent, agent.chain.next(findings=[finding(f"198.18.0.{10 + i}")]))
    seen: list[str] = []
    cursor = "0"
    while True:
        page = collector.http.get("/v1/changes", params={"cursor": cursor, "limit": 3}, headers=reader).json()
        seen += [c["id"] for c in page["changes"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    with collector.db.read() as s:
        rows = s.execute(select(Change.client_id, Change.id).order_by(Change.id)).all()
        assert seen == [Ids.of(s, None).public(Kind.CHANGE, client, n) for client, n in rows]
    kinds = collector.http.get("/v1/changes", headers=reader).json()["changes"]
    assert {c["kind"] for c in kinds} == {"report", "finding", "asset"}
    empty = collector.http.get("/v1/changes", params={"cursor": cursor}, headers=reader).json()
    assert empty == {"changes": [], "next_cursor": cursor, "has_more": False}


def test_body_limit_refuses_a_large_declared_body(database: object) -> None:
    from tests.collector.conftest import make_collector

    gen = make_collector(database, max_body_bytes=4096)  # type: ignore[arg-type]
    collector = next(gen)
    try:
        agent = collector.enroll("acme", "hq")
        body = agent.chain.next(findings=[finding(f"198.18.0.{i}") for i in range(1, 40)])
        resp = collector.post(agent, body)
        assert resp.status_code == 413
        assert "4096" in resp.json()["detail"]
        assert _count(collector, ReportRow) == 0
        # A streamed body that outgrows the limit: see test_processes.py (needs a real server,
        # the test client reads the whole body before the app sees any of it).
    finally:
        gen.close()


def test_the_running_collector_collects_its_young_objects_less_often(collector: Collector) -> None:
    """Set at start-up (``app.GC_YOUNG``): a report's thousands of short-lived containers no longer
    trigger a young collection every 700 allocations."""
    assert collector.http.get("/healthz").status_code == 200
    assert gc.get_threshold()[0] == GC_YOUNG > 700

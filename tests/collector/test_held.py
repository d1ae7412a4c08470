"""The collector's side of held reports: the agent's signed notice is listed until the report arrives."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from typer.testing import CliRunner

from duecare.cli.collector import app
from duecare.collector import admin
from duecare.wire import HeldNotice, report_hash
from duecare.wire.envelope import held_payload
from tests.collector.conftest import Collector, Enrolled


def _notice(agent: Enrolled, body: dict[str, object]) -> dict[str, object]:
    report = body["report"]
    assert isinstance(report, dict)
    n = HeldNotice(
        report_id=report["report_id"],
        report_hash=report_hash(report),
        held_since=datetime(2026, 12, 1, tzinfo=UTC),
        reason="HTTP 500: Internal Server Error",
        signature="A" * 88,
    )
    sig = base64.b64encode(agent.chain.key._key.sign(held_payload(n))).decode()
    return n.model_copy(update={"signature": sig}).model_dump(mode="json")


def test_held_notice_is_listed_until_the_report_arrives(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    poison = agent.chain.next()
    clean = agent.chain.next()
    resp = collector.post(agent, {**clean, "held": [_notice(agent, poison)]})
    assert resp.status_code == 201, resp.text
    (held,) = admin.held_reports(collector.db, "acme")
    assert held.report_id == poison["report"]["report_id"] and "500" in held.reason
    out = CliRunner().invoke(app, ["held", "--db", str(collector.db.engine.url)])
    assert out.exit_code == 0 and poison["report"]["report_id"] in out.output
    assert collector.post(agent, poison).status_code == 201  # delivered at last: no longer held
    assert admin.held_reports(collector.db, "acme") == []


def test_a_forged_held_notice_is_422(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    other = collector.enroll("acme", "branch")
    notice = _notice(other, other.chain.next())
    resp = collector.post(agent, {**agent.chain.next(), "held": [notice]})
    assert resp.status_code == 422 and "held.0" in resp.json()["detail"]

"""Proof of notice: the collector signs every receipt with its own key; the agent keeps receipts beside
its chain; ``duecare verify --state-dir`` checks them, and a tampered receipt shows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duecare.agent.outbox import Outbox
from duecare.agent.state import Enrollment, StateDir
from duecare.cli.main import app
from duecare.wire import Receipt
from duecare.wire.signatures import SignatureError, public_key_b64, verify_receipt
from tests.collector.conftest import Collector
from tests.collector.factories import finding, make_report

runner = CliRunner()


def _agent(collector: Collector, tmp_path: Path) -> tuple[StateDir, Enrollment]:
    state = StateDir(tmp_path / "agent").ensure()
    key = state.key(create=True)
    token = collector.add_site("acme", "hq")
    resp = collector.http.post("/v1/enroll", json={"token": token, "public_key": public_key_b64(key)})
    assert resp.status_code == 201
    body = resp.json()
    assert body["collector_key"]
    enrollment = Enrollment(collector_url="http://test", **body)
    state.save_enrollment(enrollment)
    return state, enrollment


def _deliver(collector: Collector, state: StateDir, enrollment: Enrollment, n: int) -> list[Receipt]:
    outbox = Outbox(state.outbox_path)
    out = []
    for i in range(n):
        outbox.add(make_report(findings=[finding(f"198.18.0.{50 + i}")]), state.key())
        item = outbox.next_due()
        assert item is not None
        resp = collector.http.post(
            "/v1/reports",
            content=item.envelope.model_dump_json(),
            headers={"authorization": f"Bearer {enrollment.credential}", "content-type": "application/json"},
        )
        assert resp.status_code == 201, resp.text
        receipt = Receipt.model_validate_json(resp.content)
        outbox.delivered(item, receipt, [])
        out.append(receipt)
    return out


def test_receipts_are_signed_and_name_the_report_hash(collector: Collector, tmp_path: Path) -> None:
    state, enrollment = _agent(collector, tmp_path)
    (receipt,) = _deliver(collector, state, enrollment, 1)
    assert receipt.collector == "duecare collector" and receipt.agent_id == enrollment.agent_id
    verify_receipt(receipt, enrollment.collector_key)
    (item,) = Outbox(state.outbox_path).receipts()
    assert item[1] == receipt.report_hash
    # a repeat post answers the same notice, with the same signature
    reader = collector.reader("acme")
    stored = collector.http.get(f"/v1/reports/{receipt.report_id}", headers=reader).json()
    assert stored["receipt"]["signature"] == receipt.signature


def test_verify_checks_receipts_and_detects_tampering(collector: Collector, tmp_path: Path) -> None:
    state, enrollment = _agent(collector, tmp_path)
    receipts = _deliver(collector, state, enrollment, 2)
    ok = runner.invoke(app, ["verify", "--state-dir", str(state.path)])
    assert ok.exit_code == 0, ok.output
    assert "2 receipt(s): collector signatures valid" in ok.output

    forged = receipts[1].model_dump(mode="json") | {"received_at": "2026-12-31T00:00:00Z"}
    with sqlite3.connect(state.outbox_path) as db:
        db.execute("UPDATE delivered SET receipt = ? WHERE report_id = ?", (json.dumps(forged), forged["report_id"]))
    bad = runner.invoke(app, ["verify", "--state-dir", str(state.path)])
    assert bad.exit_code == 3
    assert "receipt signature does not verify" in bad.output


def test_a_receipt_from_another_key_is_refused(collector: Collector, tmp_path: Path) -> None:
    state, enrollment = _agent(collector, tmp_path)
    (receipt,) = _deliver(collector, state, enrollment, 1)
    other = StateDir(tmp_path / "other").ensure().key(create=True)
    with pytest.raises(SignatureError, match="pinned"):
        verify_receipt(receipt, public_key_b64(other))

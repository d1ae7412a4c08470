"""Tampered, reordered and missing reports, end to end through real processes: `duecare verify`
on real files and state dirs, and the real collector (422 for a bad signature; a chain gap
recorded and flagged in the receipt for a missing or reordered report)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from duecare.wire import Receipt, SignedReport
from tests.agent.live import DUECARE, REPO, AgentProcess, LiveCollector, wait_for

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DUECARE, "verify", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def _db(state_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(state_dir / "outbox.sqlite", isolation_level=None)


def _tamper(envelope: bytes) -> bytes:
    """Flip the first finding to "not affected", keeping the signature: what a cover-up would do."""
    env = SignedReport.model_validate_json(envelope)
    findings = list(env.report["findings"])
    findings[0] = {**findings[0], "verdict": "not_affected"}
    return env.model_copy(update={"report": {**env.report, "findings": findings}}).model_dump_json().encode()


def _receipts(state_dir: Path) -> dict[str, Receipt]:
    with _db(state_dir) as db:
        rows = db.execute("SELECT report_id, receipt FROM delivered").fetchall()
    return {rid: Receipt.model_validate_json(r) for rid, r in rows}


def _delivered_by_once(agent: AgentProcess) -> None:
    out = agent.once()
    assert out.returncode == 0, out.stderr


def test_verify_cli_on_files_from_the_collector_and_on_state_dirs(
    tmp_path: Path, live_agent: AgentProcess, live_collector: LiveCollector
) -> None:
    live_collector.start()
    live_agent.enroll(live_collector.url, live_collector.token)
    live_agent.write_config()
    _delivered_by_once(live_agent)
    live_agent.fill_outbox(2)
    _delivered_by_once(live_agent)
    stored = live_collector.reports()
    assert len(stored) == 4

    # The MSP's view: each report as the collector keeps it, written to a file, verified offline.
    files, key = [], ""
    reader = {"authorization": f"Bearer {live_collector.reader_key}"}
    for i, r in enumerate(stored):
        got = httpx.get(f"{live_collector.url}/v1/reports/{r.id}", headers=reader, timeout=30).json()
        key = got["agent_public_key"]
        path = tmp_path / f"r{i + 1}.json"
        path.write_text(SignedReport(report=got["report"], signature=got["signature"]).model_dump_json())
        files.append(str(path))
    ok = _verify(*files, "--public-key", key)
    assert ok.returncode == 0, ok.stderr
    assert "4 report(s): signatures valid, chain unbroken" in ok.stderr
    assert _verify("--state-dir", str(live_agent.state_dir)).returncode == 0

    tampered = tmp_path / "r2-tampered.json"
    tampered.write_bytes(_tamper(Path(files[1]).read_bytes()))
    bad = _verify(files[0], str(tampered), files[2], files[3], "--public-key", key)
    assert bad.returncode == 3
    assert f"{stored[1].id}: signature does not verify" in bad.stderr
    reordered = _verify(files[0], files[2], files[1], files[3], "--public-key", key)
    assert reordered.returncode == 3
    assert "chain broken" in reordered.stderr
    missing = _verify(files[0], files[1], files[3], "--public-key", key)
    assert missing.returncode == 3
    assert f"{stored[3].id}: chain broken" in missing.stderr

    # The agent's own state dir, edited behind its back (copies: the original stays sound).
    for case in ("tampered", "missing"):
        copy = tmp_path / f"state-{case}"
        shutil.copytree(live_agent.state_dir, copy)
        with _db(copy) as db:
            if case == "tampered":
                (env,) = db.execute("SELECT envelope FROM delivered WHERE report_id = ?", (stored[2].id,)).fetchone()
                db.execute("UPDATE delivered SET envelope = ? WHERE report_id = ?", (_tamper(env), stored[2].id))
            else:
                db.execute("DELETE FROM delivered WHERE report_id = ?", (stored[1].id,))
        out = _verify("--state-dir", str(copy))
        assert out.returncode == 3, case
        problem = "signature does not verify" if case == "tampered" else "chain broken"
        assert f"{stored[2].id}: {problem}" in out.stderr, out.stderr


def test_collector_refuses_tampered_and_flags_missing_and_reordered(
    live_agent: AgentProcess, live_collector: LiveCollector
) -> None:
    live_collector.start()
    live_agent.enroll(live_collector.url, live_collector.token)
    live_agent.write_config()
    _delivered_by_once(live_agent)
    (r1,) = [r.id for r in live_collector.reports()]

    # Round A: r2 altered after signing, r3 lost; then a normal --once cycle (r5).
    r2, r3, r4 = live_agent.fill_outbox(3)
    with _db(live_agent.state_dir) as db:
        (env,) = db.execute("SELECT envelope FROM pending WHERE report_id = ?", (r2,)).fetchone()
        db.execute("UPDATE pending SET envelope = ? WHERE report_id = ?", (_tamper(env), r2))
        db.execute("DELETE FROM pending WHERE report_id = ?", (r3,))
    _delivered_by_once(live_agent)
    with _db(live_agent.state_dir) as db:
        refused = db.execute("SELECT report_id, status, reason FROM refused").fetchall()
    assert [(rid, status) for rid, status, _ in refused] == [(r2, 422)]
    assert "signature" in refused[0][2]
    stored = [r.id for r in live_collector.reports()]
    assert r2 not in stored
    r5 = stored[-1]
    assert stored == [r1, r4, r5]
    receipts = _receipts(live_agent.state_dir)
    assert (receipts[r4].chain_gap, receipts[r5].chain_gap) == (True, False)

    # Round B: r7 delivered before r6 (the outbox order swapped); the daemon delivers at start.
    r6, r7 = live_agent.fill_outbox(2)
    with _db(live_agent.state_dir) as db:
        db.execute("UPDATE pending SET seq = seq + 1000 WHERE report_id = ?", (r6,))
    live_agent.start()
    wait_for("r6 and r7 at the collector", lambda: len(live_collector.reports()) == 5, timeout=30)
    assert live_agent.terminate()[0] == 0
    assert [r.id for r in live_collector.reports()][-2:] == [r7, r6]
    receipts = _receipts(live_agent.state_dir)
    assert (receipts[r7].chain_gap, receipts[r6].chain_gap) == (True, True)
    gaps = live_collector.chain_gaps()
    assert [g[0] for g in gaps] == [r4, r7, r6]
    hashes = {r.id: r.report_hash for r in live_collector.reports()}
    assert gaps[0][1] == hashes[r1]  # expected r1's hash, got r3's (never arrived)
    assert (gaps[1][1], gaps[2][1]) == (hashes[r5], hashes[r7])

    # And the agent's own check names every one of them.
    out = _verify("--state-dir", str(live_agent.state_dir))
    assert out.returncode == 3
    assert f"{r2}: signature does not verify" in out.stderr
    for rid in (r4, r7, r6):
        assert f"{rid}: chain broken" in out.stderr, out.stderr


@pytest.mark.parametrize("live_collector", [("--max-body-bytes", "65536")], indirect=True)
def test_report_refused_as_too_big_is_no_gap_in_the_agents_own_chain(
    live_agent: AgentProcess, live_collector: LiveCollector
) -> None:
    """413: the collector never saw the report, so it flags the next one; the agent's chain,
    which nobody touched, still verifies (the refused report is kept and counted in it)."""
    live_collector.start()
    live_agent.enroll(live_collector.url, live_collector.token)
    live_agent.write_config()
    _delivered_by_once(live_agent)
    (big,) = live_agent.fill_outbox(1, findings=400)
    _delivered_by_once(live_agent)
    with _db(live_agent.state_dir) as db:
        assert db.execute("SELECT report_id, status FROM refused").fetchall() == [(big, 413)]
    before, after = live_collector.reports()
    assert (before.chain_gap, after.chain_gap) == (False, True)
    assert live_agent.status()["outbox"]["refused"] == 1
    out = _verify("--state-dir", str(live_agent.state_dir))
    assert out.returncode == 0, out.stderr
    assert "3 report(s): signatures valid, chain unbroken" in out.stderr

"""Chain, signatures and the outbox: what `duecare verify` and the collector rely on."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from duecare.agent.outbox import Outbox
from duecare.agent.state import StateDir
from duecare.wire import Receipt, SignedReport, report_hash
from duecare.wire.signatures import verify_chain
from tests.agent.factories import make_report


def _outbox(tmp_path: Path, **kw: int) -> tuple[Outbox, Ed25519PrivateKey]:
    return Outbox(tmp_path / "outbox.sqlite", **kw), Ed25519PrivateKey.generate()


def test_chain_links_each_report_to_the_previous(tmp_path: Path) -> None:
    ob, key = _outbox(tmp_path)
    envs = [ob.add(make_report(), key)[0] for _ in range(3)]
    assert envs[0].report["previous_report_hash"] is None
    assert envs[1].report["previous_report_hash"] == report_hash(envs[0].report)
    assert envs[2].report["previous_report_hash"] == report_hash(envs[1].report)
    assert verify_chain(envs, key.public_key()) == []


def test_tampered_reordered_and_missing_reports_are_detected(tmp_path: Path) -> None:
    ob, key = _outbox(tmp_path)
    envs = [ob.add(make_report(), key)[0] for _ in range(4)]
    tampered = dict(envs[1].report, duecare_version="9.9.9")
    bad = [envs[0], SignedReport(report=tampered, signature=envs[1].signature), envs[2], envs[3]]
    assert any("signature" in p.problem for p in verify_chain(bad, key.public_key()))
    assert any("chain broken" in p.problem for p in verify_chain([envs[0], envs[2], envs[1]], key.public_key()))
    assert any("chain broken" in p.problem for p in verify_chain([envs[0], envs[2], envs[3]], key.public_key()))
    other = Ed25519PrivateKey.generate()
    assert verify_chain(envs, other.public_key())


def test_outbox_survives_reopen_and_keeps_order(tmp_path: Path) -> None:
    ob, key = _outbox(tmp_path)
    ids = [str(ob.add(make_report(), key)[0].report["report_id"]) for _ in range(3)]
    again = Outbox(tmp_path / "outbox.sqlite")
    first = again.next_due()
    assert first is not None
    assert first.report_id == ids[0]
    assert [e.report["report_id"] for e in again.envelopes()] == ids


def test_full_outbox_drops_oldest_and_keeps_a_tombstone(tmp_path: Path) -> None:
    ob, key = _outbox(tmp_path, max_pending=2)
    envs = [ob.add(make_report(), key)[0] for _ in range(3)]
    stones = ob.tombstones()
    assert [str(t.report_id) for t in stones] == [envs[0].report["report_id"]]
    assert stones[0].report_hash == report_hash(envs[0].report)
    # The chain over what remains plus the tombstone still verifies: the gap is declared.
    held = [e.model_copy(update={"tombstones": tuple(stones)}) for e in ob.envelopes()]
    assert verify_chain(held, key.public_key()) == []


def test_delivered_report_leaves_pending_only_with_receipt(tmp_path: Path) -> None:
    ob, key = _outbox(tmp_path)
    _env, digest = ob.add(make_report(), key)
    item = ob.next_due()
    assert item is not None
    receipt = Receipt(report_id=item.report_id, report_hash=digest, sequence=1, received_at="2026-01-01T00:00:00Z")
    ob.delivered(item, receipt, [])
    assert ob.next_due() is None
    assert ob.status()["pending"] == 0
    assert ob.status()["last_delivery"] is not None


def test_key_and_enrollment_files_are_private(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.key(create=True)
    assert oct((state.path / "agent.key").stat().st_mode & 0o777) == "0o600"
    assert json.loads(json.dumps({"ok": True}))

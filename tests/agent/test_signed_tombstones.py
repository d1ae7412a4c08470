"""Tombstones are the agent's signed word that a report was dropped: signed when the outbox drops
it, verified by ``duecare verify --state-dir`` (an edited one is detected), and an older agent's
unsigned one is signed at the next delivery."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from duecare.agent.outbox import Outbox
from duecare.agent.state import StateDir
from duecare.cli.main import app
from duecare.wire.envelope import tombstone_payload
from duecare.wire.signatures import SignatureError, verify_payload
from tests.agent.factories import make_report


def _state(tmp_path: Path) -> tuple[StateDir, Outbox]:
    state = StateDir(tmp_path / "state")
    state.key(create=True)
    return state, Outbox(state.outbox_path, max_pending=1)


def _verify(state: StateDir) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["verify", "--state-dir", str(state.path)])
    return res.exit_code, res.output + (res.stderr if res.stderr_bytes is not None else "")


def test_dropped_report_leaves_a_tombstone_signed_with_the_agent_key(tmp_path: Path) -> None:
    state, ob = _state(tmp_path)
    key = state.key()
    first, _ = ob.add(make_report(), key)
    ob.add(make_report(), key)
    (stone,) = ob.tombstones()
    assert str(stone.report_id) == first.report["report_id"] and stone.signature is not None
    verify_payload(key.public_key(), tombstone_payload(stone), stone.signature)
    # The signature covers the hash: the same tombstone naming another report does not verify.
    forged = stone.model_copy(update={"report_hash": "0" * 64})
    try:
        verify_payload(key.public_key(), tombstone_payload(forged), stone.signature)
    except SignatureError:
        pass
    else:
        raise AssertionError("a tombstone with another hash verified")


def test_verify_state_dir_checks_tombstones_and_detects_an_edited_one(tmp_path: Path) -> None:
    state, ob = _state(tmp_path)
    key = state.key()
    for _ in range(3):
        ob.add(make_report(), key)
    code, out = _verify(state)
    assert code == 0, out
    assert "2 tombstone(s) of dropped reports: agent signatures valid" in out
    with sqlite3.connect(state.outbox_path) as db:
        (rid,) = db.execute("SELECT report_id FROM tombstones ORDER BY dropped_at LIMIT 1").fetchone()
        db.execute("UPDATE tombstones SET dropped_at = '2020-01-01T00:00:00+00:00' WHERE report_id = ?", (rid,))
    code, out = _verify(state)
    assert code == 3, out
    assert f"{rid}: tombstone: signature invalid" in out


def test_older_agents_unsigned_tombstone_is_signed_at_delivery(tmp_path: Path) -> None:
    state, ob = _state(tmp_path)
    key = state.key()
    ob.add(make_report(), key)
    ob.add(make_report(), key)
    with sqlite3.connect(state.outbox_path) as db:  # as an agent before signed tombstones kept it
        db.execute("UPDATE tombstones SET signature = NULL")
    assert [t.signature for t in ob.tombstones()] == [None]
    code, out = _verify(state)
    assert code == 0 and "stored unsigned by an older agent" in out, out
    asked: list[int] = []

    def loader() -> Ed25519PrivateKey:
        asked.append(1)
        return key

    (stone,) = ob.tombstones(loader)
    assert asked == [1] and stone.signature is not None
    verify_payload(key.public_key(), tombstone_payload(stone), stone.signature)
    assert ob.stored_tombstones()[0].signature == stone.signature
    ob.tombstones(loader)
    assert asked == [1]  # signed once, kept: the key is not loaded again

"""SMB probes' I/O against a scripted loopback peer replaying the captured Samba replies.

impacket sessions are replaced by a recorder (they are exercised for real in test_lab.py and in
test_impacket_errors.py); everything else — framing, timeouts, hang-ups, dialect walk, budget,
facts and evidence — runs as in production.
"""

from __future__ import annotations

import asyncio
import struct
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from duecare.probes.base import ProbeClass, Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.probes.smb import ms17_010, probe
from duecare.probes.smb._impacket import SessionReport
from duecare.probes.smb.facts import (
    Ms17010Facts,
    Ms17010Outcome,
    SessionOutcome,
    Smb1Outcome,
    Smb2Negotiation,
    SmbFacts,
    SmbHostInfo,
    SmbSession,
)
from duecare.probes.smb.ms17_010 import Ms17010Probe
from duecare.probes.smb.packets import SMB1_COM_SESSION_SETUP_ANDX
from duecare.probes.smb.parse import parse_smb2_negotiate
from duecare.probes.smb.probe import SmbProbe, session_dialect
from duecare.wire import EvidenceKind, ProbeStatus, Proto
from tests.probes.smb.loopback import CLOSE, RESET, SILENT, Responder, Seen, scripted_peer

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"samba417_{name}.bin").read_bytes()


def _offered(request: bytes) -> tuple[int, ...]:
    count = struct.unpack_from("<H", request, 4 + 64 + 2)[0]
    return struct.unpack_from(f"<{count}H", request, 4 + 64 + 36)


def samba(config: str, smb1: bytes | str, singles: dict[int, bytes | str]) -> Responder:
    """Answer like a Samba with ``config``: SMB1 as given, all-dialect and single-dialect SMB2."""

    def respond(request: bytes) -> bytes | str:
        if request[4:8] == b"\xffSMB" and request[8] == SMB1_COM_SESSION_SETUP_ANDX:
            return fixture(f"{config}_smb1_session_setup")
        if request[4:8] == b"\xffSMB":
            return smb1
        offered = _offered(request)
        return fixture(f"{config}_smb2_negotiate_all") if len(offered) > 1 else singles[offered[0]]

    return respond


NT1_SINGLES: dict[int, bytes | str] = {
    0x0202: fixture("nt1_smb2_negotiate_202"),
    0x0210: fixture("nt1_smb2_negotiate_210"),
    0x0300: fixture("nt1_smb2_negotiate_300"),
    0x0302: fixture("nt1_smb2_negotiate_302"),
}
SMB3_REFUSAL = fixture("smb3only_smb2_negotiate_300")
SMB3_SINGLES: dict[int, bytes | str] = dict.fromkeys((0x0202, 0x0210, 0x0300, 0x0302), SMB3_REFUSAL)
NT1 = samba("nt1", fixture("nt1_smb1_negotiate"), NT1_SINGLES)
SMB3_ONLY = samba("smb3only", fixture("smb3only_smb1_negotiate"), SMB3_SINGLES)


class SessionRecorder:
    """Stands in for impacket: accepts the null session, refuses 'Guest', records the dialects."""

    def __init__(self, guest: SessionOutcome = SessionOutcome.DENIED) -> None:
        self.calls: list[dict[str, Any]] = []
        self.guest = guest

    def __call__(self, host: str, port: int, **kw: Any) -> SessionReport:
        self.calls.append({"host": host, "port": port, **kw})
        info = SmbHostInfo(netbios_name="FILESRV01", os="Windows 6.1 Build 0")
        if kw["user"] == "":
            shares = ("public", "IPC$") if kw["list_shares"] else None
            s = SmbSession(user="", outcome=SessionOutcome.ACCEPTED, is_guest=False, shares=shares)
        elif self.guest is SessionOutcome.ACCEPTED:
            s = SmbSession(user="Guest", outcome=SessionOutcome.ACCEPTED, is_guest=True)
        else:
            s = SmbSession(user="Guest", outcome=self.guest, nt_status=0xC000006D)
        return SessionReport(s, info)


def _ctx(probe_s: float = 10.0) -> ProbeContext:
    return ProbeContext(
        timeouts=Timeouts(connect=1.0, read=0.5, probe=probe_s),
        allowed_classes=frozenset(ProbeClass),
    )


def run(p: Any, respond: Responder, probe_s: float = 10.0) -> tuple[ProbeOutcome, Seen]:
    async def go(port: int) -> ProbeOutcome:
        ctx = _ctx(probe_s)
        try:
            return await run_probe(p, Target(IPv4Address("127.0.0.1"), port, Proto.TCP), ctx)
        finally:
            await ctx.aclose()

    with scripted_peer(respond) as (port, seen):
        return asyncio.run(go(port)), seen


def smb_facts(outcome: ProbeOutcome) -> SmbFacts:
    assert outcome.attempt.status is ProbeStatus.COMPLETED, outcome.attempt.error
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert isinstance(facts, SmbFacts)
    return facts


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> SessionRecorder:
    recorder = SessionRecorder(guest=SessionOutcome.ACCEPTED)
    monkeypatch.setattr(probe, "empty_password_session", recorder)
    return recorder


def test_nt1_samba(sessions: SessionRecorder) -> None:
    outcome, seen = run(SmbProbe(), NT1)
    f = smb_facts(outcome)
    assert f.smb2 is not None and f.smb2.dialect_name == "3.1.1" and f.smb2.security_mode == 0x01
    assert f.smb2_dialects == ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1")
    assert f.smb2_dialects_unchecked == ()
    assert f.smb1_outcome is Smb1Outcome.ACCEPTED
    assert f.smb1 is not None and f.smb1.security_mode == 0x07
    assert f.anonymous.shares == ("public", "IPC$")
    assert f.guest.outcome is SessionOutcome.ACCEPTED and f.guest.is_guest
    assert f.host is not None and f.host.netbios_name == "FILESRV01"
    # all-dialect SMB2, SMB1 NEGOTIATE + its SESSION_SETUP_ANDX on the same connection, four single-dialect SMB2
    assert len(seen) == 7 and seen.connections == 6
    assert [r[8] for r in seen if r[4:8] == b"\xffSMB"] == [0x72, SMB1_COM_SESSION_SETUP_ANDX]
    setup = f.smb1_session_setup
    assert setup is not None and setup.nt_status == 0xC0000016
    names = (setup.native_os, setup.native_lanman, setup.primary_domain)
    assert names == ("Windows 6.1", "Samba 4.17.12-Debian", "LAB")
    assert outcome.observation is not None
    assert any("NativeLanMan 'Samba 4.17.12-Debian'" in e.summary for e in outcome.observation.evidence)
    # Signing not required: sessions stay below 3.1.1, where impacket would force signing.
    assert [c["dialect"] for c in sessions.calls] == [0x0300, 0x0300]
    assert [c["list_shares"] for c in sessions.calls] == [True, False]
    assert outcome.observation is not None
    kinds = [e.kind for e in outcome.observation.evidence]
    assert kinds.count(EvidenceKind.LISTING) == 1
    first = outcome.observation.evidence[0]
    assert "SecurityMode 0x01" in first.summary and first.encoding == "hex"


def test_smb3_only_samba(sessions: SessionRecorder) -> None:
    sessions.guest = SessionOutcome.DENIED
    outcome, seen = run(SmbProbe(), SMB3_ONLY)
    f = smb_facts(outcome)
    assert f.smb2 is not None and f.smb2.signing_required
    assert f.smb2_dialects == ("3.1.1",)
    assert f.smb1_outcome is Smb1Outcome.NO_COMMON_DIALECT and f.smb1 is None
    assert f.guest.outcome is SessionOutcome.DENIED
    assert len(seen) == 6
    assert [c["dialect"] for c in sessions.calls] == [0x0311, 0x0311]


@pytest.mark.parametrize(
    ("action", "expected"),
    [(RESET, Smb1Outcome.CONNECTION_RESET), (CLOSE, Smb1Outcome.CONNECTION_CLOSED), (SILENT, Smb1Outcome.TIMED_OUT)],
)
def test_smb1_refusal_shapes_and_silence(sessions: SessionRecorder, action: str, expected: Smb1Outcome) -> None:
    """Windows with SMBv1 off resets or closes; a silent answer stays unknown (§3.7)."""
    outcome, _seen = run(SmbProbe(), samba("smb3only", action, SMB3_SINGLES))
    f = smb_facts(outcome)
    assert f.smb1_outcome is expected
    assert f.smb1_outcome.refused is (action != SILENT)


def test_single_dialect_silence_is_unchecked_not_refused(sessions: SessionRecorder) -> None:
    singles = {**NT1_SINGLES, 0x0210: SILENT}
    outcome, _seen = run(SmbProbe(), samba("nt1", fixture("nt1_smb1_negotiate"), singles))
    f = smb_facts(outcome)
    assert f.smb2_dialects_unchecked == ("2.1",)
    assert "2.1" not in f.smb2_dialects and "2.0.2" in f.smb2_dialects


def test_smb1_only_server(sessions: SessionRecorder) -> None:
    """Old NAS: hangs up on SMB2, speaks NT LM 0.12 — sessions go over SMB1."""

    def respond(request: bytes) -> bytes | str:
        return fixture("nt1_smb1_negotiate") if request[4:8] == b"\xffSMB" else CLOSE

    f = smb_facts(run(SmbProbe(), respond)[0])
    assert f.smb2 is None and f.smb1_outcome is Smb1Outcome.ACCEPTED
    assert [c["dialect"] for c in sessions.calls] == [None, None]


def test_tarpit_times_out(sessions: SessionRecorder) -> None:
    outcome, _seen = run(SmbProbe(), lambda _req: SILENT)
    assert outcome.attempt.status is ProbeStatus.TIMED_OUT
    assert sessions.calls == []


def test_not_smb_is_protocol_error(sessions: SessionRecorder) -> None:
    outcome, _seen = run(SmbProbe(), lambda _req: b"\x00\x00\x00\x08HTTP/1.0")
    assert outcome.attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert sessions.calls == []


def test_budget_spent_leaves_sessions_not_tried(sessions: SessionRecorder) -> None:
    """Slow single-dialect checks eat the budget: facts survive, later steps say 'not tried'."""
    singles: dict[int, bytes | str] = dict.fromkeys(NT1_SINGLES, SILENT)
    outcome, _seen = run(SmbProbe(), samba("nt1", fixture("nt1_smb1_negotiate"), singles), probe_s=2.6)
    f = smb_facts(outcome)
    assert f.smb1_outcome is Smb1Outcome.ACCEPTED
    assert f.guest.outcome is SessionOutcome.NOT_TRIED
    assert set(f.smb2_dialects_unchecked) <= {"2.0.2", "2.1", "3.0", "3.0.2"}


def test_session_dialect_choice() -> None:
    nt1 = parse_smb2_negotiate(fixture("nt1_smb2_negotiate_all")[4:])
    mandatory = parse_smb2_negotiate(fixture("smb3only_smb2_negotiate_all")[4:])
    assert isinstance(nt1, Smb2Negotiation) and isinstance(mandatory, Smb2Negotiation)
    everything = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
    assert session_dialect(nt1, everything, smb1=True) == 0x0300
    assert session_dialect(nt1, (0x0302, 0x0311), smb1=False) == 0x0311  # impacket cannot offer 3.0.2
    assert session_dialect(mandatory, everything, smb1=True) == 0x0311
    assert session_dialect(None, (), smb1=True) == "smb1"
    assert session_dialect(None, (), smb1=False) is None


# -- MS17-010 ----------------------------------------------------------------------------------


class Ms17Recorder:
    def __init__(self, *answers: Ms17010Facts) -> None:
        self.answers = list(answers)
        self.users: list[str] = []

    def __call__(self, host: str, port: int, *, user: str, timeout: float) -> Ms17010Facts:
        self.users.append(user)
        return self.answers.pop(0)


def _ms17(
    monkeypatch: pytest.MonkeyPatch, respond: Responder, *answers: Ms17010Facts
) -> tuple[ProbeOutcome, Ms17Recorder]:
    recorder = Ms17Recorder(*answers)
    monkeypatch.setattr(ms17_010, "ms17_010_exchange", recorder)
    return run(Ms17010Probe(), respond)[0], recorder


def _ms17_facts(outcome: ProbeOutcome) -> Ms17010Facts:
    assert outcome.attempt.status is ProbeStatus.COMPLETED, outcome.attempt.error
    assert outcome.observation is not None
    assert isinstance(outcome.observation.facts, Ms17010Facts)
    return outcome.observation.facts


def test_ms17_smb1_refused_needs_no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome, rec = _ms17(monkeypatch, SMB3_ONLY)
    assert _ms17_facts(outcome).outcome is Ms17010Outcome.SMB1_REFUSED
    assert rec.users == []


def test_ms17_null_session_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    patched = Ms17010Facts(outcome=Ms17010Outcome.PATCHED, nt_status=0xC0000008, session_user="")
    outcome, rec = _ms17(monkeypatch, NT1, patched)
    assert _ms17_facts(outcome) == patched
    assert rec.users == [""]


@pytest.mark.parametrize(
    ("first", "second", "kept"),
    [
        (Ms17010Outcome.NO_SESSION, Ms17010Outcome.VULNERABLE, Ms17010Outcome.VULNERABLE),
        (Ms17010Outcome.IPC_REFUSED, Ms17010Outcome.NO_SESSION, Ms17010Outcome.IPC_REFUSED),
        (Ms17010Outcome.NO_SESSION, Ms17010Outcome.NO_SESSION, Ms17010Outcome.NO_SESSION),
    ],
)
def test_ms17_falls_back_to_guest(
    monkeypatch: pytest.MonkeyPatch, first: Ms17010Outcome, second: Ms17010Outcome, kept: Ms17010Outcome
) -> None:
    outcome, rec = _ms17(monkeypatch, NT1, Ms17010Facts(outcome=first), Ms17010Facts(outcome=second))
    assert _ms17_facts(outcome).outcome is kept
    assert rec.users == ["", "Guest"]


def test_ms17_silent_smb1_is_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome, rec = _ms17(monkeypatch, samba("nt1", SILENT, NT1_SINGLES))
    assert outcome.attempt.status is ProbeStatus.TIMED_OUT
    assert rec.users == []

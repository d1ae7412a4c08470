"""VNC probe against loopback peers replaying real TigerVNC bytes, and hostile peers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from duecare.probes.vnc.probe import VncProbe
from duecare.wire import ProbeStatus
from tests.probes.fake_tcp import FAST, RecordingContext, flood, outcome, sends, silent

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


class Recorder:
    """A scripted RFB server that keeps every byte the client sent."""

    def __init__(self, steps: list[tuple[int, bytes]], greeting: bytes) -> None:
        self.steps, self.greeting, self.got = steps, greeting, b""
        self.closed_by_client = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        await writer.drain()
        for need, reply in self.steps:
            data = await reader.readexactly(need)
            self.got += data
            writer.write(reply)
            await writer.drain()
        rest = await reader.read()
        self.got += rest
        self.closed_by_client = True


def test_none_server_is_entered_shared_and_left() -> None:
    server = Recorder(
        [
            (12, raw("xvnc_none_security_types")),
            (1, raw("xvnc_none_security_result")),
            (1, raw("xvnc_none_server_init")),
        ],
        raw("xvnc_none_version"),
    )
    out = outcome(VncProbe(), server.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert facts["security_types"] == [1] and facts["none_accepted"] is True
    assert (facts["desktop_name"], facts["width"], facts["height"]) == ("i4-open", 800, 600)
    assert server.got == b"RFB 003.008\n\x01\x01"  # version, type None, ClientInit shared=1, nothing else
    assert server.closed_by_client


def test_password_server_is_left_without_choosing_a_type() -> None:
    server = Recorder([(12, raw("xvnc_vncauth_security_types"))], raw("xvnc_vncauth_version"))
    out = outcome(VncProbe(), server.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert out.attempt.facts["security_type_names"] == ["VNC Authentication"]
    assert out.attempt.facts["none_accepted"] is None
    assert server.got == b"RFB 003.008\n"  # no security type byte was ever sent
    assert server.closed_by_client


def test_rfb_33_none_server() -> None:
    server = Recorder([(12, raw("xvnc_none_security_003")), (1, raw("xvnc_none_server_init"))], b"RFB 003.003\n")
    out = outcome(VncProbe(), server.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None and out.attempt.facts["protocol"] == "3.3"
    assert server.got == b"RFB 003.003\n\x01"  # 3.3: the server chose None; only ClientInit follows


def test_blacklisted_scanner_is_reported_not_hidden() -> None:
    out = outcome(VncProbe(), sends(raw("xvnc_blacklisted")))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert out.attempt.facts["security_types"] == []
    assert out.attempt.facts["failure_reason"] == "Too many security failures"


def test_silence_times_out() -> None:
    assert outcome(VncProbe(), silent()).attempt.status is ProbeStatus.TIMED_OUT


def test_garbage_is_a_protocol_error() -> None:
    assert outcome(VncProbe(), sends(b"HTTP/1.1 400 Bad Request\r\n")).attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_huge_announced_lengths_are_refused_without_reading() -> None:
    ctx = RecordingContext(timeouts=FAST)
    hostile = b"RFB 003.008\n" + b"\x00" + b"\x7f\xff\xff\xff"  # no types, a 2 GiB "reason"
    assert outcome(VncProbe(), sends(hostile), ctx=ctx).attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert ctx.received == 17


def test_100kb_of_junk_is_refused_without_buffering_it() -> None:
    ctx = RecordingContext(timeouts=FAST)
    assert outcome(VncProbe(), flood(), ctx=ctx).attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert ctx.received <= 12

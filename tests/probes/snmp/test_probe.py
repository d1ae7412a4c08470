"""SNMP probe against a loopback UDP peer answering with real net-snmp datagrams."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from duecare.probes.runner import ProbeOutcome
from duecare.probes.snmp.parse import decode_message, decode_v3
from duecare.probes.snmp.probe import SnmpProbe
from duecare.wire import ProbeStatus, Proto
from tests.probes.fake_tcp import run_local
from tests.probes.fake_udp import Responder, closed_udp_port, udp_peer

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


def _id(value: int) -> bytes:
    return b"\x02\x04" + value.to_bytes(4, "big")


@pytest.fixture(autouse=True)
def four_byte_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Request ids of exactly four octets, so a real reply can carry ours in place of its own."""
    counter = itertools.count(0x10000000, 7919)
    monkeypatch.setattr("duecare.probes.snmp.probe.secrets.randbelow", lambda _n: next(counter))


V3_REPORT = "netsnmp_v3_discovery_report"


def agent(*, communities: tuple[bytes, ...], v3: bool = True, v3_reply: str = V3_REPORT) -> Responder:
    """A net-snmp stand-in: real replies with the request's ids patched in; wrong communities get silence."""

    def respond(request: bytes) -> list[bytes]:
        if request[2:5] == b"\x02\x01\x03":
            if not v3:
                return []
            asked = decode_v3(request)
            reply = raw(v3_reply)
            old = decode_v3(reply)
            reply = reply.replace(_id(old.msg_id), _id(asked.msg_id), 1)
            return [reply.replace(_id(old.pdu.request_id), _id(asked.pdu.request_id), 1)]
        msg = decode_message(request)
        if msg.community not in communities:
            return []
        reply = raw("netsnmp_v2c_public_get" if msg.version == 1 else "netsnmp_v1_public_get")
        old = decode_message(reply).pdu.request_id
        return [reply.replace(_id(old), _id(msg.pdu.request_id), 1)]

    return respond


def run(respond: Responder) -> tuple[ProbeOutcome, list[bytes]]:
    async def go() -> tuple[ProbeOutcome, list[bytes]]:
        async with udp_peer(respond) as (port, peer):
            out = await run_local(SnmpProbe(), port, proto=Proto.UDP)
            return out, peer.received

    return asyncio.run(go())


def test_public_agent_answers_both_versions_and_private_is_not_waited_for() -> None:
    out, received = run(agent(communities=(b"public",)))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert [(a["version"], a["community"]) for a in facts["accepted"]] == [("v2c", "public"), ("v1", "public")]
    assert facts["accepted"][0]["sys_name"] == "i4-snmp-public"
    assert facts["v3_answered"] is True and facts["v3_enterprise"] == 8072
    assert facts["product"] == "Linux" and facts["version"] == "6.18.44-fc-v657"
    assert facts["write_access"] == "not determined"
    assert len(received) == 5  # one v3 discovery + 2 communities x 2 versions, never more
    assert all(b"\xa3" not in r[:20] for r in received)  # no SetRequest PDU, ever
    assert out.attempt.duration_ms < 350  # the first accepted community ends the wait


def test_non_default_agent_is_alive_but_accepts_nothing() -> None:
    out, _ = run(agent(communities=(b"Zt7-notdefault",), v3_reply="netsnmp_secret_v3_discovery_report"))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert out.attempt.facts["accepted"] == [] and out.attempt.facts["v3_answered"] is True


def test_v1_v2c_only_agent_still_counts() -> None:
    out, _ = run(agent(communities=(b"public",), v3=False))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert {a["community"] for a in out.attempt.facts["accepted"]} == {"public"}
    assert out.attempt.facts["v3_answered"] is False


def test_silence_is_timed_out_not_a_finding() -> None:
    out, received = run(lambda _req: [])
    assert out.attempt.status is ProbeStatus.TIMED_OUT
    assert len(received) == 5


def test_garbage_is_a_protocol_error() -> None:
    out, _ = run(lambda _req: [b"\x30\x03garbage"])
    assert out.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_huge_junk_datagram_is_a_protocol_error() -> None:
    out, _ = run(lambda _req: [b"\xff" * 60_000])
    assert out.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_reply_with_someone_elses_request_id_is_refused() -> None:
    def stale(request: bytes) -> list[bytes]:
        return [] if request[2:5] == b"\x02\x01\x03" else [raw("netsnmp_v2c_public_get")]

    out, _ = run(stale)
    assert out.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_closed_port_is_unreachable() -> None:
    async def go() -> ProbeOutcome:
        return await run_local(SnmpProbe(), await closed_udp_port(), proto=Proto.UDP)

    assert asyncio.run(go()).attempt.status is ProbeStatus.UNREACHABLE

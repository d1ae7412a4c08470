"""IPMI probe I/O against scripted UDP peers replaying ipmi_sim's answers, and broken peers."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address
from pathlib import Path

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.ipmi.facts import IpmiFacts
from duecare.probes.ipmi.parse import ASF_IANA
from duecare.probes.ipmi.probe import IpmiProbe
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.wire import ProbeStatus, Proto
from tests.probes.fake_udp import Responder, closed_udp_port, udp_peer

FIXTURES = Path(__file__).parent / "fixtures"
AUTH_V2 = (FIXTURES / "ipmisim_auth_caps_v2.bin").read_bytes()
PONG = (FIXTURES / "ipmisim_presence_pong.bin").read_bytes()


def _ctx() -> ProbeContext:
    return ProbeContext(timeouts=Timeouts(connect=0.5, read=0.2, probe=5.0))


async def _probe(port: int) -> ProbeOutcome:
    return await run_probe(IpmiProbe(), Target(IPv4Address("127.0.0.1"), port, Proto.UDP), _ctx())


def _run(respond: Responder) -> tuple[ProbeOutcome, list[bytes]]:
    async def go() -> tuple[ProbeOutcome, list[bytes]]:
        async with udp_peer(respond) as (port, peer):
            return await _probe(port), peer.received

    return asyncio.run(go())


def test_bmc_answer_gives_facts_in_one_round_trip() -> None:
    outcome, received = _run(lambda _d: [AUTH_V2])
    assert outcome.attempt.status is ProbeStatus.COMPLETED
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert isinstance(facts, IpmiFacts)
    assert facts.version == "2.0"
    assert len(received) == 1
    assert "IPMI 2.0 BMC" in outcome.observation.evidence[0].summary


def test_v15_bmc_refusing_the_v2_form_is_asked_again() -> None:
    v15 = (FIXTURES / "ipmisim_auth_caps_v15.bin").read_bytes()
    refusal = bytearray(v15[:13]) + bytes((8,)) + v15[14:20] + b"\xcc"
    refusal.append((-sum(refusal[17:])) & 0xFF)

    def respond(d: bytes) -> list[bytes]:
        return [bytes(refusal)] if d[-3] & 0x80 else [v15]

    outcome, received = _run(respond)
    assert outcome.observation is not None
    assert outcome.observation.facts.version == "1.5"
    assert len(received) == 2


def test_silent_to_auth_caps_but_pongs() -> None:
    outcome, received = _run(lambda d: [PONG] if d[4:8] == ASF_IANA else [])
    assert outcome.attempt.status is ProbeStatus.COMPLETED
    assert outcome.observation is not None
    assert outcome.observation.facts.source == "asf-presence-pong"
    assert len(received) == 3  # auth caps + one retry, then the ping


def test_silence_times_out() -> None:
    outcome, received = _run(lambda _d: [])
    assert outcome.attempt.status is ProbeStatus.TIMED_OUT
    assert len(received) == 4  # two tries of each question, nothing more


def test_garbage_is_a_protocol_error() -> None:
    outcome, _ = _run(lambda _d: [b"\x06\x00\xff\x07garbage"])
    assert outcome.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_closed_port_is_unreachable() -> None:
    async def go() -> ProbeOutcome:
        return await _probe(await closed_udp_port())

    assert asyncio.run(go()).attempt.status is ProbeStatus.UNREACHABLE

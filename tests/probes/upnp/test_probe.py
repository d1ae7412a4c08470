"""UPnP probe I/O: scripted SSDP peer replaying miniupnpd answers, a fake description server."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address
from pathlib import Path

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.probes.upnp.facts import UpnpFacts
from duecare.probes.upnp.probe import UpnpProbe
from duecare.wire import EvidenceKind, ProbeStatus, Proto
from tests.probes.fake_http import FakeHttp, http_server
from tests.probes.fake_udp import Responder, closed_udp_port, udp_peer

FIXTURES = Path(__file__).parent / "fixtures"
ANSWERS = [p.read_bytes() for p in sorted(FIXTURES.glob("miniupnpd231_ssdp_*.txt"))]
ROOT_DESC = (FIXTURES / "miniupnpd231_rootDesc.xml").read_bytes()
RECORDED_LOCATION = b"http://198.19.77.1:5000/rootDesc.xml"
IGD = {p.stem.removeprefix("miniupnpd231_igd_"): p.read_bytes() for p in FIXTURES.glob("miniupnpd231_igd_*.xml")}


def soap(method: str, path: str, body: bytes) -> tuple[int, str, bytes] | None:
    """miniupnpd's recorded answers, by action and index, as its control URL gives them."""
    if method != "POST" or path != "/ctl/IPConn":
        return None
    if b"GetExternalIPAddress" in body:
        return 200, "text/xml", IGD["external_ip"]
    for i in range(3):
        if f"<NewPortMappingIndex>{i}<".encode() in body:
            return (500 if i == 2 else 200), "text/xml", IGD[f"mapping_{i}"]
    return 500, "text/xml", IGD["mapping_2"]


def _ctx() -> ProbeContext:
    return ProbeContext(timeouts=Timeouts(connect=0.5, read=0.3, probe=8.0))


def _run(respond_with_location: str | None, desc_status: int = 200) -> tuple[ProbeOutcome, FakeHttp, int]:
    async def go() -> tuple[ProbeOutcome, FakeHttp, int]:
        routes = {"/rootDesc.xml": (desc_status, "text/xml", ROOT_DESC)}
        async with http_server(routes, soap) as (http_port, fake):
            location = (respond_with_location or "").replace("PORT", str(http_port)).encode()

            def respond(d: bytes) -> list[bytes]:
                if not d.startswith(b"M-SEARCH"):
                    return []
                return [a.replace(RECORDED_LOCATION, location) for a in ANSWERS]

            async with udp_peer(respond) as (port, peer):
                target = Target(IPv4Address("127.0.0.1"), port, Proto.UDP)
                outcome = await run_probe(UpnpProbe(), target, _ctx())
                return outcome, fake, len(peer.received)

    return asyncio.run(go())


def test_answers_and_description_from_the_target() -> None:
    outcome, fake, sent = _run("http://127.0.0.1:PORT/rootDesc.xml")
    assert outcome.attempt.status is ProbeStatus.COMPLETED, outcome.attempt.error
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert isinstance(facts, UpnpFacts)
    assert len(facts.responses) == 13
    assert facts.device is not None
    assert facts.device.friendly_name == "duecare lab router"
    assert facts.internet_gateway
    assert sent == 1
    # The description, then the read-only IGD actions: the external address and the table to fault 713.
    assert [r[:2] for r in fake.requests] == [("GET", "/rootDesc.xml")] + [("POST", "/ctl/IPConn")] * 4
    assert all(b"AddPortMapping" not in r[2] and b"DeletePortMapping" not in r[2] for r in fake.requests)
    assert facts.igd is not None and facts.igd.complete
    assert facts.igd.external_ip == "198.51.100.9"
    assert [(m.protocol, m.external_port, m.internal_port) for m in facts.igd.mappings] == [
        ("udp", 3478, 3478),
        ("tcp", 5900, 5900),
    ]
    assert [e.kind for e in outcome.observation.evidence] == [
        EvidenceKind.BANNER,
        EvidenceKind.DOCUMENT,
        EvidenceKind.LISTING,
    ]


def test_location_on_another_host_is_never_fetched() -> None:
    outcome, fake, _ = _run("http://127.0.0.2:PORT/rootDesc.xml")
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert facts.device is None
    assert facts.description_skipped is not None
    assert "not the target" in facts.description_skipped
    assert fake.requests == []


def test_description_error_is_a_fact_not_a_failure() -> None:
    outcome, _, _ = _run("http://127.0.0.1:PORT/rootDesc.xml", desc_status=500)
    assert outcome.attempt.status is ProbeStatus.COMPLETED
    assert outcome.observation is not None
    assert outcome.observation.facts.description_skipped == "description fetch answered HTTP 500"


def _run_peer(respond: Responder) -> tuple[ProbeOutcome, int]:
    async def go() -> tuple[ProbeOutcome, int]:
        async with udp_peer(respond) as (port, peer):
            outcome = await run_probe(UpnpProbe(), Target(IPv4Address("127.0.0.1"), port, Proto.UDP), _ctx())
            return outcome, len(peer.received)

    return asyncio.run(go())


def test_silence_times_out_after_two_m_searches() -> None:
    outcome, sent = _run_peer(lambda _d: [])
    assert outcome.attempt.status is ProbeStatus.TIMED_OUT
    assert sent == 2


def test_garbage_is_a_protocol_error() -> None:
    outcome, _ = _run_peer(lambda _d: [b"\x00\x01garbage"])
    assert outcome.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_closed_port_is_unreachable_not_silent() -> None:
    async def go() -> ProbeOutcome:
        port = await closed_udp_port()
        return await run_probe(UpnpProbe(), Target(IPv4Address("127.0.0.1"), port, Proto.UDP), _ctx())

    assert asyncio.run(go()).attempt.status is ProbeStatus.UNREACHABLE

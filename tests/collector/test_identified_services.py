"""The collector takes a report whose services say how they were identified (issue 16)."""

from __future__ import annotations

from duecare.wire import Exposure, IdentifiedBy, PortState, Proto, Service
from tests.collector.conftest import Collector
from tests.collector.factories import asset, finding, make_report, signed_body


def test_report_with_identified_services_is_accepted(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    ip = "198.18.0.140"
    services = (
        Service(port=2121, proto=Proto.TCP, state=PortState.OPEN, name="ftp", identified_by=IdentifiedBy.GREETING),
        Service(
            port=3390, proto=Proto.TCP, state=PortState.OPEN, name="ms-wbt-server", identified_by=IdentifiedBy.HANDSHAKE
        ),
        Service(
            port=139, proto=Proto.TCP, state=PortState.OPEN, name="netbios-ssn", identified_by=IdentifiedBy.NMAP_VERSION
        ),
    )
    report = make_report(
        findings=[finding(ip, Exposure.FTP_ANONYMOUS, 2121)],
        assets=[asset(ip).model_copy(update={"services": services})],
    )
    raw = report.model_dump(mode="json")
    resp = collector.http.post("/v1/reports", json=signed_body(agent.chain.key, raw), headers=agent.auth)
    assert resp.status_code == 201, resp.text
    bad = {**raw, "report_id": "00000000-0000-4000-8000-000000000001"}
    bad["assets"][0]["services"][0]["identified_by"] = "guess"
    agent.chain.previous = None
    resp = collector.http.post("/v1/reports", json=signed_body(agent.chain.key, bad), headers=agent.auth)
    assert resp.status_code == 422 and "identified_by" in resp.text

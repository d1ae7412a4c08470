"""The outside view at the collector: declared addresses, the agent's vantage, the join on ingest."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from duecare.collector import admin
from duecare.collector.errors import Unprocessable
from duecare.wire import (
    Exposure,
    ObligationStatus,
    PortState,
    ProbeAttempt,
    ProbeStatus,
    Proto,
    Report,
    Service,
    Severity,
    Vantage,
)
from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import BASE_TIME, AgentChain, asset, finding, make_report, signed_body

PUBLIC = "203.0.113.1"
CERT = "ab" * 32


def _outside_agent(c: Collector, token: str) -> Enrolled:
    chain = AgentChain()
    resp = c.http.post(
        "/v1/enroll",
        json={"token": token, "public_key": chain.key.public_b64, "hostname": "msp", "vantage": "internet"},
    )
    assert resp.status_code == 201, resp.text
    b = resp.json()
    return Enrolled(b["client_id"], b["site_id"], b["agent_id"], b["credential"], chain)


def _attempt(ip: str, port: int, facts: dict[str, Any]) -> ProbeAttempt:
    return ProbeAttempt(
        probe="rdp",
        ip=ip,  # type: ignore[arg-type]
        port=port,
        proto=Proto.TCP,
        status=ProbeStatus.COMPLETED,
        started_at=BASE_TIME,
        duration_ms=1.0,
        facts=facts,
    )


def _post(c: Collector, agent: Enrolled, report: Any) -> Any:
    raw = report.model_dump(mode="json")
    body = signed_body(agent.chain.key, raw)
    agent.chain.previous = None
    return c.http.post("/v1/reports", json=body, headers=agent.auth)


def test_declared_addresses_are_checked(collector: Collector) -> None:
    collector.add_site("acme", "hq")
    with pytest.raises(Unprocessable, match="not a public address"):
        admin.set_site_public(collector.db, "acme", "hq", ["10.0.0.1"], "Jane")
    with pytest.raises(Unprocessable, match="not a single IP address"):
        admin.set_site_public(collector.db, "acme", "hq", ["203.0.113.0/24"], "Jane")
    with pytest.raises(Unprocessable, match="--authorized-by is required"):
        admin.set_site_public(collector.db, "acme", "hq", [PUBLIC], " ")
    declared = admin.set_site_public(collector.db, "acme", "hq", [PUBLIC, PUBLIC], "Jane Doe, owner")
    assert declared.addresses == (PUBLIC,) and declared.authorized_by == "Jane Doe, owner"


def test_agent_reads_its_site_declaration_and_vantage(collector: Collector) -> None:
    token = collector.add_site("acme", "hq")
    outside = _outside_agent(collector, token)
    admin.set_site_public(collector.db, "acme", "hq", [PUBLIC], "Jane Doe, owner")
    resp = collector.http.get("/v1/site/public", headers=outside.auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["addresses"] == [PUBLIC] and body["vantage"] == "internet"
    assert body["authorized_by"] == "Jane Doe, owner" and body["authorized_at"]
    assert collector.http.get("/v1/site/public").status_code == 401


def test_a_report_must_carry_the_enrolled_vantage(collector: Collector) -> None:
    inside = collector.enroll("acme", "hq")
    report = make_report(findings=[finding("198.18.0.11", Exposure.RDP_NO_NLA, 3389)])
    report = report.model_copy(update={"vantage": Vantage.INTERNET})
    resp = _post(collector, inside, report)
    assert resp.status_code == 403
    assert "enrolled with vantage 'internal'" in resp.json()["detail"]


def test_join_on_ingest_and_transition(collector: Collector) -> None:
    inside = collector.enroll("acme", "hq")
    outside = _outside_agent(collector, admin.mint_enrollment_token(collector.db, "acme", "hq").secret)
    admin.set_site_public(collector.db, "acme", "hq", [PUBLIC], "Jane Doe, owner")
    rdp = finding("198.18.0.11", Exposure.RDP_NO_NLA, 3389)
    smb = finding("198.18.0.20", Exposure.SMBV1_ENABLED, 445)
    cert = {"certificate": {"sha256_fingerprint": CERT}}
    inside_report = make_report(findings=[rdp, smb]).model_copy(
        update={"attempts": (_attempt("198.18.0.11", 3389, cert),)}
    )
    assert _post(collector, inside, inside_report).status_code == 201

    def outside_report(open_rdp: bool, hour: int) -> Any:
        services = (Service(port=3389, proto=Proto.TCP, state=PortState.OPEN),) if open_rdp else ()
        found = [finding(PUBLIC, Exposure.RDP_NO_NLA, 3389)] if open_rdp else []
        found.append(finding(PUBLIC, Exposure.TELNET_EXPOSED, 23))
        telnet = Service(port=23, proto=Proto.TCP, state=PortState.OPEN)
        r = make_report(
            findings=found,
            assets=[asset(PUBLIC).model_copy(update={"services": (*services, telnet)})],
            targets=(f"{PUBLIC}/32",),
            tcp_ports="23,445,3389",
            started_at=BASE_TIME.replace(hour=hour),
            report_id=uuid.uuid4(),
        )
        attempts = (_attempt(PUBLIC, 3389, cert),) if open_rdp else ()
        return r.model_copy(update={"vantage": Vantage.INTERNET, "attempts": attempts})

    assert _post(collector, outside, outside_report(True, 3)).status_code == 201
    items = {
        (f["ip"], f["port"]): f["finding"]
        for f in collector.http.get("/v1/findings", headers=collector.reader()).json()["findings"]
        if f["status"] != "resolved"
    }
    assert items[("198.18.0.11", 3389)]["internet_exposed"] is True
    assert items[("198.18.0.20", 445)]["internet_exposed"] is False
    assert items[(PUBLIC, 23)]["details"]["internal_host_unknown"] is True
    assert items[(PUBLIC, 3389)]["details"]["internal_host_unknown"] is False

    assert _post(collector, outside, outside_report(False, 4)).status_code == 201
    changes = collector.http.get("/v1/changes", headers=collector.reader()).json()["changes"]
    moves = [
        (c["subject"], c["previous_status"], c["finding"]["finding"]["internet_exposed"])
        for c in changes
        if c["kind"] == "finding" and c["transition"] == "reachability"
    ]
    rdp_key = "198.18.0.11|rdp-no-nla|3389|tcp"
    assert (rdp_key, "unknown", True) in moves
    assert moves[-1] == (rdp_key, "true", False) or (rdp_key, "true", False) in moves


def test_exports_carry_reachability(collector: Collector) -> None:
    from tests.collector.test_ocsf import _assert_valid

    test_join_on_ingest_and_transition(collector)
    reader = collector.reader()
    events = collector.http.get("/v1/export/changes", params={"format": "ocsf"}, headers=reader).json()
    _assert_valid(events)
    rdp = [e for e in events if e["class_uid"] == 2002 and e["device"]["ip"] == "198.18.0.11" and e.get("resources")]
    assert rdp and rdp[0]["resources"][0]["uid"] == f"{PUBLIC}:3389"
    assert rdp[0]["resources"][0]["data"]["source"] == "outside-scan"
    csv_text = collector.http.get("/v1/export/findings", params={"format": "csv"}, headers=reader).text
    header, *rows = csv_text.splitlines()
    assert header.endswith("internet_exposed,public_endpoint")
    smb = next(r for r in rows if ",198.18.0.20,445," in r)
    assert smb.endswith(",no,")


# -- re-judging what depends on reachability (issue 14, point 4) ------------------------------------

RDP, SMB = "198.18.0.11", "198.18.0.20"
RDP_KEY, SMB_KEY = f"{RDP}|rdp-no-nla|3389/tcp", f"{SMB}|smb-ms17-010|445/tcp"


def _judged_inside(c: Collector) -> Any:
    """An inside report as the agent judges it (the real catalog, the government profile): RDP without
    NLA and BlueKeep on one host, MS17-010 on another, reachability unknown from inside."""
    from duecare.advisories.catalog import collect
    from duecare.advisories.obligations import apply_profile

    found = [
        finding(RDP, Exposure.RDP_NO_NLA, 3389),
        finding(RDP, Exposure.RDP_BLUEKEEP_LIKELY, 3389, severity=Severity.CRITICAL),
        finding(SMB, Exposure.SMB_MS17_010, 445, severity=Severity.CRITICAL),
    ]
    judged, summary = apply_profile(found, collect()[0], "government", BASE_TIME)
    cert = {"certificate": {"sha256_fingerprint": CERT}}
    report = make_report(findings=judged, obligation_summary=summary)
    return report.model_copy(update={"attempts": (_attempt(RDP, 3389, cert),), "profile": "government"})


def _outside(open_rdp: bool, hour: int) -> Any:
    services = (Service(port=3389, proto=Proto.TCP, state=PortState.OPEN),) if open_rdp else ()
    r = make_report(
        findings=[finding(PUBLIC, Exposure.RDP_NO_NLA, 3389)] if open_rdp else [],
        assets=[asset(PUBLIC).model_copy(update={"services": services})],
        targets=(f"{PUBLIC}/32",),
        tcp_ports="445,3389",
        started_at=BASE_TIME.replace(hour=hour),
        report_id=uuid.uuid4(),
    )
    cert = {"certificate": {"sha256_fingerprint": CERT}}
    attempts = (_attempt(PUBLIC, 3389, cert),) if open_rdp else ()
    return r.model_copy(update={"vantage": Vantage.INTERNET, "attempts": attempts})


def _state(c: Collector) -> tuple[dict[str, Any], dict[tuple[str, str], Any], list[Any]]:
    reader = c.reader()
    items = c.http.get("/v1/findings", headers=reader).json()["findings"]
    found = {f"{f['ip']}|{f['exposure']}|{f['port']}/{f['proto']}": f["finding"] for f in items}
    rows = {
        (o["framework"], o["requirement"]): o
        for o in c.http.get("/v1/obligations", params={"limit": 1000}, headers=reader).json()["obligations"]
    }
    changes = c.http.get("/v1/changes", params={"limit": 1000}, headers=reader).json()["changes"]
    return found, rows, changes


def test_the_join_rejudges_obligations_and_the_bod_tier(collector: Collector) -> None:
    inside = collector.enroll("acme", "hq")
    outside = _outside_agent(collector, admin.mint_enrollment_token(collector.db, "acme", "hq").secret)
    admin.set_site_public(collector.db, "acme", "hq", [PUBLIC], "Jane Doe, owner")
    report = _judged_inside(collector)
    judged = {(r.framework, r.requirement): r for r in report.obligations.results}
    assert judged[("cis-controls-v8", "12.7")].status is ObligationStatus.UNKNOWN  # needs the outside view
    assert _post(collector, inside, report).status_code == 201
    _found, rows, _changes = _state(collector)
    assert rows[("cis-controls-v8", "12.7")]["status"] == "unknown"

    assert _post(collector, outside, _outside(True, 3)).status_code == 201
    found, rows, changes = _state(collector)
    rdp, smb = found[RDP_KEY], found[SMB_KEY]
    assert (rdp["internet_exposed"], smb["internet_exposed"]) == (True, False)
    # Internet-only requirements follow: RDP is reachable, so CIS 12.7 is not met, citing it.
    row = rows[("cis-controls-v8", "12.7")]
    assert row["status"] == "not_met" and row["findings"] == [RDP_KEY]
    assert "reachable from the internet" in row["reason"]
    assert {o["status"] for o in rdp["obligations"] if o["requirement"] == "12.7"} == {"not_met"}
    moves = [
        (c.get("previous_status"), c["obligation"]["status"]) for c in changes if c["subject"] == "cis-controls-v8|12.7"
    ]
    assert moves[-1] == ("unknown", "not_met")
    # BOD 26-04's first question is answered: each finding's tier is the case the agent judged for it.
    bluekeep = found[f"{RDP}|rdp-bluekeep-likely|3389/tcp"]
    unknown_tier = bluekeep["by_exposure"]["unknown"]["timeline"]["bod_26_04"]
    tier = bluekeep["timeline"]["bod_26_04"]
    assert tier["publicly_exposed"] is True and tier["tier"] == unknown_tier["if_exposed"]
    # The clock it had from inside is kept in the cases (the judged one swapped in, carried once).
    assert bluekeep["by_exposure"]["judged"] is True and bluekeep["by_exposure"]["exposed"] is None
    assert unknown_tier["publicly_exposed"] is None
    smb_tier = smb["timeline"]["bod_26_04"]
    assert smb_tier["publicly_exposed"] is False
    assert smb_tier["tier"] == smb["by_exposure"]["unknown"]["timeline"]["bod_26_04"]["if_not_exposed"]
    # Every finding's references agree with the site's obligations.
    for f in found.values():
        for o in f["obligations"]:
            assert o["status"] == rows[(o["framework"], o["requirement"])]["status"]

    # The forward is removed: RDP is closed from outside, and the requirement is no longer not met.
    assert _post(collector, outside, _outside(False, 4)).status_code == 201
    found, rows, changes = _state(collector)
    assert found[RDP_KEY]["internet_exposed"] is False
    assert rows[("cis-controls-v8", "12.7")]["status"] == "no_contrary_evidence"
    moves = [
        (c.get("previous_status"), c["obligation"]["status"]) for c in changes if c["subject"] == "cis-controls-v8|12.7"
    ]
    assert moves[-1] == ("not_met", "no_contrary_evidence")
    assert found[f"{RDP}|rdp-bluekeep-likely|3389/tcp"]["timeline"]["bod_26_04"]["publicly_exposed"] is False


def test_the_site_view_rejudges_like_the_collector(collector: Collector) -> None:
    """The report's site view selects from the same cases: its summary (counts validated) and the
    collector's obligations agree."""
    from duecare.report.commands import with_reachability
    from duecare.wire.api import FindingOut

    test_the_join_rejudges_obligations_and_the_bod_tier(collector)
    reader = collector.reader()
    tracked = [
        FindingOut.model_validate(f) for f in collector.http.get("/v1/findings", headers=reader).json()["findings"]
    ]
    stored = next(
        c
        for c in collector.http.get("/v1/changes", params={"limit": 1000}, headers=reader).json()["changes"]
        if c["kind"] == "report"
    )
    raw = collector.http.get(f"/v1/reports/{stored['report']['report_id']}", headers=reader).json()["report"]
    view = with_reachability(Report.model_validate(raw), tracked)
    assert view.obligations is not None
    _found, rows, _changes = _state(collector)
    assert {(r.framework, r.requirement): r.status.value for r in view.obligations.results} == {
        k: v["status"] for k, v in rows.items()
    }
    counts = {s.value: getattr(view.obligations, s.value) for s in ObligationStatus}
    assert sum(counts.values()) == len(view.obligations.results)


def test_exports_carry_the_rejudged_obligations(collector: Collector) -> None:
    """JSON, CSV and OCSF read the same re-judged rows; the feed carries the moves as OCSF 2003 events."""
    import csv
    import io

    from tests.collector.test_ocsf import _assert_valid

    inside = collector.enroll("acme", "hq")
    outside = _outside_agent(collector, admin.mint_enrollment_token(collector.db, "acme", "hq").secret)
    admin.set_site_public(collector.db, "acme", "hq", [PUBLIC], "Jane Doe, owner")
    assert _post(collector, inside, _judged_inside(collector)).status_code == 201
    assert _post(collector, outside, _outside(True, 3)).status_code == 201
    reader = collector.reader()
    as_json = collector.http.get("/v1/export/obligations", params={"format": "json"}, headers=reader).json()
    row = next(o for o in as_json["obligations"] if (o["framework"], o["requirement"]) == ("cis-controls-v8", "12.7"))
    assert row["status"] == "not_met" and row["findings"] == [RDP_KEY]
    text = collector.http.get("/v1/export/obligations", params={"format": "csv"}, headers=reader).text
    lines = {(r["framework"], r["requirement"]): r for r in csv.DictReader(io.StringIO(text))}
    assert lines[("cis-controls-v8", "12.7")]["status"] == "not_met"
    events = collector.http.get("/v1/export/obligations", params={"format": "ocsf"}, headers=reader).json()
    _assert_valid(events)
    event = next(e for e in events if e["compliance"]["requirements"] == ["cis-controls-v8 12.7"])
    assert event["unmapped"]["duecare"]["status"] == "not_met"
    feed = collector.http.get("/v1/export/changes", params={"format": "ocsf"}, headers=reader).json()
    _assert_valid(feed)
    moved = [
        e["unmapped"]["duecare"]["status"]
        for e in feed
        if e["class_uid"] == 2003 and e["compliance"]["requirements"] == ["cis-controls-v8 12.7"]
    ]
    assert moved == ["unknown", "not_met"]
    # The findings' export carries the selected clock: BlueKeep's BOD 26-04 input is now "exposed".
    found = collector.http.get("/v1/export/findings", params={"format": "json"}, headers=reader).json()["findings"]
    bluekeep = next(f["finding"] for f in found if f["exposure"] == "rdp-bluekeep-likely")
    assert bluekeep["timeline"]["bod_26_04"]["publicly_exposed"] is True


def test_a_report_from_before_the_cases_is_shown_as_judged(collector: Collector) -> None:
    """A report without ``by_exposure`` (an older agent) is accepted; the join marks its findings, and
    its obligations stay as the agent judged them: nothing is judged at the collector."""
    inside = collector.enroll("acme", "hq")
    outside = _outside_agent(collector, admin.mint_enrollment_token(collector.db, "acme", "hq").secret)
    admin.set_site_public(collector.db, "acme", "hq", [PUBLIC], "Jane Doe, owner")
    report = _judged_inside(collector)
    findings = tuple(f.model_copy(update={"by_exposure": None}) for f in report.findings)
    results = tuple(r.model_copy(update={"by_exposure": None}) for r in report.obligations.results)
    old = report.model_copy(
        update={"findings": findings, "obligations": report.obligations.model_copy(update={"results": results})}
    )
    assert _post(collector, inside, old).status_code == 201
    assert _post(collector, outside, _outside(True, 3)).status_code == 201
    found, rows, _changes = _state(collector)
    assert found[RDP_KEY]["internet_exposed"] is True
    assert rows[("cis-controls-v8", "12.7")]["status"] == "unknown"
    bluekeep = found[f"{RDP}|rdp-bluekeep-likely|3389/tcp"]
    assert bluekeep["by_exposure"] is None and bluekeep["timeline"]["bod_26_04"]["publicly_exposed"] is None


def test_a_mark_an_inside_report_carried_is_cleared_by_the_next_one(collector: Collector) -> None:
    """No agent with internet vantage at the site: a finding the inside agent itself marked reachable
    is stored marked, and its next report without the mark clears it (a transition), although the
    first read of that report found no outside agent (the mark alone makes ingest look)."""
    inside = collector.enroll("acme", "hq")
    rdp = finding("198.18.0.11", Exposure.RDP_NO_NLA, 3389)
    marked = rdp.model_copy(update={"internet_exposed": True})

    def post(f: Any, hour: int) -> None:
        report = make_report(findings=[f], started_at=BASE_TIME.replace(hour=hour), report_id=uuid.uuid4())
        assert _post(collector, inside, report).status_code == 201

    def moves() -> list[tuple[str | None, Any]]:
        changes = collector.http.get("/v1/changes", headers=collector.reader()).json()["changes"]
        return [
            (c["previous_status"], c["finding"]["finding"]["internet_exposed"])
            for c in changes
            if c["kind"] == "finding" and c["transition"] == "reachability"
        ]

    post(marked, 3)
    assert moves() == [("unknown", True)]
    post(rdp, 4)
    assert moves() == [("unknown", True), ("true", None)]
    post(rdp, 5)  # nothing marked any more: nothing moves
    assert moves() == [("unknown", True), ("true", None)]

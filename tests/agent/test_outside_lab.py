"""Outside-in on real daemons (issue 14): the lab router, its UPnP table, an agent on the lab internet.

The lab gets its router (``Lab(router=True)``): a static forward WAN:3389 → rdp-tls, a UPnP mapping
WAN:5900 → vnc-open made by ``upnpc`` on vnc-open, telnet on the WAN address only. The collector and
the internet-vantage agent run on the lab internet (203.0.113.2), which reaches only the router's WAN
address; the inside agent runs on the scanner and reaches the collector through the router's NAT.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duecare.collector import admin
from duecare.collector.app import create_app
from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from duecare.collector.settings import CollectorSettings
from duecare.lab.lab import Lab
from duecare.lab.router import INTERNET_IP, WAN_IP
from duecare.report.commands import with_reachability
from duecare.wire import ObligationStatus, Report
from duecare.wire.api import FindingOut
from duecare.wire.reachability import fingerprints
from tests.agent.live import DUECARE, REPO, AgentProcess
from tests.collector.processes import Server, free_port
from tests.env import require
from tests.lab.fixtures import require_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(600)]

HOSTS = ["rdp-tls", "vnc-open", "smb1"]
UNDECLARED_IN_SCOPE = "203.0.113.2"  # the lab internet itself: inside the outside agent's scope, never declared
DECLARED_OUT_OF_SCOPE = "198.51.100.7"
#: An MSP's profile: HIPAA's frameworks plus CIS Controls v8 and CISA's CPGs, whose remote-access
#: requirements (CIS 12.7, 13.5; CPG 2.W) are about what the internet reaches.
HIPAA_CIS = """id = "hipaa-cis"
title = "HIPAA with CIS Controls v8 and CISA CPG"
description = "HIPAA's frameworks, with CIS Controls v8 and the CISA CPGs as the recognised security practices."
frameworks = ["hipaa-security-rule", "nist-csf-2.0", "advisories-baseline", "cis-controls-v8", "cisa-cpg-1.0.1"]
severity_threshold = "medium"
cve_timeline = "bod-26-04"
kev_due_dates = true

[deadlines]
critical = 15
high = 30
source = "the MSP's contract: critical within 15 and high within 30 calendar days"
"""
RDP_KEY = "198.18.0.11|rdp-no-nla|3389/tcp"
SMB_KEY = "198.18.0.20|smbv1-enabled|445/tcp"
VNC_KEY = "198.18.0.80|vnc-no-auth|5900/tcp"


@dataclass
class Site:
    lab: Lab
    tmp: Path
    db: str
    server: Server
    reader: str
    inside: AgentProcess
    outside: AgentProcess
    logs: list[Path]

    def api(self, path: str, **params: Any) -> Any:
        """The collector's read API on the same database, in-process (the server is on the lab internet)."""
        database = Database(make_engine(self.db))
        try:
            app = create_app(CollectorSettings(database_url=self.db), database=database)
            with TestClient(app) as http:
                resp = http.get(path, params=params, headers={"authorization": f"Bearer {self.reader}"})
                assert resp.status_code == 200, resp.text
                return resp.json()
        finally:
            database.dispose()

    def findings(self) -> dict[tuple[str, str, int | None], dict[str, Any]]:
        items = self.api("/v1/findings", limit=1000)["findings"]
        return {(f["ip"], f["exposure"], f["port"]): f for f in items if f["status"] != "resolved"}


def _tenant(db: str) -> tuple[str, str, str]:
    database = Database(make_engine(db))
    try:
        migrate.upgrade(database.engine)
        admin.add_client(database, "acme")
        admin.add_site(database, "acme", "hq")
        inside = admin.mint_enrollment_token(database, "acme", "hq", timedelta(hours=1)).secret
        outside = admin.mint_enrollment_token(database, "acme", "hq", timedelta(hours=1)).secret
        reader = admin.add_reader(database, None, "test", all_clients=True).secret
        return inside, outside, reader
    finally:
        database.dispose()


def _enroll(agent: AgentProcess, url: str, token: str, *extra: str) -> None:
    token_file = agent.dir / "token"
    token_file.write_text(token + "\n")
    out = agent.run("enroll", "--collector", url, "--token-file", str(token_file), *extra)
    assert out.returncode == 0, out.stderr
    token_file.unlink()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_lab()
    missing = [b for b in ("miniupnpd", "upnpc") if shutil.which(b) is None]
    require(not missing, f"the lab router needs {', '.join(missing)} (lab/packages.txt)")
    tmp = tmp_path_factory.mktemp("outside")
    lab = Lab(f"dco{os.getpid() % 10000}", hosts=HOSTS, router=True).up()
    server: Server | None = None
    try:
        db = f"sqlite:///{tmp / 'collector.db'}"
        inside_token, outside_token, reader = _tenant(db)
        server = Server(db, tmp / "collector.log", free_port())
        server.host = INTERNET_IP
        server.url = f"http://{INTERNET_IP}:{server.port}"
        assert lab.router is not None
        server.prefix = ["ip", "netns", "exec", lab.router.internet_ns]
        server.start()
        logs: list[Path] = []
        inside = AgentProcess(tmp, logs, "inside")
        inside.isolate(lab.scanner_ns)
        profile = tmp / "hipaa-cis.toml"
        profile.write_text(HIPAA_CIS)
        inside.write_config(targets=("198.18.0.0/24",), extra=f'[report]\nprofile = "{profile}"\n')
        _enroll(inside, server.url, inside_token)
        outside = AgentProcess(tmp, logs, "outside")
        outside.isolate(lab.router.internet_ns)
        outside.write_config(targets=("203.0.113.0/30",))
        _enroll(outside, server.url, outside_token, "--vantage", "internet")
        yield Site(lab, tmp, db, server, reader, inside, outside, logs)
    finally:
        if server is not None:
            server.stop()
        lab.down()


def _declare(site: Site, *addresses: str) -> str:
    out = subprocess.run(
        [
            *(sys.executable, "-m", "duecare.collector", "set-site-public", "acme", "hq", *addresses),
            *("--authorized-by", "Jane Doe, owner", "--db", site.db),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _stored(site: Site, agent: AgentProcess) -> dict[str, Any]:
    """The agent's latest report as the collector stored it."""
    reports = [c for c in site.api("/v1/changes", limit=1000)["changes"] if c["kind"] == "report"]
    for change in reversed(reports):
        stored = site.api(f"/v1/reports/{change['report']['report_id']}")
        if stored["report"]["agent_id"] == json.loads((agent.state_dir / "enrollment.json").read_text())["agent_id"]:
            report: dict[str, Any] = stored["report"]
            return report
    raise AssertionError("no report of this agent at the collector")


def test_1_inside_agent_reads_the_gateway_table(site: Site) -> None:
    out = site.inside.once(timeout=300)
    assert out.returncode == 0, out.stderr
    found = site.findings()
    igd = found[("198.18.0.1", "upnp-igd-port-mappings", 1900)]["finding"]
    mapped = igd["details"]["mappings"]
    assert [(m["protocol"], m["external_port"], m["internal_client"], m["internal_port"]) for m in mapped] == [
        ("tcp", 5900, "198.18.0.80", 5900)
    ]
    assert igd["details"]["external_ip"] == WAN_IP
    vnc = found[("198.18.0.80", "vnc-no-auth", 5900)]["finding"]
    assert vnc["internet_exposed"] is True
    assert vnc["internet_evidence"][0]["source"] == "gateway-mapping"
    assert f"{WAN_IP}:5900" in vnc["internet_evidence"][0]["summary"]
    # The IGD lists UPnP mappings only: the static forward of RDP is invisible from inside.
    rdp = found[("198.18.0.11", "rdp-no-nla", 3389)]["finding"]
    assert rdp["internet_exposed"] is None
    assert rdp["internet_evidence"] == []


def test_2_outside_agent_scans_only_declared_addresses_in_its_scope(site: Site) -> None:
    said = _declare(site, WAN_IP, DECLARED_OUT_OF_SCOPE)
    assert "authorised by Jane Doe, owner" in said
    out = site.outside.once(timeout=300)
    assert out.returncode == 0, out.stderr
    report = _stored(site, site.outside)
    assert report["vantage"] == "internet"
    scanned = {a["ip"] for a in report["assets"]} | {a["ip"] for a in report["attempts"]}
    assert scanned == {WAN_IP}  # never the undeclared 203.0.113.2, never the out-of-scope declaration
    assert UNDECLARED_IN_SCOPE not in scanned and DECLARED_OUT_OF_SCOPE not in scanned
    refusal = [n for n in report["scope"]["notes"] if DECLARED_OUT_OF_SCOPE in n]
    assert refusal == [
        f"refused {DECLARED_OUT_OF_SCOPE}: declared public for the site but outside this agent's configured scope; "
        "not scanned"
    ]
    assert report["scope"]["targets"] == [f"{WAN_IP}/32"]
    # "Closed from the internet" needs every declared address swept: declare only what this agent covers.
    _declare(site, WAN_IP)
    out = site.outside.once(timeout=300)
    assert out.returncode == 0, out.stderr


def test_3_the_join(site: Site) -> None:
    found = site.findings()
    rdp = found[("198.18.0.11", "rdp-no-nla", 3389)]["finding"]
    assert rdp["internet_exposed"] is True
    assert rdp["internet_evidence"][0]["source"] == "outside-scan"
    assert rdp["internet_evidence"][0]["public_port"] == 3389
    assert "cert_sha256" in rdp["internet_evidence"][0]["summary"]
    assert found[("198.18.0.80", "vnc-no-auth", 5900)]["finding"]["internet_exposed"] is True
    smb = found[("198.18.0.20", "smbv1-enabled", 445)]["finding"]
    assert smb["internet_exposed"] is False  # 445 swept from outside on every declared address, closed
    lonely = [
        f["finding"]
        for f in found.values()
        if f["ip"] == WAN_IP and f["finding"]["details"].get("internal_host_unknown") is True
    ]
    assert [(f["exposure"], f["port"]) for f in lonely] == [("telnet-exposed", 23)]
    assert "internal host unknown" in lonely[0]["internet_evidence"][0]["summary"]
    # The VNC server names the same desktop to both sides (RFB ServerInit): a fingerprint of its own,
    # besides the gateway's mapping that links it first.
    inside_fp = fingerprints(_stored(site, site.inside))[("198.18.0.80", 5900, "tcp")]
    outside_fp = fingerprints(_stored(site, site.outside))[(WAN_IP, 5900, "tcp")]
    assert inside_fp["rfb_desktop"] == outside_fp["rfb_desktop"]


def test_3b_the_join_rejudges_what_depends_on_it(site: Site) -> None:
    """The inside agent judged every case; the collector's join selects the one the outside view shows."""
    judged = {(r["framework"], r["requirement"]): r for r in _stored(site, site.inside)["obligations"]["results"]}
    rows = {(o["framework"], o["requirement"]): o for o in site.api("/v1/obligations", limit=1000)["obligations"]}
    # As the inside agent saw it, RDP's reachability was unknown: internet requirements on RDP alone were
    # undecided ("needs an outside view"); after the outside view they are not met, citing RDP.
    for req in (("cis-controls-v8", "12.7"), ("cis-controls-v8", "13.5")):
        assert judged[req]["status"] == "unknown" and "needs an outside view" in judged[req]["reason"]
        assert rows[req]["status"] == "not_met", rows[req]
        assert RDP_KEY in rows[req]["findings"]
        assert {k.split("|")[0] for k in rows[req]["findings"]} == {"198.18.0.11"}  # RDP's host only
        assert "reachable from the internet: " in rows[req]["reason"] and "rdp-no-nla" in rows[req]["reason"]
    # CPG 2.W was not met already (the UPnP mapping of VNC); now RDP counts too, and SMB (closed
    # from outside) does not.
    cpg = rows[("cisa-cpg-1.0.1", "2.W")]
    assert cpg["status"] == "not_met"
    assert RDP_KEY in cpg["findings"] and VNC_KEY in cpg["findings"] and SMB_KEY not in cpg["findings"]
    assert RDP_KEY not in judged[("cisa-cpg-1.0.1", "2.W")]["findings"]
    # Every finding's references carry the statuses the site's obligations now have.
    found = site.findings()
    rdp = found[("198.18.0.11", "rdp-no-nla", 3389)]["finding"]
    assert rdp["internet_exposed"] is True
    refs = {(o["framework"], o["requirement"]): o["status"] for o in rdp["obligations"]}
    assert refs[("cis-controls-v8", "12.7")] == "not_met"
    for f in found.values():
        for o in f["finding"]["obligations"]:
            row = rows.get((o["framework"], o["requirement"]))
            assert row is None or o["status"] == row["status"], (f["ip"], o)
    # The change is in the feed: the obligation moved from unknown to not met.
    moves = [
        (c.get("previous_status"), c["obligation"]["status"])
        for c in site.api("/v1/changes", limit=1000)["changes"]
        if c["kind"] == "obligation" and c["subject"] == "cis-controls-v8|12.7"
    ]
    assert ("unknown", "not_met") in moves
    # The site view (what `duecare report --site` and the console render) selects the same: its
    # summary's counts equal its results' (validated) and its statuses equal the collector's.
    tracked = [FindingOut.model_validate(f) for f in site.api("/v1/findings", limit=1000)["findings"]]
    view = with_reachability(Report.model_validate(_stored(site, site.inside)), tracked)
    assert view.obligations is not None
    assert {(r.framework, r.requirement): r.status.value for r in view.obligations.results} == {
        k: v["status"] for k, v in rows.items()
    }
    counts = {s.value: getattr(view.obligations, s.value) for s in ObligationStatus}
    assert counts == {s.value: sum(r.status is s for r in view.obligations.results) for s in ObligationStatus}
    assert counts["not_met"] > sum(r["status"] == "not_met" for r in judged.values())


def test_4_removing_the_forward_is_a_reachability_transition(site: Site) -> None:
    site.lab.set_static_forwards([])
    try:
        out = site.outside.once(timeout=300)
        assert out.returncode == 0, out.stderr
    finally:
        site.lab.set_static_forwards([(3389, "rdp-tls", 3389)])
    rdp = site.findings()[("198.18.0.11", "rdp-no-nla", 3389)]["finding"]
    assert rdp["internet_exposed"] is False
    moves = [
        c
        for c in site.api("/v1/changes", limit=1000)["changes"]
        if c["kind"] == "finding" and c["transition"] == "reachability" and c["subject"].startswith("198.18.0.11|")
    ]
    assert [(m["previous_status"], m["finding"]["finding"]["internet_exposed"]) for m in moves][-1] == ("true", False)
    assert ("unknown", True) in [(m["previous_status"], m["finding"]["finding"]["internet_exposed"]) for m in moves]
    # Back as it was for the report test.
    out = site.outside.once(timeout=300)
    assert out.returncode == 0, out.stderr


def test_5_hipaa_site_report_opens_with_what_the_internet_reaches(site: Site) -> None:
    assert site.lab.router is not None
    key = site.tmp / "reader.key"
    key.write_text(site.reader + "\n")
    html = site.tmp / "site.html"
    out = subprocess.run(
        [
            *site.lab.internet_argv([DUECARE, "report", "--collector", site.server.url]),
            "--key-file",
            str(key),
            "--site",
            "hq",
            "--out",
            str(html),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    page = html.read_text()
    summary = page.index('id="summary"')
    section = page.index("Reachable from the internet", summary)
    assert section < page.index('class="lead">On ', summary)  # before everything else of the summary
    table = page[section : page.index("</table>", section)]
    assert 'data-ip="198.18.0.11" data-port="3389"' in table
    assert 'data-ip="198.18.0.80" data-port="5900"' in table
    assert "port forward on the router" in table and "UPnP mapping on the router" in table
    assert "internal host unknown" in table
    # The obligations table agrees: RDP is reachable, so the remote-access requirements about the
    # internet's view are not met there too (re-judged from the stakes the inside agent recorded).
    for req in ("cis-controls-v8|12.7", "cis-controls-v8|13.5", "cisa-cpg-1.0.1|2.W"):
        assert f'data-obligation="{req}" data-status="not_met"' in page, req


def test_6_oneshot_scan_public_is_the_outside_view(site: Site) -> None:
    """`duecare scan --public` from the MSP's side: only the named address, every finding reachable."""
    out = subprocess.run(
        site.lab.internet_argv([DUECARE, "scan", "--public", WAN_IP, "--json", "--profile", "baseline"]),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode in (0, 3), out.stderr
    report = json.loads(out.stdout)
    assert report["vantage"] == "internet"
    assert {a["ip"] for a in report["assets"]} == {WAN_IP}
    affected = [f for f in report["findings"] if f["verdict"] == "affected"]
    assert {(f["exposure"], f["port"]) for f in affected} >= {("rdp-no-nla", 3389), ("vnc-no-auth", 5900)}
    assert all(f["internet_exposed"] is True for f in affected)
    # Internet-only requirements of the advisories baseline are judged from it: not met, not "unknown".
    internet_results = [r for r in report["obligations"]["results"] if r["vantage"] == "internet"]
    assert any(r["status"] == "not_met" for r in internet_results)

"""The whole one-shot scan against the namespace lab, compared with nmap run on the same hosts.

The scanner runs inside the lab's scanner namespace (no route to the root namespace), once with
raw-socket rights and once with CAP_NET_RAW/CAP_NET_ADMIN dropped from its bounding set.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from duecare.advisories.catalog import load_catalog
from duecare.advisories.obligations import finding_key
from duecare.agent.config import AgentConfig
from duecare.lab.lab import Lab
from duecare.probes.ports.parse import expand_ranges, parse_nmap_xml
from duecare.wire import Report

pytestmark = pytest.mark.lab

DUECARE = str(Path(sys.executable).with_name("duecare"))
DROP_CAPS = ["setpriv", "--bounding-set", "-net_raw,-net_admin", "--"]
SUBNET = "198.18.0.0/24"
SCANNER = "198.18.0.2"

FAST = """
[timeouts]
connect = 2.0
read = 3.0
probe = 12.0
[report]
severity_threshold = "high"
"""


def scan(lab: Lab, tmp: Path, *, privileged: bool, extra: list[str] | None = None) -> tuple[int, Report, float]:
    cfg = tmp / "fast.toml"
    cfg.write_text(FAST)
    argv = [DUECARE, "scan", SUBNET, "--exclude", SCANNER, "--config", str(cfg), "--json", *(extra or [])]
    if not privileged:
        argv = DROP_CAPS + argv
    t0 = time.monotonic()
    proc = subprocess.run(lab.exec_argv(argv), capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - t0
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    return proc.returncode, Report.model_validate_json(proc.stdout), elapsed


def nmap_open(lab: Lab, report: Report, *, privileged: bool) -> set[tuple[str, int, str]]:
    hosts = [str(a.ip) for a in report.assets]
    ports = f"T:{report.scope.tcp_ports}" + (f",U:{report.scope.udp_ports}" if report.scope.udp_ports else "")
    techniques = ["-sS", "-sU"] if privileged and report.scope.udp_ports else ["-sS" if privileged else "-sT"]
    argv = [
        "nmap",
        *techniques,
        "-Pn",
        "-n",
        "-T4",
        "--max-retries",
        "2",
        "--min-rate",
        str(AgentConfig().ports.min_rate),
        "-p",
        ports,
        "-oX",
        "-",
        *hosts,
    ]
    if not privileged:
        argv = [*DROP_CAPS, "nmap", "--unprivileged", *argv[1:]]
    xml = subprocess.run(lab.exec_argv(argv), capture_output=True, timeout=600, check=True).stdout
    return {
        (h.ip, p.port, p.proto.value) for h in parse_nmap_xml(xml).hosts for p in h.ports if p.state.value == "open"
    }


def ours_open(report: Report) -> set[tuple[str, int, str]]:
    return {(str(a.ip), s.port, s.proto.value) for a in report.assets for s in a.services if s.state.value == "open"}


@pytest.fixture(scope="module")
def privileged_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Report, float]:
    return scan(lab, tmp_path_factory.mktemp("priv"), privileged=True, extra=["--profile", "hipaa"])


@pytest.fixture(scope="module")
def unprivileged_scan(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Report, float]:
    return scan(lab, tmp_path_factory.mktemp("unpriv"), privileged=False)


def _expected_hosts(lab: Lab) -> dict[str, Any]:
    return {h.ip: h for h in lab.hosts if h.ip != SCANNER}


@pytest.mark.parametrize("mode", ["privileged", "unprivileged"])
def test_every_live_host_found_with_mac(mode: str, request: pytest.FixtureRequest, lab: Lab) -> None:
    _rc, report, _t = request.getfixturevalue(f"{mode}_scan")
    found = {str(a.ip): a for a in report.assets}
    expected = _expected_hosts(lab)
    assert set(found) == set(expected)
    for ip, host in expected.items():
        assert found[ip].mac == host.mac, ip
    assert report.scope.privileged is (mode == "privileged")
    assert report.scope.mode.value == ("syn" if mode == "privileged" else "connect")
    if mode == "privileged":
        assert {a.discovered_by for a in report.assets} == {"arp"}
    else:
        assert any("connect scan" in n for n in report.scope.notes)


@pytest.mark.parametrize("mode", ["privileged", "unprivileged"])
def test_open_ports_match_nmap_and_the_lab(mode: str, request: pytest.FixtureRequest, lab: Lab) -> None:
    _rc, report, _t = request.getfixturevalue(f"{mode}_scan")
    privileged = mode == "privileged"
    assert ours_open(report) == nmap_open(lab, report, privileged=privileged)
    for ip, host in _expected_hosts(lab).items():
        ours = {p for (i, p, proto) in ours_open(report) if i == ip and proto == "tcp"}
        assert ours == set(host.tcp_ports), ip


def test_udp_services_seen_when_privileged(privileged_scan: tuple[int, Report, float], lab: Lab) -> None:
    _rc, report, _t = privileged_scan
    for ip, host in _expected_hosts(lab).items():
        udp = {s.port for a in report.assets if str(a.ip) == ip for s in a.services if s.proto.value == "udp"}
        assert set(host.udp_ports) <= udp, ip


@pytest.mark.parametrize("mode", ["privileged", "unprivileged"])
def test_firewalled_ports_are_filtered_not_closed(mode: str, request: pytest.FixtureRequest, lab: Lab) -> None:
    _rc, report, _t = request.getfixturevalue(f"{mode}_scan")
    for host in lab.hosts:
        if not host.tcp_filtered:
            continue
        asset = next(a for a in report.assets if str(a.ip) == host.ip)
        assert set(host.tcp_filtered) <= set(expand_ranges(asset.filtered_tcp)), host.ip


def test_tarpit_does_not_hold_the_scan(privileged_scan: tuple[int, Report, float], lab: Lab) -> None:
    _rc, report, elapsed = privileged_scan
    tarpit = next(h for h in lab.hosts if "tarpit" in h.tags or h.role == "tarpit")
    attempts = [a for a in report.attempts if str(a.ip) == tarpit.ip]
    assert attempts, "no probe ran against the tarpit"
    # Each attempt times out on its own deadline, until the silent-host cutoff skips the rest.
    assert {a.status.value for a in attempts} <= {"timed_out", "protocol_error", "unreachable", "skipped"}
    assert any(a.status.value == "skipped" and "silent" in (a.error or "") for a in attempts)
    assert all(a.duration_ms <= 12_000 + 500 for a in attempts)
    assert not [f for f in report.findings if str(f.ip) == tarpit.ip and f.verdict.value == "affected"]
    assert elapsed < 180


def test_json_is_the_wire_report_and_exit_code_says_findings(
    privileged_scan: tuple[int, Report, float],
) -> None:
    rc, report, _t = privileged_scan
    assert json.loads(report.model_dump_json())["schema_version"] == 1
    high = [f for f in report.findings if f.verdict.value == "affected" and f.severity.rank >= 3]
    assert rc == (3 if high else 0)


def test_telnet_exposure_found_end_to_end(privileged_scan: tuple[int, Report, float], lab: Lab) -> None:
    _rc, report, _t = privileged_scan
    telnet_hosts = {h.ip for h in lab.hosts if "telnet" in h.tags}
    flagged = {
        str(f.ip) for f in report.findings if f.exposure.value == "telnet-exposed" and f.verdict.value == "affected"
    }
    assert flagged == telnet_hosts


def test_hipaa_profile_fills_advisories_and_obligations(privileged_scan: tuple[int, Report, float]) -> None:
    _rc, report, _t = privileged_scan
    affected = [f for f in report.findings if f.verdict.value == "affected"]
    assert affected
    for f in affected:
        assert f.advisories, f.exposure
        assert all(a.official_id and a.publisher and a.published for a in f.advisories)
        # A bare RDP listener bears only on internet duties, which HIPAA's profile does not name.
        assert f.obligations or f.exposure.value == "rdp-exposed", f.exposure
        assert all(o.framework for o in f.obligations)
        assert f.summary, f.exposure  # the owner's plain words travel with the finding
    summary = report.obligations
    assert summary is not None
    assert summary.profile == "hipaa"
    # Evidence-based: no attestation duty is ever met, and every met names its coverage.
    catalog = load_catalog()
    for r in summary.results:
        req = catalog.frameworks[r.framework].requirement(r.requirement)
        if req.attestation:
            assert r.status.value == "attestation_required", r.requirement
        if r.status.value == "met":
            assert r.coverage is not None and r.coverage.complete and r.coverage.probes, r.requirement
            assert r.coverage.hosts_swept > 0 and "swept" in r.reason, r.requirement
    assert summary.attestation_required > 0
    not_met = [r for r in summary.results if r.status.value == "not_met"]
    assert summary.not_met == len(not_met) > 0
    frameworks = {r.framework for r in not_met}
    assert "hipaa-security-rule" in frameworks
    # Every not-met requirement names the findings behind it, and each is a real finding of this report.
    keys = {finding_key(f) for f in report.findings}
    for r in not_met:
        assert r.findings, r.requirement
        assert set(r.findings) <= keys, r.requirement
    assert report.kev_catalog_version
    assert len(report.catalog_version) == 64

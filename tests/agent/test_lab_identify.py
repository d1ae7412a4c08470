"""Services moved off their standard ports (issue 16): the default one-shot scan finds every
exposure of the lab's ``moved`` host, each service sees as many connections as the same daemon on
its standard port, and duecare names at least every service nmap's version detection names.

The scanner runs inside the lab's scanner namespace; connection attempts are counted by nftables
counters inside each host's own namespace (TCP SYN without ACK, so nmap's SYN scan counts one on
every side alike).
"""

from __future__ import annotations

import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from duecare.lab.hosts import Host
from duecare.lab.lab import Lab
from duecare.probes.registry import all_probes
from duecare.wire import Exposure, ProbeStatus, Report, Verdict
from tests.agent.test_lab_scan import DUECARE, SCANNER, SUBNET

pytestmark = pytest.mark.lab

#: The moved service and the same daemon, same configuration, on its standard port elsewhere in the lab.
PAIRS = (("moved", 3390, "rdp-std", 3389), ("moved", 2121, "ftp-anon", 21), ("moved", 2323, "telnet", 23))
PAIRS += (("moved", 26379, "redis-open", 6379), ("moved", 5902, "vnc-open", 5900))
#: The exposures each moved service must show, as on its standard port.
MOVED_EXPOSURES = {
    3390: {Exposure.RDP_EXPOSED, Exposure.RDP_NO_NLA, Exposure.RDP_STANDARD_SECURITY},
    2121: {Exposure.FTP_ANONYMOUS, Exposure.FTP_CLEARTEXT},
    2323: {Exposure.TELNET_EXPOSED},
    26379: {Exposure.REDIS_NO_AUTH},
    5902: {Exposure.VNC_NO_AUTH},
}
#: nmap names SMB on Samba "netbios-ssn" on 445 too; the SMB probe knows SMB as "microsoft-ds".
SAME_PROTOCOL = {"netbios-ssn": {"microsoft-ds"}, "https": {"http"}}


def _hosts(lab: Lab, names: set[str]) -> list[Host]:
    return [h for h in lab.hosts if h.name in names]


@pytest.fixture(scope="module")
def counted_scan(lab: Lab) -> tuple[Report, dict[str, dict[int, int]], float]:
    hosts = _hosts(lab, {n for pair in PAIRS for n in (pair[0], pair[2])})
    for h in hosts:
        lab.count_connections(h)
    # The default configuration: the acceptance is about the default one-shot scan. (Shorter read
    # timeouts make the FTP probe race vsftpd's PAM delay after the refused login on .41.)
    argv = [DUECARE, "scan", SUBNET, "--exclude", SCANNER, "--json"]
    t0 = time.monotonic()
    proc = subprocess.run(lab.exec_argv(argv), capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - t0
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    counts = {h.name: lab.connections(h) for h in hosts}
    return Report.model_validate_json(proc.stdout), counts, elapsed


def test_every_moved_exposure_is_found(counted_scan: tuple[Report, dict[str, dict[int, int]], float], lab: Lab) -> None:
    report, _counts, _t = counted_scan
    moved = lab.host("moved")
    for port, expected in MOVED_EXPOSURES.items():
        found = {
            f.exposure
            for f in report.findings
            if str(f.ip) == moved.ip and f.port == port and f.verdict is Verdict.AFFECTED
        }
        assert expected <= found, (port, found)


def test_moved_services_are_named_by_what_they_speak(
    counted_scan: tuple[Report, dict[str, dict[int, int]], float], lab: Lab
) -> None:
    report, _counts, _t = counted_scan
    asset = next(a for a in report.assets if str(a.ip) == lab.host("moved").ip)
    named = {s.port: (s.name, s.identified_by.value if s.identified_by else None) for s in asset.services}
    assert named == {
        2121: ("ftp", "greeting"),
        2323: ("telnet", "greeting"),
        3390: ("ms-wbt-server", "handshake"),
        5902: ("vnc", "greeting"),
        26379: ("redis", "handshake"),
    }


def test_each_moved_service_sees_as_many_connections_as_on_its_standard_port(
    counted_scan: tuple[Report, dict[str, dict[int, int]], float],
) -> None:
    _report, counts, _t = counted_scan
    for moved, port, standard, std_port in PAIRS:
        assert counts[moved][port] == counts[standard][std_port] > 0, (port, counts[moved], counts[standard])


def test_the_scan_stays_quick(counted_scan: tuple[Report, dict[str, dict[int, int]], float]) -> None:
    _report, _counts, elapsed = counted_scan
    assert elapsed < 180


def _nmap_names(lab: Lab, report: Report, skip: set[str]) -> dict[tuple[str, int], str]:
    """nmap -sV (default intensity) on the open TCP ports duecare found, host by host's union."""
    hosts = [str(a.ip) for a in report.assets if str(a.ip) not in skip]
    ports = sorted({s.port for a in report.assets for s in a.services if s.proto.value == "tcp"})
    argv = ["nmap", "-sS", "-sV", "-Pn", "-n", "-T4", "-p", ",".join(map(str, ports)), "-oX", "-", *hosts]
    xml = subprocess.run(lab.exec_argv(argv), capture_output=True, timeout=900, check=True).stdout
    names: dict[tuple[str, int], str] = {}
    for host in ET.fromstring(xml).iter("host"):
        ip = next(a.get("addr", "") for a in host.iter("address") if a.get("addrtype") == "ipv4")
        for port in host.iter("port"):
            state, svc = port.find("state"), port.find("service")
            if state is None or state.get("state") != "open" or svc is None or svc.get("method") != "probed":
                continue
            names[(ip, int(port.get("portid", "0")))] = svc.get("name", "")
    return names


def test_duecare_names_every_service_nmap_version_detection_names(
    counted_scan: tuple[Report, dict[str, dict[int, int]], float], lab: Lab, tmp_path: Path
) -> None:
    """A port counts as identified by duecare when the identification stage named it the same, or
    when a probe that speaks that protocol completed on it (its standard port: the probe's own
    handshake is the identification). The tarpit is left out: nothing answers there, and nmap's
    version probes would wait minutes on it."""
    report, _counts, _t = counted_scan
    tarpit = {h.ip for h in lab.hosts if "tarpit" in h.tags}
    theirs = _nmap_names(lab, report, tarpit)
    assert len(theirs) >= 20, theirs
    speaks = {p.id: set(p.services) for p in all_probes()}
    ours: dict[tuple[str, int], set[str]] = {}
    for a in report.assets:
        for s in a.services:
            if s.identified_by is not None and s.name:
                ours.setdefault((str(a.ip), s.port), set()).add(s.name)
    for att in report.attempts:
        if att.status is ProbeStatus.COMPLETED and att.port is not None:
            ours.setdefault((str(att.ip), att.port), set()).update(speaks.get(att.probe, set()))
    missed = {
        key: name
        for key, name in theirs.items()
        if not ({name} | SAME_PROTOCOL.get(name, set())) & ours.get(key, set())
    }
    (tmp_path / "nmap-names.txt").write_text("\n".join(f"{k}: {v}" for k, v in sorted(theirs.items())))
    assert not missed, f"nmap named, duecare did not: {missed}"

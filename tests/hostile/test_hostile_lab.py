"""A full ``duecare scan`` of a host that misbehaves on every port (server.py) must not hurt the agent.

Given the hostile host alone on a private namespace LAN, when duecare scans it from the scanner
namespace, then: the scan finishes within its configured timeouts, the agent's peak RSS (os.wait4
on the duecare process tree) stays bounded and far below what buffering one 100 MB body would
cost, no probe ends ``bug``, and no exposure is reported for the hostile host.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench._measure import Measured, measure
from duecare.wire import ProbeStatus, Report, Verdict
from tests.env import require
from tests.hostile.topology import HOSTILE_IP, IDLE_IP, HostileLab

pytestmark = pytest.mark.lab

DUECARE = str(Path(sys.executable).with_name("duecare"))
CONNECT_S, READ_S, PROBE_S = 2.0, 3.0, 10.0
CONFIG = f"""
[timeouts]
connect = {CONNECT_S}
read = {READ_S}
probe = {PROBE_S}
arp = 1.0
discovery = 60.0
ports = 120.0
[limits]
# Every slow service of the hostile host gets its own timeout: no tarpit short cut hides a hang.
silent_host_timeouts = 0
"""
#: The brief's bound, and far below one 100 MB body per flooding port (80, 11211).
RSS_CEILING_MB = 350.0
#: Growth over the same scan of an idle host: buffering even one hostile body would exceed it.
RSS_GROWTH_MB = 50.0
#: Discovery (two ARP rounds) + the nmap port scan of one host + CLI start and report, generously.
FIXED_OVERHEAD_S = 45.0
FAILED = {ProbeStatus.PROTOCOL_ERROR, ProbeStatus.TIMED_OUT, ProbeStatus.UNREACHABLE, ProbeStatus.SKIPPED}
#: The only attempts that may complete: the peer speaks the protocol correctly there (an HTTP 200
#: whose 100 MB body the probe must cap; a real TLS handshake whose chain is broken, which a
#: non-verifying audit handshake rightly ignores). Completing must not produce a finding.
WELL_FORMED = {("exchange", 80), ("rmm", 80), ("tls", 443)}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostileLab, Path]]:
    ready = os.geteuid() == 0 and shutil.which("ip") is not None and shutil.which("nmap") is not None
    require(ready, "the hostile lab needs root, iproute2 and nmap")
    cfg = tmp_path_factory.mktemp("hostile") / "hostile.toml"
    cfg.write_text(CONFIG)
    with HostileLab(prefix=f"dch{os.getpid() % 100000}") as lab:
        yield lab, cfg


def _scan(lab: HostileLab, cfg: Path, ip: str) -> tuple[Measured, Report]:
    argv = lab.exec_argv([DUECARE, "scan", ip, "--config", str(cfg), "--json"])
    run = measure(argv, timeout=300)
    assert run.returncode in (0, 3), run.stderr.decode(errors="replace")[-3000:]
    return run, Report.model_validate_json(run.stdout)


@pytest.fixture(scope="module")
def scans(hostile: tuple[HostileLab, Path]) -> dict[str, tuple[Measured, Report]]:
    lab, cfg = hostile
    return {"idle": _scan(lab, cfg, IDLE_IP), "hostile": _scan(lab, cfg, HOSTILE_IP)}


def test_every_hostile_service_was_probed(scans: dict[str, tuple[Measured, Report]]) -> None:
    _run, report = scans["hostile"]
    probed = {(a.probe, a.port) for a in report.attempts}
    for port in (21, 23, 80, 443, 445, 3389, 5900, 6379, 11211, 161, 1900):
        assert any(p == port for _probe, p in probed), f"no probe ran against port {port}: {sorted(probed)}"


def test_no_probe_crashes_and_garbage_never_completes(scans: dict[str, tuple[Measured, Report]]) -> None:
    _run, report = scans["hostile"]
    for a in report.attempts:
        assert a.status is not ProbeStatus.BUG, f"{a.probe} on {a.port}: {a.error}\n{a.traceback}"
        if (a.probe, a.port) not in WELL_FORMED:
            assert a.status in FAILED, f"{a.probe} on {a.port} ended {a.status} ({a.error}) facts={a.facts}"


def test_no_exposure_reported_for_the_hostile_host(scans: dict[str, tuple[Measured, Report]]) -> None:
    _run, report = scans["hostile"]
    hostile = [f for f in report.findings if str(f.ip) == HOSTILE_IP]
    assert hostile, "no finding was judged at all for the hostile host"
    assert [(f.exposure, f.port) for f in hostile if f.verdict is Verdict.AFFECTED] == []


def test_scan_finishes_within_its_configured_timeouts(scans: dict[str, tuple[Measured, Report]]) -> None:
    run, report = scans["hostile"]
    for a in report.attempts:
        assert a.duration_ms <= PROBE_S * 1000 + 500, f"{a.probe} on {a.port} ran {a.duration_ms} ms"
    # Two probe slots per host: at worst every attempt waits its full ceiling, two at a time.
    worst = FIXED_OVERHEAD_S + PROBE_S * len(report.attempts) / 2
    assert run.wall_s < worst, f"scan took {run.wall_s:.1f}s, bound {worst:.1f}s"


def test_peak_memory_stays_bounded(scans: dict[str, tuple[Measured, Report]]) -> None:
    hostile_run, _ = scans["hostile"]
    idle_run, _ = scans["idle"]
    assert hostile_run.maxrss_mb < RSS_CEILING_MB
    assert hostile_run.maxrss_mb - idle_run.maxrss_mb < RSS_GROWTH_MB, (
        f"hostile scan peaked at {hostile_run.maxrss_mb:.0f} MB vs {idle_run.maxrss_mb:.0f} MB for an idle host"
    )

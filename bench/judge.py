"""The standard of care over a large synthetic scan: findings + coverage → obligations, per profile.

``python -m bench.judge [--hosts 254] [--rounds 5]`` builds a /24's worth of probe attempts (every
probe completed on one service per host, a tenth of the hosts with RDP without NLA, SMBv1 and an
open Redis) and times ``apply_profile`` for each built-in profile; it prints one JSON line per
profile with the median time, the requirement count and the process's peak RSS, plus the load
average before and after. Nothing is sent on any network.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from datetime import UTC, datetime
from ipaddress import IPv4Address

from duecare.advisories.catalog import load_catalog
from duecare.advisories.coverage import ProbeRun, ScanCoverage
from duecare.advisories.obligations import apply_profile
from duecare.probes.registry import all_probes
from duecare.wire import Exposure, Finding, ProbeAttempt, ProbeStatus, Proto, Severity, Verdict

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def synthetic(hosts: int) -> tuple[list[Finding], ScanCoverage]:
    ips = [IPv4Address("198.18.0.1") + i for i in range(hosts)]
    probes = all_probes()
    attempts = [
        ProbeAttempt(
            probe=p.id,
            ip=ip,
            port=min(p.ports),
            proto=p.proto,
            status=ProbeStatus.COMPLETED,
            started_at=NOW,
            duration_ms=1.0,
        )
        for ip in ips
        for p in probes
    ]
    findings = [
        Finding(
            exposure=exp,
            ip=ip,
            port=port,
            proto=Proto.TCP,
            severity=Severity.HIGH,
            verdict=Verdict.AFFECTED,
            title=exp.value,
            reason="synthetic",
        )
        for ip in ips[::10]
        for exp, port in ((Exposure.RDP_NO_NLA, 3389), (Exposure.SMBV1_ENABLED, 445), (Exposure.REDIS_NO_AUTH, 6379))
    ]
    tcp = frozenset(port for p in probes if p.proto is not Proto.UDP for port in p.ports)
    udp = frozenset(port for p in probes if p.proto is Proto.UDP for port in p.ports)
    runs = tuple(ProbeRun(p.id, p.facts_model, p.proto, frozenset(p.ports)) for p in probes)
    return findings, ScanCoverage(runs, tuple(attempts), tuple(ips), tcp, udp)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=254)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(json.dumps({"loadavg_before": os.getloadavg()}))
    catalog = load_catalog()
    findings, scan = synthetic(args.hosts)
    for profile in ("baseline", "hipaa", "pci", "government"):
        times = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            _, summary = apply_profile(findings, catalog, profile, NOW, scan=scan)
            times.append(time.perf_counter() - t)
        print(
            json.dumps(
                {
                    "profile": profile,
                    "hosts": args.hosts,
                    "attempts": len(scan.attempts),
                    "findings": len(findings),
                    "requirements": len(summary.results),
                    "met": summary.met,
                    "median_s": round(statistics.median(times), 4),
                    "max_s": round(max(times), 4),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                }
            )
        )
    print(json.dumps({"loadavg_after": os.getloadavg()}))


if __name__ == "__main__":
    main()

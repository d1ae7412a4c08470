"""The end-of-life rule over a synthetic /24: every host announcing a Windows build over RDP and SMB.

``python -m bench.eol [--hosts 254] [--rounds 5]`` cycles the hosts through every version in the
lifecycle table (plus Samba's 6.1.0 on every seventh host), times ``end_of_life_findings`` on the scan
day 2026-12-05, and prints one JSON line with the median, the maximum, the finding counts by verdict,
the table load time and the process's peak RSS, plus the load average before and after. Nothing is
sent on any network.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from ipaddress import IPv4Address

from duecare.advisories.engine import FactsRecord
from duecare.advisories.lifecycle import end_of_life_findings, load_lifecycle
from duecare.probes.ntlm import NtlmInfo, NtlmVersion
from duecare.probes.rdp.facts import RdpFacts
from duecare.probes.smb.facts import SessionOutcome, Smb1Outcome, SmbFacts, SmbHostInfo, SmbSession
from duecare.wire import ProbeStatus, Proto

ON = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _v(text: str) -> NtlmVersion:
    major, minor, build = (int(p) for p in text.split("."))
    return NtlmVersion(major=major, minor=minor, build=build)


def synthetic(hosts: int, versions: list[str]) -> list[FactsRecord]:
    session = SmbSession(user="", outcome=SessionOutcome.DENIED)
    out = []
    for i in range(hosts):
        ip = IPv4Address("198.18.0.1") + i
        version = "6.1.0" if i % 7 == 0 else versions[i % len(versions)]
        rdp = RdpFacts(speaks_rdp=True, ntlm=NtlmInfo(negotiate_flags=0, product_version=_v(version)))
        smb = SmbFacts(
            smb1_outcome=Smb1Outcome.NOT_TRIED,
            host=SmbHostInfo(os=f"Windows {version}", os_version=_v(version)),
            anonymous=session,
            guest=session,
        )
        out.append(FactsRecord("rdp", RdpFacts, ip, 3389, Proto.TCP, ProbeStatus.COMPLETED, None, rdp))
        out.append(FactsRecord("smb", SmbFacts, ip, 445, Proto.TCP, ProbeStatus.COMPLETED, None, smb))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=254)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    before = os.getloadavg()
    t0 = time.perf_counter()
    tables = load_lifecycle()
    load_ms = (time.perf_counter() - t0) * 1000
    records = synthetic(args.hosts, sorted({r.announced for r in tables.windows}))
    times, findings = [], []
    for _ in range(args.rounds):
        t = time.perf_counter()
        findings = end_of_life_findings(records, [], tables, ON)
        times.append((time.perf_counter() - t) * 1000)
    print(
        json.dumps(
            {
                "hosts": args.hosts,
                "records": len(records),
                "table_rows": len(tables.windows),
                "table_load_ms": round(load_ms, 1),
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "findings": dict(Counter(f.verdict.value for f in findings)),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "loadavg_before": before,
                "loadavg_after": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()

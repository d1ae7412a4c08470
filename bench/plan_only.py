"""Plan a scan without sending anything: scope expansion, on-link grouping and the port plan.

``python -m bench.plan_only 198.18.0.0/16`` does what ``run_scan`` does before its first packet
(the scope-size check, the address list, ARP/routed grouping from this namespace's routing table,
the TCP/UDP port plan) and prints one JSON line with each step's time and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from duecare.agent.config import AgentConfig
from duecare.agent.scan import plan_ports, select_probes
from duecare.agent.scope import Scope, ScopeError
from duecare.probes.discovery._scapy import attached_groups
from duecare.probes.ports.parse import expand_ranges
from duecare.probes.registry import all_probes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+")
    ap.add_argument("--exclude", action="append", default=[])
    args = ap.parse_args()
    config = AgentConfig()
    steps: dict[str, float] = {}
    t = time.monotonic()
    scope = Scope.parse(args.targets, args.exclude)
    if scope.size() > config.scope.max_addresses:
        raise ScopeError(f"scope has {scope.size()} addresses, over {config.scope.max_addresses}")
    addrs = [str(ip) for ip in scope.addresses()]
    steps["scope_s"] = time.monotonic() - t
    t = time.monotonic()
    groups, routed = attached_groups(addrs)
    steps["grouping_s"] = time.monotonic() - t
    t = time.monotonic()
    plan = plan_ports(config, select_probes(config, all_probes()))
    steps["port_plan_s"] = time.monotonic() - t
    print(
        json.dumps(
            {
                "addresses": len(addrs),
                "on_link": {iface: len(ips) for iface, ips in groups.items()},
                "routed": len(routed),
                "tcp_ports": len(expand_ranges(plan.tcp)),
                "udp_ports": len(expand_ranges(plan.udp)),
                **{k: round(v, 3) for k, v in steps.items()},
                "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

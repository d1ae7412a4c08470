"""duecare's discovery stage alone, as ``duecare scan`` runs it (same config defaults, same code).

Run inside the scanner namespace: ``python -m bench.discovery_only 198.18.0.0/24 --exclude 198.18.0.2``.
Prints one JSON object: the live hosts found and how. It exists so the benchmark can set
discovery against ``nmap -sn`` with CPU and RSS of its own, without a flag in the product CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from duecare.agent.config import AgentConfig
from duecare.agent.privileges import can_use_raw_sockets
from duecare.agent.scan import _discover
from duecare.agent.scope import Scope
from duecare.probes.ports._nmap import Nmap


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+")
    ap.add_argument("--exclude", action="append", default=[])
    args = ap.parse_args()
    config = AgentConfig()
    scope = Scope.parse(args.targets, args.exclude)
    privileged = can_use_raw_sockets()
    addrs = [str(ip) for ip in scope.addresses()]
    nmap = Nmap(privileged=privileged, min_rate=config.ports.min_rate)
    notes: list[str] = []
    t0 = time.monotonic()
    live = asyncio.run(_discover(addrs, nmap, privileged, config, notes))
    stage = time.monotonic() - t0
    hosts = {ip: {"mac": mac, "how": how} for ip, (mac, how) in sorted(live.items()) if ip in scope}
    print(json.dumps({"stage_s": round(stage, 3), "privileged": privileged, "hosts": hosts, "notes": notes}))


if __name__ == "__main__":
    main()

"""The cost of the UPnP IGD read against the lab router's real miniupnpd (issue 14).

Builds a lab with the router (opt-in) and runs, from the scanner namespace, the UPnP probe's IGD
read (GetExternalIPAddress + GetGenericPortMappingEntry to fault 713) ``--rounds`` times, and the
whole UPnP probe with and without that read. Prints medians, the requests sent and the load average.

    python -m bench.igd_read [--rounds 21] [--mappings 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from duecare.lab.lab import Lab

CHILD = r"""
import asyncio, json, statistics, sys, time
from ipaddress import IPv4Address, IPv4Network
from duecare.probes.context import ProbeContext
from duecare.probes.base import Target
from duecare.probes.upnp import probe as upnp
from duecare.probes.upnp.parse import parse_device_description
from duecare.wire import Proto

rounds = int(sys.argv[1])

async def main():
    ctx = ProbeContext()
    body, _ = await upnp.fetch_description("http://198.18.0.1:5000/rootDesc.xml", ctx)
    device = parse_device_description(body, "http://198.18.0.1:5000/rootDesc.xml")
    service = device.wan_services[0]
    read, whole, without = [], [], []
    mappings = 0
    target = Target(IPv4Address("198.18.0.1"), 1900, Proto.UDP)
    for _ in range(rounds):
        t = time.perf_counter(); igd = await upnp.read_igd(service, ctx); read.append(time.perf_counter() - t)
        mappings = len(igd.mappings)
        t = time.perf_counter(); await upnp.UpnpProbe().run(target, ctx); whole.append(time.perf_counter() - t)
        saved = upnp._igd
        async def skip(device, target, ctx):
            return None, "skipped"
        upnp._igd = skip
        t = time.perf_counter(); await upnp.UpnpProbe().run(target, ctx); without.append(time.perf_counter() - t)
        upnp._igd = saved
    med = lambda xs: round(statistics.median(xs) * 1000, 1)
    print(json.dumps({"rounds": rounds, "mappings": mappings, "requests": 2 + mappings,
                      "igd_read_ms": med(read), "igd_read_max_ms": round(max(read) * 1000, 1),
                      "upnp_probe_ms": med(whole), "upnp_probe_without_igd_ms": med(without)}))

asyncio.run(main())
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    t0 = time.monotonic()
    with Lab(f"bigd{os.getpid() % 10000}", hosts=["rdp-tls", "vnc-open"], router=True) as lab:
        print(f"lab with router up in {time.monotonic() - t0:.1f} s: {lab.timings}")
        out = subprocess.run(
            lab.exec_argv([sys.executable, "-c", CHILD, str(args.rounds)]),
            capture_output=True,
            text=True,
            check=True,
            env=lab.exec_env() | {"PYTHONPATH": os.getcwd()},
        )
        print(json.dumps(json.loads(out.stdout.strip().splitlines()[-1]), indent=2))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

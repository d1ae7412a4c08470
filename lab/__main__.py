"""``python -m duecare.lab up|down|status [--prefix P]`` — run the lab by hand (README demo).

``up`` leaves the daemons running and prints the host table; ``down`` ends exactly the recorded
PIDs (plus anything still inside the lab's namespaces) and deletes the namespaces.
"""

from __future__ import annotations

import argparse
import json
import sys

from duecare.lab import procs
from duecare.lab.availability import lab_available
from duecare.lab.lab import Lab, LabError, state_path, teardown_prefix


def _table(lab: Lab) -> str:
    rows = [("host", "ip", "mac", "netns", "tcp", "udp", "role")]
    for h in lab.hosts:
        tcp = ",".join(str(p) for p in h.tcp_ports)
        if h.tcp_filtered:
            tcp += " (filtered " + ",".join(str(p) for p in h.tcp_filtered) + ")"
        rows.append(
            (h.name, h.ip, h.mac, h.namespace, tcp or "-", ",".join(str(p) for p in h.udp_ports) or "-", h.role)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m duecare.lab", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--prefix", default="dclab", help="namespace name prefix (default: dclab)")
    parser.add_argument(
        "--router", action="store_true", help="add the office router and the lab internet (203.0.113.0/24)"
    )
    args = parser.parse_args(argv)

    if args.command == "up":
        ok, why = lab_available()
        if not ok:
            print(f"lab unavailable: {why}", file=sys.stderr)
            return 2
        lab = Lab(prefix=args.prefix, router=args.router)
        try:
            lab.up()
        except LabError as exc:
            print(f"lab failed to come up:\n{exc}", file=sys.stderr)
            return 1
        print(_table(lab))
        print(f"\nup in {lab.timings['up']:.1f}s; workdir {lab.workdir}; state {state_path(args.prefix)}")
        print(f"scan from the scanner namespace only: ip netns exec {lab.scanner_ns} nmap -sS {lab.subnet}")
        return 0
    if args.command == "down":
        done = teardown_prefix(args.prefix)
        print(
            f"down: ended {len(done.pids)} processes ({len(done.sigkilled)} needed SIGKILL), "
            f"deleted {len(done.namespaces)} namespaces in {done.seconds:.2f}s"
        )
        return 0
    path = state_path(args.prefix)
    if not path.exists():
        print(f"no lab with prefix {args.prefix!r} (no {path})")
        return 1
    state = json.loads(path.read_text())
    for p in state["processes"]:
        ref = procs.ProcRef.from_json(p)
        print(f"{ref.host:14} {ref.name:10} pid {ref.pid:7} {'running' if procs.alive(ref) else 'GONE'}")
    print(f"workdir {state['workdir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

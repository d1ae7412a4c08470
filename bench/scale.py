"""Scale: the full scan over /24, /23 and /22 scopes of a mostly empty LAN, and a /16 planned.

Builds its own namespace LAN (prefix ``dcscl`` by default): a bridge namespace, a scanner at
198.18.0.2/22 (so the whole /22 is on-link and ARP-swept) and a handful of hosts spread over the
/22, each running memcached (a real service, so the probe stage has work). Nothing is linked to
the root namespace; everything is ended and deleted at the end.

For each scope it measures ``duecare scan`` (wall, CPU, the largest single process's peak RSS, and
the peak of the whole tree's summed RSS: duecare and the nmap it runs at once) and checks the
growth is no worse than linear in addresses. Then it plans 198.18.0.0/16 without sending
anything (bench/plan_only.py), beside a /24 planned the same way, and reports both plans' time
and peak RSS.

``--ports all`` passes the same flag to every scan (issue 16: every TCP port of the live hosts);
``--scopes /24`` limits the scopes measured.

Usage: python -m bench.scale [--rounds 3] [--prefix dcscl] [--ports all] [--scopes /24,/23,/22]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench._measure import Measured, machine_load, measure
from duecare.lab import netns, procs

REPO = Path(__file__).resolve().parents[1]
PY = str(REPO / ".venv" / "bin" / "python")
DUECARE = str(REPO / ".venv" / "bin" / "duecare")
SCANNER = "198.18.0.2"
HOSTS = ("198.18.0.10", "198.18.0.200", "198.18.1.10", "198.18.1.200", "198.18.2.50", "198.18.3.250")
SCOPES = {"/24": (24, 253), "/23": (23, 509), "/22": (22, 1021)}  # in-scope host addresses, scanner excluded
SLACK = 1.15  # measurement noise allowed on top of strictly linear growth


class ScaleLan:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.bridge = f"{prefix}-br"
        self.scanner = f"{prefix}-scan"
        self.host_ns = [f"{prefix}-h{i}" for i in range(len(HOSTS))]
        self.refs: list[procs.ProcRef] = []
        self.workdir = Path(tempfile.mkdtemp(prefix=f"duecare-scale-{prefix}-"))

    def up(self) -> None:
        self.down()
        netns.add(self.bridge)
        netns.add_bridge(self.bridge)
        netns.add(self.scanner)
        netns.attach(self.bridge, self.scanner, "vscan", "02:dc:22:00:00:02", f"{SCANNER}/22")
        for i, (ns, ip) in enumerate(zip(self.host_ns, HOSTS, strict=True)):
            netns.add(ns)
            netns.attach(self.bridge, ns, f"vh{i}", f"02:dc:22:00:01:{i:02x}", f"{ip}/22")
            argv = [*netns.exec_prefix(ns), "memcached", "-l", ip, "-p", "11211", "-U", "0", "-u", "nobody"]
            _p, ref = procs.spawn(
                argv, self.workdir / f"h{i}.log", {"PATH": "/usr/bin:/bin"}, name="memcached", host=ns
            )
            self.refs.append(ref)

    def down(self) -> None:
        namespaces = [self.bridge, self.scanner, *self.host_ns]
        procs.terminate(self.refs, [pid for ns in namespaces for pid in netns.pids(ns)], grace=2.0)
        self.refs.clear()
        for ns in namespaces:
            netns.delete(ns)

    def run(self, argv: list[str]) -> Measured:
        m = measure([*netns.exec_prefix(self.scanner), *argv], timeout=1800, env={"PYTHONPATH": str(REPO)})
        if m.returncode not in (0, 3):
            raise RuntimeError(f"{argv[:3]} failed rc {m.returncode}: {m.stderr.decode(errors='replace')[-2000:]}")
        return m


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefix", default="dcscl")
    ap.add_argument("--ports", choices=["default", "all"], default=None)
    ap.add_argument("--scopes", default=",".join(SCOPES))
    args = ap.parse_args()
    scopes = {k: v for k, v in SCOPES.items() if k in args.scopes.split(",")}
    if "/24" not in scopes:
        ap.error("--scopes must include /24 (the baseline of the linear bound)")
    extra = [] if args.ports is None else ["--ports", args.ports]
    lan = ScaleLan(args.prefix)
    print(f"before: {machine_load()}")
    results: dict[str, list[Measured]] = {s: [] for s in scopes}
    try:
        lan.up()
        for rnd in range(args.rounds):
            for scope, (bits, _n) in scopes.items():
                argv = [DUECARE, "scan", f"198.18.0.0/{bits}", "--exclude", SCANNER, "--json", *extra]
                m = lan.run(argv)
                found = len(json.loads(m.stdout)["assets"])
                results[scope].append(m)
                print(
                    f"  round {rnd + 1} {scope}: wall {m.wall_s:6.2f} s  cpu {m.cpu_s:5.2f} s  "
                    f"rss {m.maxrss_mb:6.1f} MiB  tree {m.tree_peak_mb:6.1f} MiB  hosts found {found}"
                )
        plans = {
            bits: lan.run([PY, "-m", "bench.plan_only", f"198.18.0.0/{bits}", "--exclude", SCANNER])
            for bits in (24, 16)
        }
    finally:
        lan.down()
        shutil.rmtree(lan.workdir, ignore_errors=True)
    print(f"after: {machine_load()}\n")
    base_wall = statistics.median(m.wall_s for m in results["/24"])
    base_rss = statistics.median(m.maxrss_mb for m in results["/24"])
    ok = True
    print(
        f"{'scope':<6}{'addresses':>10}{'wall s':>9}{'x /24':>7}{'cpu s':>8}{'RSS MiB':>8}{'x /24':>7}"
        f"{'tree MiB':>9}  linear bound"
    )
    for scope, (_bits, n) in scopes.items():
        wall = statistics.median(m.wall_s for m in results[scope])
        cpu = statistics.median(m.cpu_s for m in results[scope])
        rss = statistics.median(m.maxrss_mb for m in results[scope])
        tree = statistics.median(m.tree_peak_mb for m in results[scope])
        bound = n / SCOPES["/24"][1] * SLACK
        fine = wall / base_wall <= bound and rss / base_rss <= bound
        ok &= fine
        print(
            f"{scope:<6}{n:>10}{wall:>9.2f}{wall / base_wall:>7.2f}{cpu:>8.2f}{rss:>8.1f}{rss / base_rss:>7.2f}"
            f"{tree:>9.1f}  <= {bound:.2f} {'ok' if fine else 'WORSE THAN LINEAR'}"
        )
    for bits, plan in plans.items():
        info = json.loads(plan.stdout)
        print(
            f"\n/{bits} planned, nothing sent: {info['addresses']} addresses ({info['on_link']} on-link, "
            f"{info['routed']} routed), {info['tcp_ports']} TCP + {info['udp_ports']} UDP ports; "
            f"scope {info['scope_s']} s, grouping {info['grouping_s']} s, port plan {info['port_plan_s']} s; "
            f"wall {plan.wall_s:.2f} s, peak RSS {plan.maxrss_mb:.1f} MiB (tree {plan.tree_peak_mb:.1f} MiB)"
        )
    growth = plans[16].maxrss_mb - plans[24].maxrss_mb
    print(f"planning 256x the addresses cost {growth:+.1f} MiB of RSS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

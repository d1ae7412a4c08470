"""What identification by protocol and wider port sets cost on the lab (issue 16).

Builds the lab under its own prefix and runs the full one-shot audit (``duecare scan 198.18.0.0/24
--exclude 198.18.0.2 --json``) in rounds, alternating the order every round:

* ``baseline``: another checkout's duecare (``--baseline /path/to/.venv/bin/duecare``, e.g. main
  before issue 16: nmap's top 1000 ∪ standard ports, no identification);
* ``default``: this checkout, default port set (top 1000 ∪ standard ∪ alternate ports) + identification;
* ``all``: this checkout with ``--ports all`` (every TCP port of the live hosts).

Prints wall/CPU/peak RSS per run, the scan's own stage line (discovery, ports, identify, probes),
the identification line (ports, how each was named, time in first bytes and in nmap -sV), and how
many of the lab's designed exposures each run found.

Usage: python -m bench.identify_cost [--rounds 3] [--prefix dcbid] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from bench._measure import Measured, machine_load, measure
from bench.compare_nmap import stages
from bench.lab_exposures import expected, from_report, score
from duecare.lab.lab import Lab
from duecare.wire import Report

SUBNET = "198.18.0.0/24"
SCANNER = "198.18.0.2"
REPO = Path(__file__).resolve().parents[1]
DUECARE = str(REPO / ".venv" / "bin" / "duecare")


def _argv(binary: str, extra: list[str]) -> list[str]:
    return [binary, "scan", SUBNET, "--exclude", SCANNER, "--json", *extra]


def _identification(m: Measured) -> str:
    text = m.stderr.decode(errors="replace")
    return next((x.strip() for x in text.splitlines() if x.startswith("identification:")), "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefix", default="dcbid")
    ap.add_argument("--baseline", default=None, help="another checkout's duecare binary to compare with")
    args = ap.parse_args()
    variants = {"default": _argv(DUECARE, []), "all": _argv(DUECARE, ["--ports", "all"])}
    if args.baseline:
        variants = {"baseline": _argv(args.baseline, []), **variants}
    runs: dict[str, list[Measured]] = {k: [] for k in variants}
    print(f"before: {machine_load()}")
    with Lab(prefix=args.prefix) as lab:
        for rnd in range(args.rounds):
            order = list(variants) if rnd % 2 == 0 else list(reversed(variants))
            for name in order:
                m = measure(lab.exec_argv(variants[name]), timeout=1800, env=lab.exec_env())
                if m.returncode not in (0, 3):
                    raise RuntimeError(f"{name}: rc {m.returncode}: {m.stderr.decode(errors='replace')[-2000:]}")
                runs[name].append(m)
                report = Report.model_validate_json(m.stdout)
                hit, missed, _extra = score(from_report(report), expected())
                st = " · ".join(f"{k} {v:.2f}" for k, v in stages(m).items())
                print(
                    f"  round {rnd + 1} {name:<8} wall {m.wall_s:6.2f} s  cpu {m.cpu_s:5.2f} s  "
                    f"rss {m.maxrss_mb:6.1f} MiB  exposures {len(hit)}/{len(hit) + len(missed)}  "
                    f"tcp ports {report.scope.tcp_ports[:40]}"
                )
                print(f"      stages: {st}")
                if _identification(m):
                    print(f"      {_identification(m)}")
                sys.stdout.flush()
    print(f"after: {machine_load()}\n")
    print(f"{'variant':<9}{'wall s':>8}{'cpu s':>8}{'ports s':>9}{'identify s':>11}{'probes s':>9}")
    for name, ms in runs.items():
        per = [stages(m) for m in ms]

        def med(key: str, per: list[dict[str, float]] = per) -> float:
            return statistics.median(p.get(key, 0.0) for p in per)

        print(
            f"{name:<9}{statistics.median(m.wall_s for m in ms):>8.2f}{statistics.median(m.cpu_s for m in ms):>8.2f}"
            f"{med('ports'):>9.2f}{med('identify'):>11.2f}{med('probes'):>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

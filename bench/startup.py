"""Start-up time of the ``duecare`` command: wall time of whole runs, repeated, medians reported.

Each command is run ``--runs`` times (default 21), the commands interleaved round by round so a
burst of load from other engineers on the shared machine spreads over all of them. A bare
``python -c pass`` and ``python -S -c pass`` are measured beside them: the interpreter's own floor.
Wall time is from fork to exit as the benchmark saw it (``time.perf_counter`` around the
child), output discarded; CPU is the child's user+sys from ``os.wait4``, which other engineers'
load inflates less than wall time.

Usage: python -m bench.startup [--runs 21] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._measure import machine_load

BIN = Path(sys.executable).parent
DUECARE = str(BIN / "duecare")
PY = str(BIN / "python")

#: name → argv; the targets are issue 19's: ``--help`` ≤ 0.25 s, ``scan --help`` ≤ 0.3 s.
COMMANDS: dict[str, list[str]] = {
    "python -S -c pass": [PY, "-S", "-c", "pass"],
    "python -c pass": [PY, "-c", "pass"],
    "duecare --help": [DUECARE, "--help"],
    "duecare scan --help": [DUECARE, "scan", "--help"],
    "duecare agent --help": [DUECARE, "agent", "--help"],
    "duecare agent run --help": [DUECARE, "agent", "run", "--help"],
    "duecare collector --help": [DUECARE, "collector", "--help"],
}
TARGETS = {"duecare --help": 0.25, "duecare scan --help": 0.3}


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user+sys, from the child's rusage) seconds of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}")
    return took, usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env_note = {k: os.environ[k] for k in ("PYTHONDONTWRITEBYTECODE",) if k in os.environ}
    before = machine_load()
    for argv in COMMANDS.values():  # warm the page cache and the bytecode caches once
        run_once(argv)
    walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            wall, cpu = run_once(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    after = machine_load()
    rows = {
        name: {
            "median_s": round(statistics.median(s), 3),
            "min_s": round(min(s), 3),
            "max_s": round(max(s), 3),
            "cpu_median_s": round(statistics.median(cpus[name]), 3),
            **({"target_s": TARGETS[name]} if name in TARGETS else {}),
        }
        for name, s in walls.items()
    }
    if args.json:
        print(json.dumps({"runs": args.runs, "before": before, "after": after, "commands": rows, **env_note}, indent=2))
        return 0
    print(f"{args.runs} runs each; before: {before}; after: {after}")
    for name, r in rows.items():
        line = f"  {name:26} wall median {r['median_s']:.3f} s (min {r['min_s']:.3f}, max {r['max_s']:.3f})"
        line += f"  cpu median {r['cpu_median_s']:.3f} s"
        if "target_s" in r:
            line += f"  (target ≤ {r['target_s']} s: {'met' if r['median_s'] <= r['target_s'] else 'NOT met'})"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

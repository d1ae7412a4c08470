"""duecare side by side with nmap on the namespace lab: full audit and discovery alone.

Builds the lab (tests/lab) under its own prefix, then runs, ALTERNATING within each round (the
order flips every round so neither tool always runs on a warmer machine):

* full audit: ``duecare scan 198.18.0.0/24 --exclude 198.18.0.2 --json`` vs ``nmap -sS -sU`` on
  the same TCP port set duecare scans (``report.scope.tcp_ports``) plus U:161, with ``-sV`` and the
  NSE scripts that observe the same exposures (same -T4 and --min-rate as duecare's port stage);
* discovery: duecare's discovery stage (bench/discovery_only.py, the scan's own ``_discover``)
  vs ``nmap -sn``.

Prints wall time, CPU (user+sys of the child tree) and peak RSS (ru_maxrss of the tree) per run,
the medians, the duecare/nmap ratios, which lab exposures each tool found, and the machine load.

Usage: python -m bench.compare_nmap [--rounds 3] [--prefix dcbcmp] [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

from bench._measure import Measured, machine_load, measure
from bench.lab_exposures import NOT_OBSERVABLE_BY_NMAP, Found, expected, from_nmap_xml, from_report, score
from duecare.agent.config import AgentConfig
from duecare.agent.scan import plan_ports
from duecare.lab.lab import Lab
from duecare.probes.registry import all_probes
from duecare.wire import Report

SUBNET = "198.18.0.0/24"
SCANNER = "198.18.0.2"
REPO = Path(__file__).resolve().parents[1]
PY = str(REPO / ".venv" / "bin" / "python")
DUECARE = str(REPO / ".venv" / "bin" / "duecare")
SCRIPTS = (
    "rdp-enum-encryption,rdp-ntlm-info,smb-protocols,smb2-security-mode,ftp-anon,"
    "snmp-info,http-headers,ssl-cert,redis-info,vnc-info"
)
FULL_TIMEOUT = 1800.0
#: Issue 19: the full audit in at most this fraction of nmap's equivalent, same lab, same run.
TARGET = 0.05


def duecare_full(out: Path) -> list[str]:
    return [DUECARE, "scan", SUBNET, "--exclude", SCANNER, "--json", "--json-out", str(out)]


def nmap_full(tcp_ports: str, xml: Path) -> list[str]:
    cfg = AgentConfig()
    return [
        "nmap",
        "-sS",
        "-sU",
        "-p",
        f"T:{tcp_ports},U:161",
        "-sV",
        "--script",
        SCRIPTS,
        "-n",
        "-T4",
        "--min-rate",
        str(cfg.ports.min_rate),
        "-oX",
        str(xml),
        SUBNET,
        "--exclude",
        SCANNER,
    ]


def duecare_discovery() -> list[str]:
    return [PY, "-m", "bench.discovery_only", SUBNET, "--exclude", SCANNER]


def nmap_discovery() -> list[str]:
    return ["nmap", "-sn", "-n", "-T4", SUBNET, "--exclude", SCANNER, "-oX", "-"]


def _run(lab: Lab, argv: list[str], label: str) -> Measured:
    m = measure(lab.exec_argv(argv), timeout=FULL_TIMEOUT, env={**lab.exec_env(), "PYTHONPATH": str(REPO)})
    print(f"  {label:<20} wall {m.wall_s:8.2f} s  cpu {m.cpu_s:7.2f} s  rss {m.maxrss_mb:7.1f} MB  rc {m.returncode}")
    sys.stdout.flush()
    if m.returncode not in (0, 3):
        raise RuntimeError(f"{label} failed (rc {m.returncode}): {m.stderr.decode(errors='replace')[-2000:]}")
    return m


_STAGE = re.compile(r"(\w[\w-]*) (\d+(?:\.\d+)?) s(?: \[(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\])?")


def stage_windows(m: Measured) -> dict[str, tuple[float, float]]:
    """Each stage's window (start, end) in seconds from the first stage's start, where the line
    gives it: pipelined stages overlap, so their durations do not add up to the scan's time."""
    text = m.stderr.decode(errors="replace")
    line = next((x for x in reversed(text.splitlines()) if x.startswith("stages: ")), "")
    return {name: (float(a), float(b)) for name, _sec, a, b in _STAGE.findall(line) if a and b}


def stages(m: Measured) -> dict[str, float]:
    """The scan's own ``stages: discovery 2.31 s [0.00-2.31] · ports …`` line (stderr), plus what is
    left of the wall time: interpreter start-up, imports, writing the report and exit. With windows,
    what is left is the wall time less the stages' span (overlaps counted once), not less their sum."""
    text = m.stderr.decode(errors="replace")
    line = next((x for x in reversed(text.splitlines()) if x.startswith("stages: ")), "")
    found = {name: float(sec) for name, sec, _a, _b in _STAGE.findall(line)}
    if found:
        windows = stage_windows(m)
        if len(windows) == len(found):
            span = max(b for _a, b in windows.values()) - min(a for a, _b in windows.values())
        else:
            span = sum(found.values())
        found["start-up and exit"] = max(m.wall_s - span, 0.0)
    return found


def _stage_lines(runs: list[Measured]) -> list[str]:
    per_run = [stages(m) for m in runs]
    per_window = [stage_windows(m) for m in runs]
    names = [n for n in per_run[0]] if per_run and per_run[0] else []
    lines = ["duecare full audit, where the time goes (median of runs; window from the first stage's start):"]
    for name in names:
        values = [s.get(name, 0.0) for s in per_run]
        starts = [w[name][0] for w in per_window if name in w]
        window = ""
        if len(starts) == len(runs):
            ends = [w[name][1] for w in per_window]
            window = f"  [{statistics.median(starts):.2f}-{statistics.median(ends):.2f}]"
        lines.append(
            f"  {name:<18} {statistics.median(values):6.2f} s{window}   runs: {' / '.join(f'{v:.2f}' for v in values)}"
        )
    return lines if names else ["duecare full audit: no stage line on stderr"]


def _median(runs: list[Measured], attr: str) -> float:
    return float(statistics.median(float(getattr(r, attr)) for r in runs))


def _summary(title: str, ours: list[Measured], theirs: list[Measured]) -> list[str]:
    lines = [f"{title}: median of {len(ours)} (duecare) / {len(theirs)} (nmap)"]
    for attr, unit, name in (("wall_s", "s", "wall"), ("cpu_s", "s", "cpu"), ("maxrss_mb", "MB", "peak RSS")):
        a, b = _median(ours, attr), _median(theirs, attr)
        lines.append(f"  {name:<9} duecare {a:8.2f} {unit:<2}  nmap {b:8.2f} {unit:<2}  ratio {a / b:6.3f}")
    return lines


def _exposure_lines(tool: str, found: Found, truth: Found) -> list[str]:
    hit, missed, extra = score(found, truth)
    lines = [f"  {tool:<8} found {len(hit)}/{len(truth)} lab exposures"]
    for ip, exp in sorted(missed, key=str):
        why = " (no requested NSE script observes it)" if tool == "nmap" and exp in NOT_OBSERVABLE_BY_NMAP else ""
        lines.append(f"    missed {ip} {exp}{why}")
    lines += [f"    extra  {ip} {exp}" for ip, exp in sorted(extra, key=str)]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefix", default="dcbcmp")
    ap.add_argument("--out", type=Path, default=None, help="keep reports and nmap XML here")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="duecare-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    plan = plan_ports(AgentConfig(), all_probes())
    header = [f"before: {machine_load()}"]
    full: dict[str, list[Measured]] = {"duecare": [], "nmap": []}
    disc: dict[str, list[Measured]] = {"duecare": [], "nmap": []}
    reports: list[Report] = []
    nmap_found: list[Found] = []
    with Lab(prefix=args.prefix) as lab:
        print(f"lab up in {lab.timings['up']:.1f}s ({len(lab.hosts)} hosts); {header[0]}")
        for rnd in range(args.rounds):
            order = ["duecare", "nmap"] if rnd % 2 == 0 else ["nmap", "duecare"]
            print(f"round {rnd + 1}/{args.rounds} ({' then '.join(order)}); {machine_load()}")
            for tool in order:
                if tool == "duecare":
                    out = work / f"duecare-{rnd}.json"
                    full["duecare"].append(_run(lab, duecare_full(out), "duecare full"))
                    reports.append(Report.model_validate_json(out.read_bytes()))
                    if reports[-1].scope.tcp_ports != plan.tcp:
                        raise RuntimeError("the report's TCP port set differs from plan_ports(): fix the bench")
                else:
                    xml = work / f"nmap-{rnd}.xml"
                    full["nmap"].append(_run(lab, nmap_full(plan.tcp, xml), "nmap full"))
                    nmap_found.append(from_nmap_xml(xml.read_bytes()))
            for tool in order:
                argv = duecare_discovery() if tool == "duecare" else nmap_discovery()
                disc[tool].append(_run(lab, argv, f"{tool} discovery"))
    footer = f"after: {machine_load()}"
    truth = expected()
    lines = [*header, footer, ""]
    lines += [*_summary("full audit", full["duecare"], full["nmap"]), ""]
    lines += [*_stage_lines(full["duecare"]), ""]
    lines += [*_summary("discovery", disc["duecare"], disc["nmap"]), ""]
    lines.append("lab exposures (every round):")
    for i, (rep, nf) in enumerate(zip(reports, nmap_found, strict=True)):
        lines.append(f" round {i + 1}")
        lines += _exposure_lines("duecare", from_report(rep), truth)
        lines += _exposure_lines("nmap", nf, truth)
    ratio = _median(full["duecare"], "wall_s") / _median(full["nmap"], "wall_s")
    all_found = all(not score(from_report(r), expected())[1] for r in reports)
    verdict = "MET" if ratio <= TARGET and all_found else "NOT MET"
    lines.append(f"\ntarget (full audit <= {TARGET}x nmap wall, every lab exposure found): {verdict} ({ratio:.3f}x)")
    lines.append(f"reports and XML kept in {work}")
    print("\n".join(lines))
    return 0 if verdict == "MET" else 1


if __name__ == "__main__":
    sys.exit(main())

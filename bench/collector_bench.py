"""Collector benchmark: ingest throughput, a large report, and the nightly pull, on SQLite and PostgreSQL.

Runs a real ``python -m duecare.collector serve`` on 127.0.0.1 and talks HTTP to it, as agents and the
MSP would. Scenarios, per database (each prints one ``SUMMARY`` line, comparable run to run):

- ``steady``: 4 agents (4 sites) each post ``--reports`` reports of the same 100 findings (a quiet
  night: the lifecycle runs, little changes); reports/s over all posts, latency median and p95.
- ``new``: 4 more agents post ``--reports`` reports each, every report 100 *new* findings (10 hosts ×
  10 exposures on a fresh /24, so nothing resolves); reports/s.
- ``big``: one report of 20,000 findings (a /16 nightly with many exposures): seconds to a receipt.
- ``noisy``: on a fresh database, three agents of one client post two 15,500-finding reports each
  while an agent of another client posts a 10-finding report every second (``tests/collector/noisy.py``,
  the scenario of the noisy-neighbour test): the quiet client's p95 and max latency (target p95 < 1 s).
- ``pull``: the change feed is filled to ``--changes`` changes, then ``duecare pull --format json``
  (a separate process, measured by ``bench/_measure.py``: wall time and its peak RSS) writes them to a
  file; the file is checked to be valid JSON with every change. Also CSV and OCSF.

The collector is started with ``--agent-rate 0`` (no per-agent rate limit: the benchmark measures
the database path, not the limiter) and ``--workers 2`` (one process per core of this machine).

Usage: python bench/collector_bench.py [--backends sqlite,postgresql] [--reports 100] [--changes 100000] [--keep-alive]
       [--profile PREFIX]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._measure import machine_busy_s, measure, named_cpu_s, tree_cpu_s
from duecare.wire import Exposure, Proto
from duecare.wire.api import ExportFormat
from tests.collector import noisy
from tests.collector.databases import database_url
from tests.collector.factories import AgentChain, finding
from tests.collector.processes import Server, cli

EXPOSURES = list(Exposure)[:10]


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _summary(kind: str, scenario: str, **figures: Any) -> None:
    parts = " ".join(f"{k}={v}" for k, v in figures.items())
    conn = "kept" if KEEP_ALIVE else "per-post"
    print(f"SUMMARY {kind:<10} {scenario:<12} {parts} connections={conn} load={_load()}", flush=True)


def _enroll(url: str, token: str) -> tuple[dict[str, str], AgentChain]:
    chain = AgentChain()
    resp = httpx.post(f"{url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64})
    resp.raise_for_status()
    return {"authorization": f"Bearer {resp.json()['credential']}"}, chain


def _encode(streams: list[tuple[dict[str, str], list[dict[str, Any]]]]) -> list[tuple[dict[str, str], list[bytes]]]:
    """Bodies serialised before the clock starts: the benchmark measures the collector, not the client."""
    return [(auth, [json.dumps(b).encode() for b in bodies]) for auth, bodies in streams]


#: Each report on a connection of its own, as agents post (one report a night: the server's keep-alive
#: has closed yesterday's connection). With one kept-alive connection per agent instead, the collector's
#: worker processes get the 4 agents' connections in a random split (4-0, 3-1 or 2-2) for the whole
#: run, and the figure follows the split (``--keep-alive``).
KEEP_ALIVE = False


def _post_all(url: str, streams: list[tuple[dict[str, str], list[bytes]]]) -> tuple[float, list[float]]:
    """Post every stream in its own thread (in order within a stream); wall time and latencies.

    The client is the standard library's ``http.client``: it shares the machine's 2 cores with the
    collector, and httpx cost ~1.4 ms of CPU a post (a sixth of the machine's CPU per steady report)
    against ~0.4 ms. Same requests: HTTP/1.1, the same headers and bodies, one connection per post
    (or one per agent with ``--keep-alive``)."""
    latencies: list[float] = []
    errors: list[str] = []
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    def run(auth: dict[str, str], bodies: list[bytes]) -> None:
        headers = {**auth, "content-type": "application/json"}
        if not KEEP_ALIVE:
            headers["connection"] = "close"  # the next post opens a new connection
        conn: http.client.HTTPConnection | None = None
        try:
            for body in bodies:
                t0 = time.perf_counter()
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=300)
                conn.request("POST", "/v1/reports", body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                latencies.append(time.perf_counter() - t0)
                if not KEEP_ALIVE:
                    conn.close()
                    conn = None
                if resp.status != 201:
                    errors.append(f"{resp.status}: {text[:300]!r}")
                    return
        finally:
            if conn is not None:
                conn.close()

    threads = [threading.Thread(target=run, args=s) for s in streams]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return time.perf_counter() - t0, latencies


#: ``--profile PREFIX``: py-spy samples the collector's processes during each ingest scenario.
PROFILE: str | None = None


def _profiler(pid: int, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy (``pip install py-spy``) recording the collector's process tree, raw (collapsed) stacks
    with the process id at their root, to ``PREFIX.kind.scenario``; None without ``--profile``."""
    if PROFILE is None:
        return None
    out = f"{PROFILE}.{name}"
    # On PATH, or installed in the benchmark's own virtual environment (not on PATH unless activated).
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "250", "-o", out]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the first post
    return spy


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]


Streams = list[tuple[dict[str, str], list[dict[str, Any]]]]


def _ingest(kind: str, scenario: str, server: Server, streams: Streams) -> None:
    """Throughput and latency, and where the CPU went: the collector's processes, PostgreSQL's, this
    client's, and the whole machine's (which holds all three). The machine's speed varies through
    the day; CPU per report varies less than reports per second."""
    encoded = _encode(streams)
    assert server.proc is not None
    spy = _profiler(server.proc.pid, f"{kind}.{scenario}")
    before = (tree_cpu_s(server.proc.pid), named_cpu_s("postgres"), time.process_time(), machine_busy_s())
    wall, lat = _post_all(server.url, encoded)
    after = (tree_cpu_s(server.proc.pid), named_cpu_s("postgres"), time.process_time(), machine_busy_s())
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        spy.wait(60)
    n = sum(len(b) for _, b in encoded)
    server_ms, db_ms, client_ms, machine_ms = ((b - a) * 1000 / n for a, b in zip(before, after, strict=True))
    _summary(
        kind,
        scenario,
        reports=n,
        agents=len(streams),
        reports_per_s=f"{n / wall:.1f}",
        findings_per_s=f"{n * 100 / wall:.0f}",
        p50_ms=f"{statistics.median(lat) * 1000:.0f}",
        p95_ms=f"{_p95(lat) * 1000:.0f}",
        server_cpu_ms=f"{server_ms:.1f}",
        # PostgreSQL's processes (SQLite works inside the collector's): 0.0 on SQLite.
        db_cpu_ms=f"{db_ms:.1f}" if kind == "postgresql" else "0.0",
        client_cpu_ms=f"{client_ms:.1f}",
        machine_cpu_ms=f"{machine_ms:.1f}",
    )


def _same_findings() -> list[Any]:
    return [finding(f"198.18.0.{h + 1}", e, 1000 + i, Proto.TCP) for i, e in enumerate(EXPOSURES) for h in range(10)]


def _new_findings(r: int) -> tuple[list[Any], str]:
    net = f"10.{r // 250}.{r % 250}"
    items = [finding(f"{net}.{h + 1}", e, 1000 + i, Proto.TCP) for i, e in enumerate(EXPOSURES) for h in range(10)]
    return items, f"{net}.0/24"


SCENARIOS = ("steady", "new", "big", "pull", "noisy")


def bench(kind: str, reports: int, changes: int, workers: int, tmp: Path, scenarios: set[str]) -> None:
    with database_url(kind, tmp) as db:
        cli("init", db=db)
        cli("add-client", "bench", db=db)
        sites = 14
        tokens = [cli("add-site", "bench", f"site{i}", db=db)[-1] for i in range(sites)]
        key = cli("add-reader", "--all-clients", db=db)[-1]
        key_file = tmp / "reader.key"
        key_file.write_text(key + "\n")
        server = Server(db, tmp / f"{kind}.log", None, "--agent-rate", "0", "--workers", str(workers)).start()
        try:
            print(f"[{kind}] collector at {server.url} ({workers} workers), load average {_load()}", flush=True)
            if "steady" in scenarios:
                steady = [_enroll(server.url, t) for t in tokens[:4]]
                same = _same_findings()
                streams = [
                    (auth, [chain.next(findings=same, targets=["198.18.0.0/24"]) for _ in range(reports)])
                    for auth, chain in steady
                ]
                _ingest(kind, "steady", server, streams)
            if "new" in scenarios:
                _new(kind, server, tokens[4:8], reports)
            if "big" in scenarios:
                _big(kind, server.url, tokens[8])
            if "pull" in scenarios:
                _fill(server.url, tokens[9:], changes, key)
                for fmt in ExportFormat:
                    _pull(kind, server.url, key_file, fmt, tmp)
        finally:
            server.stop()


def _new(kind: str, server: Server, tokens: list[str], reports: int) -> None:
    fresh = [_enroll(server.url, t) for t in tokens]
    streams: list[tuple[dict[str, str], list[dict[str, Any]]]] = [(auth, []) for auth, _ in fresh]
    for r in range(reports * 4):
        items, target = _new_findings(r)
        streams[r % 4][1].append(fresh[r % 4][1].next(findings=items, targets=[target]))
    _ingest(kind, "new", server, streams)


def _big(kind: str, url: str, token: str) -> None:
    auth, chain = _enroll(url, token)
    big = [finding(f"10.200.{i // 250}.{i % 250 + 1}", EXPOSURES[i % 10], 1000 + i % 10) for i in range(20_000)]
    body = json.dumps(chain.next(findings=big, targets=["10.200.0.0/16"])).encode()
    t0 = time.perf_counter()
    resp = httpx.post(
        f"{url}/v1/reports",
        content=body,
        headers={**auth, "content-type": "application/json"},
        timeout=600,
    )
    dt = time.perf_counter() - t0
    if resp.status_code != 201:
        raise RuntimeError(f"big report: {resp.status_code} {resp.text[:300]}")
    _summary(kind, "big-report", findings=20_000, mb=f"{len(body) / 1e6:.1f}", seconds=f"{dt:.2f}")


def _head(url: str, key: str) -> int:
    resp = httpx.get(
        f"{url}/v1/export/changes",
        params={"format": "csv", "cursor": "0"},
        headers={"authorization": f"Bearer {key}"},
        timeout=600,
    )
    return int(resp.headers["x-duecare-count"])


def _fill(url: str, tokens: list[str], target: int, key: str) -> None:
    """New findings until the feed holds ``target`` changes (each such report adds ~111 changes)."""
    have = _head(url, key)
    agents = [_enroll(url, t) for t in tokens]
    r = 10_000
    while have < target:
        n = min(400, (target - have) // 100 + 1)
        streams: list[tuple[dict[str, str], list[dict[str, Any]]]] = [(a, []) for a, _ in agents]
        for i in range(n):
            items, net = _new_findings(r)
            r += 1
            streams[i % len(agents)][1].append(agents[i % len(agents)][1].next(findings=items, targets=[net]))
        _post_all(url, _encode(streams))
        have = _head(url, key)
    print(f"  feed filled: {have} changes", flush=True)


def _pull(kind: str, url: str, key_file: Path, fmt: ExportFormat, tmp: Path) -> None:
    out, cursor = tmp / f"pull.{fmt.value}", tmp / f"cursor.{fmt.value}"
    argv = [
        str(Path(sys.executable).with_name("duecare")), "pull",
        "--collector", url, "--key-file", str(key_file), "--cursor-file", str(cursor),
        "--format", fmt.value, "--output", str(out),
    ]  # fmt: skip
    m = measure(argv, timeout=600)
    if m.returncode != 0:
        raise RuntimeError(f"pull failed: {m.stderr.decode()[-500:]}")
    count = int(m.stderr.decode().split("pulled ", 1)[1].split(" ", 1)[0])
    valid = "n/a"
    if fmt is ExportFormat.JSON:
        doc = json.loads(out.read_bytes())
        valid = str(len(doc["changes"]) == count)
    elif fmt is ExportFormat.OCSF:
        valid = str(isinstance(json.loads(out.read_bytes()), list))
    _summary(
        kind,
        f"pull-{fmt.value}",
        changes=count,
        mb=f"{out.stat().st_size / 1e6:.1f}",
        seconds=f"{m.wall_s:.2f}",
        client_peak_rss_mb=f"{m.maxrss_mb:.0f}",
        valid_json=valid,
    )


def bench_noisy(kind: str, tmp: Path) -> None:
    with database_url(kind, tmp) as db:
        out = noisy.run(db, tmp / "noisy.log")
    _summary(
        kind,
        "noisy",
        noisy_reports=len(out.noisy_status),
        noisy_s="/".join(f"{x:.1f}" for x in out.noisy_seconds),
        quiet_posts=len(out.quiet_status),
        quiet_ok=sum(1 for c in out.quiet_status if c == 201),
        quiet_p95_ms=f"{out.quiet_p95() * 1000:.0f}",
        quiet_max_ms=f"{max(out.quiet_latency) * 1000:.0f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--reports", type=int, default=100, help="reports per agent in steady and new")
    parser.add_argument("--changes", type=int, default=100_000, help="changes in the feed before the pull")
    parser.add_argument("--workers", type=int, default=2, help="collector worker processes (one per core)")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--keep-alive", action="store_true", help="each agent posts all its reports on one kept-alive connection"
    )
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy the collector during steady and new")
    args = parser.parse_args()
    global KEEP_ALIVE, PROFILE
    KEEP_ALIVE, PROFILE = args.keep_alive, args.profile
    scenarios = set(args.scenarios.split(","))
    if not scenarios <= set(SCENARIOS):
        parser.error(f"--scenarios: unknown {sorted(scenarios - set(SCENARIOS))}")
    for kind in args.backends.split(","):
        if scenarios - {"noisy"}:
            with tempfile.TemporaryDirectory(prefix="duecare-bench-") as tmp:
                bench(kind, args.reports, args.changes, args.workers, Path(tmp), scenarios)
        if "noisy" in scenarios:
            with tempfile.TemporaryDirectory(prefix="duecare-bench-") as tmp:
                bench_noisy(kind, Path(tmp))


if __name__ == "__main__":
    main()

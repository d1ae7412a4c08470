"""Collector benchmark: ingest throughput and the nightly pull, on SQLite and PostgreSQL.

Runs a real ``python -m duecare.collector serve`` on 127.0.0.1 and talks HTTP to it, as agents and the
MSP would. Phases, per database:

1. steady state: 4 agents (4 sites) each post 50 reports of the same 100 findings (a quiet
   night: the lifecycle runs, little changes); reports/s over all 200 posts.
2. fill: 10 agents (10 more sites) post 100 reports each in parallel, every report 100 *new*
   findings (10 hosts × 10 exposures on a fresh /24, so nothing resolves): 100,000 findings and
   100,000+ feed entries; reports/s (a worst case: each site ends with 10,000 live findings).
3. the nightly pull of those 100,000 findings: the whole change feed through ``duecare pull``
   (JSON, CSV, OCSF), and ``GET /v1/export/findings`` in each format.

Usage: python bench/collector_bench.py [--backends sqlite,postgresql] [--fill 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from duecare.collector.client import pull

from duecare.collector.exports import ExportFormat
from duecare.wire import Exposure, Proto
from tests.collector.databases import database_url
from tests.collector.factories import AgentChain, finding
from tests.collector.processes import Server, cli

EXPOSURES = list(Exposure)[:10]


def _enroll(url: str, token: str) -> tuple[dict[str, str], AgentChain]:
    chain = AgentChain()
    resp = httpx.post(f"{url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64})
    resp.raise_for_status()
    return {"authorization": f"Bearer {resp.json()['credential']}"}, chain


def _post_all(url: str, streams: list[tuple[dict[str, str], list[dict[str, Any]]]]) -> tuple[float, list[float]]:
    """Post every stream in its own thread (in order within a stream); wall time and latencies."""
    latencies: list[float] = []

    def run(auth: dict[str, str], bodies: list[dict[str, Any]]) -> None:
        with httpx.Client(timeout=120) as http:
            for body in bodies:
                t0 = time.perf_counter()
                resp = http.post(f"{url}/v1/reports", json=body, headers=auth)
                latencies.append(time.perf_counter() - t0)
                if resp.status_code != 201:
                    raise RuntimeError(f"{resp.status_code}: {resp.text[:300]}")

    threads = [threading.Thread(target=run, args=s) for s in streams]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies


def _timed(label: str, fn: Callable[[], int]) -> None:
    t0 = time.perf_counter()
    size = fn()
    dt = time.perf_counter() - t0
    print(f"  {label:<38} {dt:7.2f} s  ({size / 1e6:6.1f} MB)")


def bench(kind: str, fill: int, tmp: Path) -> None:
    with database_url(kind, tmp) as db:
        cli("init", db=db)
        cli("add-client", "bench", db=db)
        tokens = [cli("add-site", "bench", f"site{i}", db=db)[-1] for i in range(14)]
        key = cli("add-reader", db=db)[-1]
        server = Server(db, tmp / f"{kind}.log").start()
        try:
            steady = [_enroll(server.url, t) for t in tokens[:4]]
            same = [
                finding(f"198.18.0.{h + 1}", e, 1000 + i, Proto.TCP) for i, e in enumerate(EXPOSURES) for h in range(10)
            ]
            streams = [
                (auth, [chain.next(findings=same, targets=["198.18.0.0/24"]) for _ in range(50)])
                for auth, chain in steady
            ]
            wall, lat = _post_all(server.url, streams)
            n = sum(len(b) for _, b in streams)
            print(f"[{kind}] steady state: {n} reports x 100 findings, 4 agents in parallel")
            print(
                f"  {n / wall:7.1f} reports/s  ({n * 100 / wall:8.0f} findings/s), "
                f"latency median {statistics.median(lat) * 1000:.0f} ms, p95 {_p95(lat) * 1000:.0f} ms"
            )

            fillers = [_enroll(server.url, t) for t in tokens[4:]]
            streams = [(auth, []) for auth, _ in fillers]
            for r in range(fill):
                net = f"10.{r // 250}.{r % 250}"
                items = [
                    finding(f"{net}.{h + 1}", e, 1000 + i, Proto.TCP)
                    for i, e in enumerate(EXPOSURES)
                    for h in range(10)
                ]
                streams[r % 10][1].append(fillers[r % 10][1].next(findings=items, targets=[f"{net}.0/24"]))
            wall, lat = _post_all(server.url, streams)
            print(f"[{kind}] fill: {fill} reports x 100 new findings, 10 agents in parallel")
            print(
                f"  {fill / wall:7.1f} reports/s  ({fill * 100 / wall:8.0f} findings/s), "
                f"latency median {statistics.median(lat) * 1000:.0f} ms, p95 {_p95(lat) * 1000:.0f} ms"
            )

            print(f"[{kind}] nightly pull ({fill * 100 + 400} findings in the database)")
            for fmt in ExportFormat:
                out = tmp / f"pull.{fmt.value}"
                cursor = tmp / f"cursor.{fmt.value}"

                def run_pull(fmt: ExportFormat = fmt, out: Path = out, cursor: Path = cursor) -> int:
                    s = pull(server.url, key, cursor_file=cursor, fmt=fmt, output=out, page_size=5000)
                    print(f"    ({s.changes} changes, cursor {s.cursor_before} -> {s.cursor_after})")
                    return out.stat().st_size

                _timed(f"duecare pull --format {fmt.value}", run_pull)
            for fmt in ExportFormat:

                def export(fmt: ExportFormat = fmt) -> int:
                    with httpx.Client(timeout=600) as http:
                        resp = http.get(
                            f"{server.url}/v1/export/findings",
                            params={"format": fmt.value},
                            headers={"authorization": f"Bearer {key}"},
                        )
                        resp.raise_for_status()
                        return len(resp.content)

                _timed(f"GET /v1/export/findings?format={fmt.value}", export)
        finally:
            server.stop()


def _p95(xs: list[float]) -> float:
    return sorted(xs)[int(len(xs) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--fill", type=int, default=1000, help="reports of 100 new findings each")
    args = parser.parse_args()
    for kind in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="duecare-bench-") as tmp:
            bench(kind, args.fill, Path(tmp))


if __name__ == "__main__":
    main()

"""In-process CPU per ingested report (no HTTP, no client): a load-independent figure for issue 15.

The collector benchmark (``collector_bench.py``) measures reports/s over real HTTP, which depends on
what else the shared machine runs. This measures the process CPU time (``time.process_time``) of
the server's own work per report: parse, signature, validation, the database transaction and the
signed receipt, for the ``steady`` (the same 100 findings every report) and ``new`` (100 new
findings every report) scenarios of the benchmark, and optionally the same through the ASGI app
(``--asgi``: the framework, middlewares and dependencies added, still without a socket).

Usage: python bench/ingest_cpu.py [--backends sqlite,postgresql] [--reports 200] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.collector_bench import _new_findings, _same_findings
from duecare.collector import ingest
from duecare.collector.api.routes.reports import _parse
from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from tests.collector.conftest import Collector, Enrolled, make_collector
from tests.collector.databases import database_url


def _bodies(agent: Enrolled, scenario: str, n: int) -> list[bytes]:
    same = _same_findings()
    out = []
    for r in range(n):
        if scenario == "steady":
            body = agent.chain.next(findings=same, targets=["198.18.0.0/24"])
        else:
            items, net = _new_findings(r)
            body = agent.chain.next(findings=items, targets=[net])
        out.append(json.dumps(body).encode())
    return out


def _poster(collector: Collector, agent: Enrolled, asgi: bool) -> Callable[[bytes], None]:
    """One report through the ASGI app, or through the route's own steps called directly."""
    db = collector.db
    state = collector.http.app.state.collector  # type: ignore[attr-defined]
    identity = ingest.AgentIdentity(agent.agent_id, agent.site_id, agent.client_id, _key(db, agent.agent_id))
    limits = ingest.Limits()
    headers = {**agent.auth, "content-type": "application/json"}

    def one(raw: bytes) -> None:
        if asgi:
            resp = collector.http.post("/v1/reports", content=raw, headers=headers)
            assert resp.status_code == 201, resp.text
            return
        body, payload = _parse(raw)
        result = ingest.ingest(db, identity, body, ingest.check_report(identity, body, limits, payload))
        state.notary.sign(result.receipt)

    return one


@contextmanager
def in_process(kind: str, prefix: str) -> Iterator[Collector]:
    """A migrated collector on a fresh database of ``kind``, called without a socket (no rate limit)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, database_url(kind, Path(tmp)) as url:
        db = Database(make_engine(url))
        migrate.upgrade(db.engine)
        gen = make_collector(db, agent_rate_per_minute=0)
        try:
            yield next(gen)
        finally:
            next(gen, None)
            db.dispose()


def _run(kind: str, reports: int, asgi: bool, profile: Path | None) -> None:
    with in_process(kind, "duecare-cpu-") as collector:
        for scenario in ("steady", "new"):
            agent = collector.enroll("bench", f"{scenario}-site")
            bodies = _bodies(agent, scenario, reports + 5)
            one = _poster(collector, agent, asgi)
            for raw in bodies[:5]:  # warm-up (the first reports of a site insert and settle)
                one(raw)
            prof = cProfile.Profile() if profile is not None else None
            costs, walls = [], []
            wall0 = time.perf_counter()
            for raw in bodies[5:]:
                w0 = time.perf_counter()
                c0 = time.process_time()
                if prof is not None:
                    prof.enable()
                one(raw)
                if prof is not None:
                    prof.disable()
                costs.append(time.process_time() - c0)
                walls.append(time.perf_counter() - w0)
            wall = time.perf_counter() - wall0
            if prof is not None and profile is not None:
                prof.dump_stats(f"{profile}.{kind}.{scenario}")
            tenth = max(1, len(walls) // 10)
            load = "/".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"SUMMARY {kind:<10} cpu-{scenario:<8} via={'asgi' if asgi else 'inproc'} reports={len(costs)} "
                f"cpu_ms_mean={statistics.mean(costs) * 1000:.2f} "
                f"cpu_ms_median={statistics.median(costs) * 1000:.2f} "
                f"wall_ms_mean={wall / len(costs) * 1000:.2f} "
                # The first and the last tenth: whether a report's cost grows with the site.
                f"wall_ms_first={statistics.mean(walls[:tenth]) * 1000:.2f} "
                f"wall_ms_last={statistics.mean(walls[-tenth:]) * 1000:.2f} load={load}",
                flush=True,
            )


def _key(db: Database, agent_id: str) -> str:
    from duecare.collector.db.models import Agent

    with db.read() as s:
        row: Any = s.get(Agent, agent_id)
        return str(row.public_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--asgi", action="store_true", help="through the ASGI app (TestClient), not the functions")
    parser.add_argument("--profile", type=Path, help="write cProfile stats to FILE.<backend>.<scenario>")
    args = parser.parse_args()
    for kind in args.backends.split(","):
        _run(kind, args.reports, args.asgi, args.profile)


if __name__ == "__main__":
    main()

"""The noisy-neighbour scenario of issue 15, shared by its test and the benchmark.

Three agents of one client post reports of 15,500 findings back to back (the first of each all new,
then the same again), while an agent of another client posts a small report every second. Returns
what each side got: every status code, and the quiet client's latencies.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from duecare.wire import Exposure
from tests.collector.factories import AgentChain, finding
from tests.collector.processes import Server, cli

EXPOSURES = list(Exposure)[:10]


@dataclass
class Outcome:
    noisy_status: list[int] = field(default_factory=list)
    noisy_seconds: list[float] = field(default_factory=list)
    quiet_status: list[int] = field(default_factory=list)
    quiet_latency: list[float] = field(default_factory=list)

    def quiet_p95(self) -> float:
        xs = sorted(self.quiet_latency)
        return xs[max(0, int(len(xs) * 0.95) - 1)]


def _enroll(url: str, token: str) -> tuple[dict[str, str], AgentChain]:
    chain = AgentChain()
    resp = httpx.post(f"{url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64}, timeout=30)
    resp.raise_for_status()
    return {"authorization": f"Bearer {resp.json()['credential']}", "content-type": "application/json"}, chain


def run(db: str, log: Path, *, findings: int = 15_500, reports: int = 2, interval_s: float = 1.0) -> Outcome:
    cli("init", db=db)
    cli("add-client", "noisy", db=db)
    cli("add-client", "quiet", db=db)
    noisy_tokens = [cli("add-site", "noisy", f"site{i}", db=db)[-1] for i in range(3)]
    quiet_token = cli("add-site", "quiet", "office", db=db)[-1]
    server = Server(db, log).start()
    out = Outcome()
    try:
        noisy = [_enroll(server.url, t) for t in noisy_tokens]
        quiet_auth, quiet_chain = _enroll(server.url, quiet_token)
        bodies = []
        for n, (_, chain) in enumerate(noisy):
            items = [
                finding(f"10.{n}.{i // 250}.{i % 250 + 1}", EXPOSURES[i % 10], 1000 + i % 10) for i in range(findings)
            ]
            bodies.append(
                [json.dumps(chain.next(findings=items, targets=[f"10.{n}.0.0/16"])).encode() for _ in range(reports)]
            )

        def noisy_agent(auth: dict[str, str], mine: list[bytes]) -> None:
            with httpx.Client(timeout=600) as http:
                for body in mine:
                    t0 = time.perf_counter()
                    resp = http.post(f"{server.url}/v1/reports", content=body, headers=auth)
                    out.noisy_seconds.append(time.perf_counter() - t0)
                    out.noisy_status.append(resp.status_code)

        threads = [threading.Thread(target=noisy_agent, args=(a, b)) for (a, _), b in zip(noisy, bodies, strict=True)]
        for t in threads:
            t.start()
        with httpx.Client(timeout=600) as http:
            i = 0
            while any(t.is_alive() for t in threads):
                small = [finding(f"198.18.0.{j + 1}", EXPOSURES[j % 10], 1000 + j) for j in range(10)]
                body = quiet_chain.next(findings=small, targets=["198.18.0.0/24"])
                t0 = time.perf_counter()
                resp = http.post(f"{server.url}/v1/reports", content=json.dumps(body).encode(), headers=quiet_auth)
                out.quiet_latency.append(time.perf_counter() - t0)
                out.quiet_status.append(resp.status_code)
                i += 1
                time.sleep(max(0.0, interval_s - out.quiet_latency[-1]))
        for t in threads:
            t.join()
    finally:
        server.stop()
    return out

"""Real uvicorn processes: two replicas on one PostgreSQL, and a collector killed mid-ingest."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from duecare.collector.db.models import ChainGap, Change
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.db.session import Database, make_engine
from duecare.collector.ids import Ids, Kind
from tests.collector.databases import database_url, postgres_database
from tests.collector.factories import AgentChain, finding
from tests.collector.processes import Server, cli

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _tenant(db: str, sites: int = 1) -> tuple[list[str], str]:
    """Through the CLI: a client with ``sites`` sites; returns enrollment tokens and a read key."""
    cli("init", db=db)
    cli("add-client", "acme", db=db)
    tokens = [cli("add-site", "acme", f"site{i}", "--ttl", "1h", db=db)[-1] for i in range(sites)]
    return tokens, cli("add-reader", "--all-clients", db=db)[-1]


def _enroll(url: str, token: str) -> tuple[dict[str, str], AgentChain]:
    chain = AgentChain()
    resp = httpx.post(f"{url}/v1/enroll", json={"token": token, "public_key": chain.key.public_b64})
    assert resp.status_code == 201, resp.text
    return {"authorization": f"Bearer {resp.json()['credential']}"}, chain


def _reports(chain: AgentChain, n: int, findings_per_report: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        # Mostly the same findings, a few changing, so the lifecycle has work to do.
        ips = [f"198.18.{(j + i) // 250}.{(j + i) % 250 + 1}" for j in range(findings_per_report)]
        out.append(chain.next(findings=[finding(ip) for ip in ips], targets=["198.18.0.0/16"]))
    return out


def _pull_all(url: str, key: str, cursor: str = "0") -> tuple[list[str], str]:
    ids: list[str] = []
    while True:
        page = httpx.get(
            f"{url}/v1/changes",
            params={"cursor": cursor, "limit": 500},
            headers={"authorization": f"Bearer {key}"},
            timeout=30,
        ).json()
        ids += [c["id"] for c in page["changes"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return ids, cursor


def _counts(db: str) -> tuple[int, int, list[int], list[str]]:
    """Reports, chain gaps, the feed's change numbers, and the same changes' ids as a reader sees them."""
    database = Database(make_engine(db))
    try:
        with database.read() as s:
            reports = int(s.scalar(select(func.count()).select_from(ReportRow)) or 0)
            gaps = int(s.scalar(select(func.count()).select_from(ChainGap)) or 0)
            rows = s.execute(select(Change.client_id, Change.id).order_by(Change.id)).all()
            public = [Ids.of(s, None).public(Kind.CHANGE, client, n) for client, n in rows]
        return reports, gaps, [n for _, n in rows], public
    finally:
        database.dispose()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for s in started:
        s.stop()


def test_two_replicas_on_one_postgresql(tmp_path: Path, servers: list[Server]) -> None:
    with postgres_database() as db:
        tokens, key = _tenant(db, sites=3)
        a = Server(db, tmp_path / "a.log").start()
        b = Server(db, tmp_path / "b.log").start()
        servers += [a, b]
        agents = [_enroll(random.choice((a, b)).url, t) for t in tokens]
        streams = [(auth, _reports(chain, 12, 30)) for auth, chain in agents]
        outcomes: list[tuple[str, int]] = []
        pulled: list[int] = []
        done = threading.Event()

        def post(http: httpx.Client, url: str, body: dict[str, Any], auth: dict[str, str]) -> None:
            code = http.post(f"{url}/v1/reports", json=body, headers=auth).status_code
            outcomes.append((body["report"]["report_id"], code))

        def deliver(auth: dict[str, str], reports: list[dict[str, Any]]) -> None:
            with httpx.Client(timeout=60) as http:
                for body in reports:  # each report to both replicas at once, then the next one
                    posts = [threading.Thread(target=post, args=(http, u, body, auth)) for u in (a.url, b.url)]
                    for t in posts:
                        t.start()
                    for t in posts:
                        t.join()

        last = ["0"]

        def puller() -> None:
            while not done.is_set():
                ids, last[0] = _pull_all(random.choice((a, b)).url, key, last[0])
                pulled.extend(ids)

        pull_thread = threading.Thread(target=puller)
        pull_thread.start()
        workers = [threading.Thread(target=deliver, args=s) for s in streams]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        done.set()
        pull_thread.join()
        rest, _ = _pull_all(a.url, key, last[0])
        pulled += rest

        by_report: dict[str, list[int]] = {}
        for rid, code in outcomes:
            by_report.setdefault(rid, []).append(code)
        assert len(by_report) == 36
        assert all(sorted(codes) == [200, 201] for codes in by_report.values()), by_report
        reports, gaps, changes, public = _counts(db)
        assert (reports, gaps) == (36, 0)
        assert changes == list(range(1, len(changes) + 1))  # dense: nothing allocated twice or lost
        assert pulled == public  # the feed, pulled during the ingest, skipped nothing and repeated nothing


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_mid_ingest_then_retry_delivers_everything_once(
    kind: str, tmp_path: Path, servers: list[Server]
) -> None:
    with database_url(kind, tmp_path) as db:
        (token,), key = _tenant(db)
        server = Server(db, tmp_path / "server.log").start()
        servers.append(server)
        auth, chain = _enroll(server.url, token)
        stream = _reports(chain, 40, 100)
        acked: list[str] = []
        retries = 0

        def agent() -> None:  # a plain retry loop: same report until a receipt comes back
            nonlocal retries
            with httpx.Client(timeout=30) as http:
                for body in stream:
                    while True:
                        try:
                            resp = http.post(f"{server.url}/v1/reports", json=body, headers=auth)
                            if resp.status_code in (200, 201):
                                acked.append(resp.json()["report_id"])
                                break
                        except httpx.HTTPError:
                            pass
                        retries += 1
                        time.sleep(0.05)

        sender = threading.Thread(target=agent)
        sender.start()
        for kill_after in (8, 20):
            while len(acked) < kill_after:
                time.sleep(0.005)
            time.sleep(random.uniform(0, 0.05))  # somewhere inside the next report's ingest
            server.kill9()
            time.sleep(0.3)
            server.start()
        sender.join(timeout=240)
        assert not sender.is_alive()
        assert acked == [b["report"]["report_id"] for b in stream]
        reports, gaps, changes, public = _counts(db)
        assert (reports, gaps) == (40, 0)  # every report stored once, the chain unbroken
        assert changes == list(range(1, len(changes) + 1))
        assert retries > 0  # the kills really interrupted deliveries
        ids, _ = _pull_all(server.url, key)
        assert ids == public


def test_streamed_body_refused_while_it_is_read(tmp_path: Path, servers: list[Server]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    _tenant(db)
    server = Server(db, tmp_path / "s.log", None, "--max-body-bytes", "4096").start()
    servers.append(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(3):
            sock.sendall(b"%x\r\n%s\r\n" % (3000, b"a" * 3000))
        # The final chunk is never sent: the answer must come anyway.
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

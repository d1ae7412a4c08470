"""PostgreSQL dropped the collector's pooled connections (a restart, an idle cut): the next report is
stored (the pool pings a connection at checkout and replaces a dead one) or, at worst, answered 503 with
Retry-After, never a 500; nothing is stored twice or lost."""

from __future__ import annotations

import psycopg
import pytest

from duecare.wire import Exposure
from tests.collector.conftest import Collector
from tests.collector.factories import finding

pytestmark = pytest.mark.slow


def _drop_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_the_request_after_a_drop_is_a_503_then_all_is_well(pg_collector: Collector) -> None:
    agent = pg_collector.enroll("acme", "hq")
    first = pg_collector.post(agent, agent.chain.next(findings=[finding("10.0.0.5", Exposure.RDP_EXPOSED, 3389)]))
    assert first.status_code == 201, first.text
    url = pg_collector.db.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    assert _drop_connections(url) >= 1
    body = agent.chain.next(findings=[finding("10.0.0.5", Exposure.RDP_EXPOSED, 3389)])
    dropped = pg_collector.post(agent, body)
    assert dropped.status_code in (201, 503), dropped.text
    if dropped.status_code == 503:
        assert dropped.headers["retry-after"] == "5"
        dropped = pg_collector.post(agent, body)  # the agent's retry of the same report
    assert dropped.status_code == 201, dropped.text
    assert dropped.json()["sequence"] == 2  # stored once
    assert pg_collector.post(agent, body).json()["duplicate"] is True
    assert pg_collector.http.get("/readyz").status_code == 200

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duecare.collector import admin
from duecare.collector.app import create_app
from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from duecare.collector.settings import CollectorSettings, WebhookSettings
from tests.collector.databases import database_url, postgres_database
from tests.collector.factories import AgentChain


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(make_engine(db_url))
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


@dataclass
class Enrolled:
    client_id: str
    site_id: str
    agent_id: str
    credential: str
    chain: AgentChain

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.credential}"}


@dataclass
class Collector:
    db: Database
    http: TestClient
    settings: CollectorSettings

    def add_site(self, client: str, site: str) -> str:
        """Create client (if needed) and site; returns an enrollment token."""
        try:
            admin.add_client(self.db, client)
        except Exception:  # exists already
            pass
        admin.add_site(self.db, client, site)
        return admin.mint_enrollment_token(self.db, client, site).secret

    def enroll(self, client: str, site: str, token: str | None = None) -> Enrolled:
        token = token or self.add_site(client, site)
        chain = AgentChain()
        resp = self.http.post(
            "/v1/enroll", json={"token": token, "public_key": chain.key.public_b64, "hostname": "box"}
        )
        assert resp.status_code == 201, resp.text
        body = resp.json()
        return Enrolled(body["client_id"], body["site_id"], body["agent_id"], body["credential"], chain)

    def reader(self, client: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {admin.add_reader(self.db, client, all_clients=client is None).secret}"}

    def post(self, agent: Enrolled, body: dict[str, Any]) -> Any:
        return self.http.post("/v1/reports", json=body, headers=agent.auth)


def make_collector(db: Database, **overrides: Any) -> Iterator[Collector]:
    settings = CollectorSettings(
        database_url=str(db.engine.url), webhooks=WebhookSettings(sweep_interval_s=0), **overrides
    )
    app = create_app(settings, database=db)
    with TestClient(app, raise_server_exceptions=True) as http:
        yield Collector(db, http, settings)


def collector_on(url: str, **overrides: Any) -> Iterator[Collector]:
    """A collector on the database at ``url``, migrated first and disposed after."""
    db = Database(make_engine(url))
    migrate.upgrade(db.engine)
    try:
        yield from make_collector(db, **overrides)
    finally:
        db.dispose()


@pytest.fixture
def collector(database: Database) -> Iterator[Collector]:
    yield from make_collector(database)


@pytest.fixture
def pg_collector() -> Iterator[Collector]:
    """For what only PostgreSQL does (COPY, planner statistics, pooled server connections); no rate
    limit, as some post dozens of reports at once."""
    with postgres_database() as url:
        yield from collector_on(url, agent_rate_per_minute=0)


@pytest.fixture
def sqlite_collector(tmp_path: Path) -> Iterator[Collector]:
    """For what only SQLite does (one writer: the fair gate, reports planned and staged ahead)."""
    with database_url("sqlite", tmp_path) as url:
        yield from collector_on(url)

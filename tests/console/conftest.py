from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from duecare.collector.db.session import Database
from duecare.collector.settings import CollectorSettings, WebhookSettings
from duecare.console.app import create_app
from tests.collector.conftest import Collector, database, db_url  # noqa: F401  (fixtures)
from tests.console.seed import Msp, seed


@pytest.fixture
def console(database: Database) -> Iterator[Collector]:  # noqa: F811
    settings = CollectorSettings(database_url=str(database.engine.url), webhooks=WebhookSettings(sweep_interval_s=0))
    with TestClient(create_app(settings, database=database), base_url="http://testserver") as http:
        yield Collector(database, http, settings)


@pytest.fixture
def msp(console: Collector) -> Msp:
    return seed(console)


def sign_in(http: TestClient, key: str) -> None:
    resp = http.post("/console/sign-in", data={"key": key}, follow_redirects=False)
    assert resp.status_code == 303, resp.text

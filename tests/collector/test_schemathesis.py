"""Property-based contract test: generated requests against the ASGI app, on both databases.

Every response must be documented and match its schema; no 5xx, ever. The database holds a
client with a site, an enrolled agent, a stored report and a read key, so the generated
requests reach real rows, not only the 401/404 paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from duecare.collector import admin
from duecare.collector.app import create_app
from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from duecare.collector.settings import CollectorSettings, WebhookSettings
from duecare.wire import ObligationStatus
from tests.collector.databases import database_url
from tests.collector.factories import AgentChain, finding, obligations

pytestmark = pytest.mark.slow  # real processes, a database server or a browser: not in `make test-fast`

HEADERS: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    with database_url(request.param, tmp) as url:
        db = Database(make_engine(url))
        migrate.upgrade(db.engine)
        app = create_app(CollectorSettings(database_url=url, webhooks=WebhookSettings(sweep_interval_s=0)), database=db)
        admin.add_client(db, "acme")
        admin.add_site(db, "acme", "hq")
        token = admin.mint_enrollment_token(db, "acme", "hq").secret
        chain = AgentChain()
        with TestClient(app) as http:
            enrolled = http.post("/v1/enroll", json={"token": token, "public_key": chain.key.public_b64}).json()
            agent = {"Authorization": f"Bearer {enrolled['credential']}"}
            summary = obligations(("CIS Controls v8", "4.8", ObligationStatus.NOT_MET))
            body = chain.next(findings=[finding("198.18.0.50")], obligation_summary=summary)
            assert http.post("/v1/reports", json=body, headers=agent).status_code == 201
        HEADERS["agent"] = agent
        HEADERS["reader"] = {"Authorization": f"Bearer {admin.add_reader(db, None, all_clients=True).secret}"}
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
        db.dispose()


def _labels() -> list[str]:
    spec = json.loads((Path(__file__).parents[2] / "collector" / "openapi.json").read_text())
    return [f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops]


@pytest.mark.parametrize("label", _labels())
def test_api_contract(api_schema: Any, label: str) -> None:
    (operation,) = [r.ok() for r in api_schema.get_all_operations() if r.ok().label == label]
    headers = HEADERS["agent"] if operation.path in ("/v1/reports", "/v1/enroll") else HEADERS["reader"]
    # Schema-valid is not signature-valid: a random report is rightly refused with 422 and a
    # random enrollment token with 401, so "valid data must be accepted" does not apply to POSTs.
    # Likewise a cursor: schema-valid is not authentic (collector/ids.py), so a random one is rightly 422.
    has_cursor = any(p.name == "cursor" for p in operation.query)
    excluded = [positive_data_acceptance] if operation.method.upper() == "POST" or has_cursor else []

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: schemathesis.Case) -> None:
        # Set on the case (not as call kwargs) so the "ignored auth" check can strip it again.
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(excluded_checks=excluded)

    run()

"""collector/openapi.json is the committed contract: it must match what the app serves."""

from __future__ import annotations

import json
from pathlib import Path

from duecare.collector.app import create_app
from duecare.collector.settings import CollectorSettings

COMMITTED = Path(__file__).parents[2] / "collector" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    served = create_app(CollectorSettings(database_url="sqlite://")).openapi()
    committed = json.loads(COMMITTED.read_text())
    assert served == committed, (
        "API changed: run `python -m duecare.collector openapi > collector/openapi.json` and review"
    )


def test_every_operation_documents_its_errors() -> None:
    spec = json.loads(COMMITTED.read_text())
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path not in ("/healthz", "/readyz"):  # probes for load balancers: no credential
                assert "401" in codes, (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in codes, (method, path)
            if method == "post":
                assert "413" in codes, (method, path)

"""Logs are JSON lines and never carry a secret."""

from __future__ import annotations

import json
import logging

import pytest

from duecare.collector.logs import JsonFormatter
from tests.collector.conftest import Collector
from tests.collector.factories import finding


def test_json_line_with_extras_and_redaction() -> None:
    record = logging.LogRecord("duecare.collector", logging.INFO, __file__, 1, "stored %s", ("x",), None)
    record.report_id, record.token = "r-1", "dca_secret"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "stored x" and line["report_id"] == "r-1" and line["level"] == "info"
    assert line["token"] == "[redacted]"


def test_ingest_logs_no_secret(collector: Collector, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="duecare")
    agent = collector.enroll("acme", "hq")
    collector.post(agent, agent.chain.next(findings=[finding("198.18.0.50")]))
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert any('"report stored"' in line for line in lines)
    for line in lines:
        json.loads(line)
        assert agent.credential not in line and "dca_" not in line and "dce_" not in line


def test_access_lines_lose_their_query_string() -> None:
    """A key pasted into a URL (``?key=dcr_…``) never reaches the access log."""
    from duecare.collector.logs import NoQueryString

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/findings?cursor=0&key=dcr_secret", "1.1", 200), None,
    )  # fmt: skip
    assert NoQueryString().filter(record)
    assert "dcr_secret" not in record.getMessage() and "/v1/findings" in record.getMessage()

"""Hostile inputs on both databases: every one answers 4xx (naming the field) or 503, never 500.

The inputs are those of issue 15: what a device on the client's LAN can put into a report (a NUL in a
banner, a 300-character host name, NaN, a date at the end of time), what a signed but odd report can
carry, and what a reader can put in a query string. After each refusal a clean report still passes:
one odd device never silences a site.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import finding

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set report[path] (dot path, digits index lists)."""

    def mutate(report: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = report
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


EVIDENCE = {
    "kind": "banner",
    "summary": "redis PING",
    "excerpt": "+PONG",
    "encoding": "text",
    "observed_at": "2026-11-01T02:00:00Z",
    "probe": "redis",
}

#: (name, mutation of a signed report, the field the 422 must name)
REPORT_INPUTS: list[tuple[str, Mutation, str]] = [
    ("nul-in-title", _set("findings.0.title", "telnet\x00"), "findings.0.title"),
    ("nul-in-hostname", _set("assets.0.hostname", "box\x00evil"), "assets.0.hostname"),
    ("nul-in-evidence", _set("findings.0.evidence", [{**EVIDENCE, "excerpt": "7.0\x00"}]), "excerpt"),
    ("escape-in-reason", _set("findings.0.reason", "\x1b[31mred"), "findings.0.reason"),
    ("lone-surrogate", _set("findings.0.title", "\ud800"), ""),
    ("hostname-300", _set("assets.0.hostname", "h" * 300), "assets.0.hostname"),
    ("title-10k", _set("findings.0.title", "t" * 10_000), "findings.0.title"),
    ("excerpt-5k", _set("findings.0.evidence", [{**EVIDENCE, "excerpt": "x" * 5000}]), "excerpt"),
    ("details-nan", _set("findings.0.details", {"x": float("nan")}), "findings.0.details"),
    ("details-inf", _set("findings.0.details", {"x": float("inf")}), "findings.0.details"),
    ("details-huge-int", _set("findings.0.details", {"x": 10**30}), "findings.0.details"),
    ("details-deep", _set("findings.0.details", json.loads('{"a":' * 30 + "1" + "}" * 30)), "details"),
    ("details-big", _set("findings.0.details", {"x": "y" * 20_000}), "findings.0.details"),
    ("duration-nan", _set("attempts", [{"probe": "p", "ip": "198.18.0.50", "port": 23, "proto": "tcp",
                                         "status": "completed", "started_at": "2026-11-01T02:00:00Z",
                                         "duration_ms": float("nan")}]), "duration_ms"),
    ("date-end-of-time", _set("started_at", "9999-12-31T23:00:00-14:00"), "started_at"),
    ("date-year-1", _set("finished_at", "0001-01-01T00:00:00+14:00"), "finished_at"),
    ("evidence-date-far", _set("findings.0.evidence", [{**EVIDENCE, "observed_at": "9999-12-31T23:59:59-12:00"}]),
     "observed_at"),
    ("kev-date-far", _set("findings.0.cves", [{"cve": "CVE-2019-0708", "known_exploited": True,
                                               "kev_due_date": "9999-12-31"}]), "kev_due_date"),
    ("nul-in-key", _set("findings.0.details", {"k\x00": 1}), "details"),
    ("nul-in-profile", _set("profile", "\x00"), "profile"),
    ("nul-in-target", _set("scope.targets", ["198.18.0.0/24\x00"]), "scope.targets"),
    ("facts-nan", _set("attempts", [{"probe": "p", "ip": "198.18.0.50", "port": 23, "proto": "tcp",
                                      "status": "completed", "started_at": "2026-11-01T02:00:00Z",
                                      "duration_ms": 1.0, "facts": {"v": float("-inf")}}]), "facts"),
]  # fmt: skip


def _post_raw(collector: Collector, agent: Enrolled, report: dict[str, Any], **extra: Any) -> Any:
    """Sign exactly these values and send them as JSON text (NaN as the bare literal a hostile encoder writes)."""
    try:
        signature = agent.chain.key.sign(report)
    except UnicodeEncodeError:  # a lone surrogate: no canonical bytes to sign, so none to verify either
        signature = base64.b64encode(bytes(64)).decode()
    body = {"report": report, "signature": signature, "tombstones": [], **extra}
    return collector.http.post(
        "/v1/reports",
        content=json.dumps(body, allow_nan=True, ensure_ascii=True).encode(),
        headers={**agent.auth, "content-type": "application/json"},
    )


@pytest.mark.parametrize(("name", "mutate", "field"), REPORT_INPUTS, ids=[r[0] for r in REPORT_INPUTS])
def test_hostile_report_is_a_permanent_4xx_naming_the_field(
    collector: Collector, name: str, mutate: Mutation, field: str
) -> None:
    agent = collector.enroll("acme", "hq")
    report = agent.chain.next(findings=[finding("198.18.0.50")])["report"]
    agent.chain.previous = None  # the refused one never enters the collector's chain
    mutate(report)
    resp = _post_raw(collector, agent, report)
    assert resp.status_code in (413, 422), (name, resp.status_code, resp.text)
    assert field in resp.json()["detail"], resp.json()
    # The site is not silenced: a clean report passes right after.
    clean = agent.chain.next(findings=[finding("198.18.0.51")])
    assert collector.post(agent, clean).status_code == 201


def test_bad_tombstone_date_is_422(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    report = agent.chain.next()["report"]
    tomb = {"report_id": report["report_id"], "report_hash": "0" * 64, "dropped_at": "9999-12-31T23:00:00-14:00"}
    resp = _post_raw(collector, agent, report, tombstones=[tomb])
    assert resp.status_code == 422 and "dropped_at" in resp.json()["detail"]


def test_enroll_with_nul_hostname_is_422(collector: Collector) -> None:
    token = collector.add_site("acme", "hq")
    resp = collector.http.post("/v1/enroll", json={"token": token, "public_key": "A" * 43 + "=", "hostname": "box\x00"})
    assert resp.status_code == 422 and "hostname" in resp.json()["detail"]


READS = ["/v1/changes", "/v1/findings", "/v1/assets", "/v1/obligations", "/v1/export/changes", "/v1/export/findings"]
QUERIES = [
    {"site": "\x00"},
    {"client": "\x00"},
    {"site": "x" * 5000},
    {"cursor": "\x00"},
    {"cursor": "9" * 40},
    {"cursor": "-1"},
    {"limit": "1e309"},
    {"status": "\x00"},
]


@pytest.mark.parametrize("path", READS)
def test_hostile_query_strings_are_4xx(collector: Collector, path: str) -> None:
    agent = collector.enroll("acme", "hq")
    assert collector.post(agent, agent.chain.next(findings=[finding("198.18.0.50")])).status_code == 201
    reader = collector.reader("acme")
    for params in QUERIES:
        resp = collector.http.get(path, params=params, headers=reader)
        # A parameter the endpoint does not take is ignored (200); one it takes is checked (4xx).
        assert resp.status_code < 500, (path, params, resp.status_code, resp.text[:200])
        if "site" in params or "client" in params:
            assert 400 <= resp.status_code < 500, (path, params, resp.status_code)


def test_database_lock_is_503_with_retry_after(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own state: 503 + Retry-After, which the agent waits out (never a 500)."""
    from duecare.collector import ingest

    agent = collector.enroll("acme", "hq")
    body = agent.chain.next(findings=[finding("198.18.0.50")])

    def locked(*_a: object, **_k: object) -> None:
        raise OperationalError("INSERT …", {}, Exception("database is locked"))

    monkeypatch.setattr(ingest, "_ingest_once", locked)
    resp = collector.post(agent, body)
    assert resp.status_code == 503
    assert int(resp.headers["retry-after"]) > 0
    assert "retry later" in resp.json()["detail"]

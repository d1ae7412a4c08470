"""A reader of client A sees nothing of client B, anywhere; tokens are single-use and expire."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from duecare.collector import admin
from duecare.collector.db.models import EnrollmentToken
from duecare.wire import ObligationStatus
from tests.collector.conftest import Collector
from tests.collector.factories import AgentKey, asset, finding, obligations

READ_ENDPOINTS = ["/v1/changes", "/v1/findings", "/v1/assets", "/v1/obligations", "/v1/clients"]
EXPORTS = [("/v1/export/findings", f) for f in ("json", "csv", "ocsf")] + [
    ("/v1/export/obligations", f) for f in ("json", "csv", "ocsf")
]


@pytest.fixture
def two_tenants(collector: Collector) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, ip in (("alpha", "198.18.0.50"), ("bravo", "198.18.0.51")):
        agent = collector.enroll(name, f"{name}-site")
        summary = obligations(("CIS Controls v8", "4.8", ObligationStatus.NOT_MET))
        body = agent.chain.next(
            findings=[finding(ip)], assets=[asset(ip, hostname=f"{name}-host")], obligation_summary=summary
        )
        assert collector.post(agent, body).status_code == 201
        out[name] = agent
        out[f"{name}_report"] = body["report"]["report_id"]
    return out


def _text(collector: Collector, path: str, headers: dict[str, str], **params: str) -> str:
    resp = collector.http.get(path, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.text


def test_reader_of_a_sees_nothing_of_b(collector: Collector, two_tenants: dict[str, object]) -> None:
    alpha, bravo = two_tenants["alpha"], two_tenants["bravo"]
    reader_a = collector.reader("alpha")
    secrets_of_b = [bravo.client_id, bravo.site_id, bravo.agent_id, "198.18.0.51", "bravo"]  # type: ignore[attr-defined]
    for path in READ_ENDPOINTS:
        body = _text(collector, path, reader_a)
        assert alpha.client_id in body, path  # type: ignore[attr-defined]
        assert not [s for s in secrets_of_b if s in body], path
    for path, fmt in EXPORTS:
        body = _text(collector, path, reader_a, format=fmt)
        assert "alpha" in body or alpha.client_id in body, (path, fmt)  # type: ignore[attr-defined]
        assert not [s for s in secrets_of_b if s in body], (path, fmt)


def test_asking_for_b_explicitly_is_404(collector: Collector, two_tenants: dict[str, object]) -> None:
    bravo = two_tenants["bravo"]
    reader_a = collector.reader("alpha")
    for path in READ_ENDPOINTS[:-1] + [p for p, _ in EXPORTS[:1]] + ["/v1/export/obligations"]:
        assert collector.http.get(path, headers=reader_a, params={"client": bravo.client_id}).status_code == 404  # type: ignore[attr-defined]
        assert collector.http.get(path, headers=reader_a, params={"site": bravo.site_id}).status_code == 404  # type: ignore[attr-defined]
    resp = collector.http.get(f"/v1/reports/{two_tenants['bravo_report']}", headers=reader_a)
    assert resp.status_code == 404
    assert collector.http.get(f"/v1/reports/{two_tenants['alpha_report']}", headers=reader_a).status_code == 200


def test_msp_reader_sees_both(collector: Collector, two_tenants: dict[str, object]) -> None:
    msp = collector.reader()
    body = _text(collector, "/v1/findings", msp)
    assert "198.18.0.50" in body and "198.18.0.51" in body


def test_agent_credential_is_not_a_read_key(collector: Collector, two_tenants: dict[str, object]) -> None:
    agent = two_tenants["alpha"]
    resp = collector.http.get("/v1/findings", headers=agent.auth)  # type: ignore[attr-defined]
    assert resp.status_code == 401


def test_read_key_cannot_post_reports(collector: Collector, two_tenants: dict[str, object]) -> None:
    agent = two_tenants["alpha"]
    body = agent.chain.next()  # type: ignore[attr-defined]
    assert collector.http.post("/v1/reports", json=body, headers=collector.reader("alpha")).status_code == 401


def _enroll(collector: Collector, token: str) -> int:
    resp = collector.http.post("/v1/enroll", json={"token": token, "public_key": AgentKey().public_b64})
    return resp.status_code


def test_reused_token_rejected(collector: Collector) -> None:
    token = collector.add_site("acme", "hq")
    assert _enroll(collector, token) == 201
    resp = collector.http.post("/v1/enroll", json={"token": token, "public_key": AgentKey().public_b64})
    assert resp.status_code == 401 and "already used" in resp.json()["detail"]


def test_expired_token_rejected(collector: Collector) -> None:
    admin.add_client(collector.db, "acme")
    admin.add_site(collector.db, "acme", "hq")
    token = admin.mint_enrollment_token(collector.db, "acme", "hq", timedelta(hours=1)).secret
    with collector.db.write() as s:
        row = s.scalars(select(EnrollmentToken)).one()
        s.execute(update(EnrollmentToken).values(expires_at=row.created_at - timedelta(seconds=1)))
    resp = collector.http.post("/v1/enroll", json={"token": token, "public_key": AgentKey().public_b64})
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]


def test_unknown_token_and_bad_key_rejected(collector: Collector) -> None:
    assert _enroll(collector, "dce_" + "x" * 40) == 401
    token = collector.add_site("acme", "hq")
    resp = collector.http.post("/v1/enroll", json={"token": token, "public_key": "A" * 44})
    assert resp.status_code == 422  # 33 bytes, not an Ed25519 key
    assert _enroll(collector, token) == 201  # the failed attempt did not burn the token


def test_concurrent_enrollments_with_one_token_only_one_wins(collector: Collector) -> None:
    token = collector.add_site("acme", "hq")
    codes: list[int] = []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        codes.append(_enroll(collector, token))

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 401, 401, 401]


def test_report_id_of_another_client_is_unrelated_not_409(collector: Collector) -> None:
    """A 409 would confirm another tenant used the id: ids are unique per client instead."""
    alpha = collector.enroll("alpha", "alpha-site")
    bravo = collector.enroll("bravo", "bravo-site")
    body_a = alpha.chain.next(findings=[finding("198.18.0.50")])
    rid = body_a["report"]["report_id"]
    assert collector.post(alpha, body_a).status_code == 201
    body_b = bravo.chain.next(findings=[finding("198.18.0.51")], report_id=uuid.UUID(rid))
    resp = collector.post(bravo, body_b)
    assert resp.status_code == 201, resp.text
    assert resp.json()["sequence"] == 1  # bravo's first report: nothing of alpha's activity in it
    # Re-posts stay idempotent for each.
    again_a, again_b = collector.post(alpha, body_a), collector.post(bravo, body_b)
    assert (again_a.status_code, again_b.status_code) == (200, 200)
    assert again_a.json()["duplicate"] and again_b.json()["duplicate"]
    # Each reader reads its own; the MSP names the client when two clients share the id.
    for agent, ip in ((alpha, "198.18.0.50"), (bravo, "198.18.0.51")):
        name = "alpha" if agent is alpha else "bravo"
        got = collector.http.get(f"/v1/reports/{rid}", headers=collector.reader(name))
        assert got.status_code == 200 and ip in got.text and got.json()["summary"]["agent_id"] == agent.agent_id
    msp = collector.reader()
    amb = collector.http.get(f"/v1/reports/{rid}", headers=msp)
    assert amb.status_code == 422 and "client" in amb.json()["detail"]
    named = collector.http.get(f"/v1/reports/{rid}", headers=msp, params={"client": bravo.client_id})
    assert named.status_code == 200 and named.json()["summary"]["agent_id"] == bravo.agent_id


def test_report_id_reused_by_another_agent_of_the_same_client_is_409(collector: Collector) -> None:
    one = collector.enroll("alpha", "site-1")
    two = collector.enroll("alpha", "site-2")
    body = one.chain.next()
    assert collector.post(one, body).status_code == 201
    resp = collector.post(two, two.chain.next(report_id=uuid.UUID(body["report"]["report_id"])))
    assert resp.status_code == 409


def test_receipt_sequence_counts_the_agents_own_reports(collector: Collector) -> None:
    alpha = collector.enroll("alpha", "alpha-site")
    bravo = collector.enroll("bravo", "bravo-site")
    seen = []
    for i in range(3):
        seen.append(collector.post(alpha, alpha.chain.next()).json()["sequence"])
        collector.post(bravo, bravo.chain.next(findings=[finding(f"198.18.0.{60 + i}")]))
    assert seen == [1, 2, 3]

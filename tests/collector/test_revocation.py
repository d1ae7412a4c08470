"""Revocation and least privilege: every key type can be revoked (401 on its next request), keys expire,
a read key is for one client unless asked otherwise, every read is audited, a client can be removed
after its data was exported."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from duecare.cli.collector import app
from duecare.collector import admin
from duecare.collector.db.models import Change, FindingState, ReadAudit, ReaderKey
from duecare.collector.db.session import Database
from duecare.collector.errors import Unprocessable
from tests.collector.conftest import Collector, make_collector
from tests.collector.factories import finding

runner = CliRunner()


def _key(collector: Collector, client: str | None = "acme", **kw: object) -> tuple[str, dict[str, str]]:
    minted = admin.add_reader(collector.db, client, all_clients=client is None, **kw)  # type: ignore[arg-type]
    return minted.id, {"authorization": f"Bearer {minted.secret}"}


def test_revoked_read_key_gets_401_on_its_next_request(collector: Collector) -> None:
    collector.enroll("acme", "hq")
    key_id, auth = _key(collector)
    assert collector.http.get("/v1/findings", headers=auth).status_code == 200
    admin.revoke_reader(collector.db, key_id)
    resp = collector.http.get("/v1/findings", headers=auth)
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]


def test_expired_read_key_gets_401(collector: Collector) -> None:
    collector.enroll("acme", "hq")
    key_id, auth = _key(collector, ttl=timedelta(hours=1))
    assert collector.http.get("/v1/clients", headers=auth).status_code == 200
    with collector.db.write() as s:
        s.execute(update(ReaderKey).where(ReaderKey.id == key_id).values(expires_at=datetime.now(UTC)))
    resp = collector.http.get("/v1/clients", headers=auth)
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]


def test_revoked_agent_gets_401_and_its_reports_stay(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    assert collector.post(agent, agent.chain.next(findings=[finding("198.18.0.50")])).status_code == 201
    admin.revoke_agent(collector.db, agent.agent_id)
    resp = collector.post(agent, agent.chain.next())
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
    with collector.db.read() as s:
        assert s.scalar(select(func.count()).select_from(FindingState)) == 1


def test_revoked_enrollment_token_cannot_enroll(collector: Collector) -> None:
    collector.add_site("acme", "hq")
    minted = admin.mint_enrollment_token(collector.db, "acme", "hq")
    admin.revoke_token(collector.db, minted.id)
    resp = collector.http.post("/v1/enroll", json={"token": minted.secret, "public_key": "A" * 43 + "="})
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]


def test_a_read_key_names_its_client_or_all_clients_explicitly(collector: Collector) -> None:
    with pytest.raises(Unprocessable, match="all-clients"):
        admin.add_reader(collector.db, None)
    result = runner.invoke(app, ["add-reader", "--db", str(collector.db.engine.url)])
    assert result.exit_code == 2 and "--client" in result.output


def test_every_read_is_audited_and_keys_show_last_use(collector: Collector) -> None:
    agent = collector.enroll("acme", "hq")
    key_id, auth = _key(collector)
    assert collector.http.get("/v1/findings", params={"site": agent.site_id}, headers=auth).status_code == 200
    with collector.db.read() as s:
        (row,) = s.scalars(select(ReadAudit))
    assert (row.key_id, row.client_id, row.site_id, row.endpoint) == (
        key_id,
        agent.client_id,
        agent.site_id,
        "/v1/findings",
    )
    creds = {c.id: c for c in admin.list_credentials(collector.db, "acme")}
    assert creds[key_id].last_used_at is not None and creds[key_id].state(datetime.now(UTC)) == "active"
    assert creds[agent.agent_id].kind == "agent"
    db = str(collector.db.engine.url)
    printed = runner.invoke(app, ["audit", "--client", "acme", "--db", db])
    assert printed.exit_code == 0 and key_id in printed.output and "/v1/findings" in printed.output
    listed = runner.invoke(app, ["keys", "--db", db])
    assert listed.exit_code == 0 and key_id in listed.output and agent.agent_id in listed.output


def test_query_strings_with_secrets_are_not_logged(collector: Collector, caplog: pytest.LogCaptureFixture) -> None:
    """The audit keeps the route, never the query string (a key pasted into a URL stays out of it)."""
    collector.enroll("acme", "hq")
    _, auth = _key(collector)
    collector.http.get("/v1/findings", params={"cursor": "0", "key": "dcr_secret"}, headers=auth)
    with collector.db.read() as s:
        assert all("dcr_" not in r.endpoint and "?" not in r.endpoint for r in s.scalars(select(ReadAudit)))
    assert "dcr_secret" not in caplog.text


def test_remove_client_exports_first_then_deletes_everything(collector: Collector, tmp_path: Path) -> None:
    acme = collector.enroll("acme", "hq")
    other = collector.enroll("other", "hq")
    for a in (acme, other):
        assert collector.post(a, a.chain.next(findings=[finding("198.18.0.50")])).status_code == 201
    _key(collector, "acme")
    out = tmp_path / "exports" / "acme.json"
    result = runner.invoke(app, ["remove-client", "acme", "--export", str(out), "--db", str(collector.db.engine.url)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_bytes())
    assert doc["client"] == "acme" and len(doc["findings"]) == 1 and doc["changes"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with collector.db.read() as s:
        assert set(s.scalars(select(Change.client_id))) == {other.client_id}
        assert set(s.scalars(select(FindingState.client_id))) == {other.client_id}
    assert collector.post(acme, acme.chain.next()).status_code == 401


def test_rate_limit_answers_429_after_the_credential_check(database: Database) -> None:
    """The credential is checked before the bucket (an unknown one is 401, never 429), the 429 says
    when to come back and stores nothing, and a revoked agent is 401 even with tokens left."""
    gen = make_collector(database, agent_rate_per_minute=1, agent_burst=1)
    collector = next(gen)
    try:
        agent = collector.enroll("acme", "hq")
        first = collector.post(agent, agent.chain.next(findings=[finding("198.18.0.50")]))
        assert first.status_code == 201
        second = collector.post(agent, agent.chain.next(findings=[finding("198.18.0.51")]))
        assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
        assert f"agent {agent.agent_id} posts faster" in second.json()["detail"]
        with collector.db.read() as s:
            assert s.scalar(select(func.count()).select_from(FindingState)) == 1
        forged = {"authorization": f"Bearer {agent.credential}x"}
        resp = collector.http.post("/v1/reports", content=b"{}", headers=forged)
        assert resp.status_code == 401 and "unknown" in resp.json()["detail"]
        other = collector.enroll("acme", "branch")
        admin.revoke_agent(collector.db, other.agent_id)
        resp = collector.post(other, other.chain.next())
        assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
    finally:
        next(gen, None)

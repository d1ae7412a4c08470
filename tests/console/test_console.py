"""The console in process: sign-in and sessions, tenancy (404 for anything of another client), CSP,
hostile text, the audit of reads, and counts that agree with the read API."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from duecare.collector import admin
from duecare.collector.db.models import FindingState, ReadAudit, Report, Site
from duecare.collector.ids import Ids, Kind
from duecare.console import session
from duecare.console.render import CSP
from tests.collector.conftest import Collector
from tests.console.conftest import sign_in
from tests.console.seed import Msp


def _ids(c: Collector) -> dict[str, dict[str, str]]:
    """Every id in the database, with its owner: what a client key must not reach."""
    with c.db.read() as s:
        return {
            "site": {sid: cid for sid, cid in s.execute(select(Site.id, Site.client_id))},
            # As the console shows them: opaque, per client (collector/ids.py).
            "finding": {
                Ids.of(s, None).public(Kind.FINDING, cid, fid): cid
                for fid, cid in s.execute(select(FindingState.id, FindingState.client_id))
            },
            "report": {rid: cid for rid, cid in s.execute(select(Report.id, Report.client_id))},
        }


def _urls(kind: str, ident: str, client: str) -> list[str]:
    if kind == "site":
        return [
            f"/console/sites/{ident}",
            f"/console/sites/{ident}/report.html",
            f"/console/exports/download?kind=findings&format=csv&site={ident}",
            f"/console/exports/download?kind=changes&format=ocsf&site={ident}",
        ]
    if kind == "finding":
        return [f"/console/findings/{ident}"]
    return [f"/console/reports/{ident}.json"]


def test_sign_in_sets_a_strict_session_cookie_and_never_puts_the_key_in_a_url(
    console: Collector, msp: Msp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = msp.readers["Acme Dental"]
    resp = console.http.post("/console/sign-in", data={"key": key}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/console/"
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the https test below
    assert key not in cookie and key not in resp.headers["location"]
    page = console.http.get("/console/")
    assert page.status_code == 200 and "Acme Dental" in page.text and "Beta Law" not in page.text
    assert key not in page.text and key not in caplog.text


def test_the_cookie_is_secure_over_tls(console: Collector, msp: Msp) -> None:
    with TestClient(console.http.app, base_url="https://console.test") as https:
        resp = https.post("/console/sign-in", data={"key": msp.readers["*"]}, follow_redirects=False)
        assert resp.status_code == 303 and "Secure" in resp.headers["set-cookie"]


@pytest.mark.parametrize("bad", ["", "not-a-key", "dcr_" + "x" * 43, "dcr_" + "x" * 300])
def test_a_bad_key_is_refused_with_the_sign_in_page(console: Collector, msp: Msp, bad: str) -> None:
    resp = console.http.post("/console/sign-in", data={"key": bad}, follow_redirects=False)
    assert resp.status_code == 401 and "Sign in" in resp.text
    assert resp.headers.get("set-cookie", 'duecare_console=""').startswith('duecare_console=""')  # none issued
    assert console.http.get("/console/", follow_redirects=False).status_code == 303


def test_every_console_answer_carries_the_csp(console: Collector, msp: Msp) -> None:
    urls = ["/console/sign-in"]
    sign_in(console.http, msp.readers["*"])
    site = msp.sites["Main office"].site_id
    urls += ["/console/", f"/console/clients/{msp.clients['Acme Dental']}", f"/console/sites/{site}"]
    urls += ["/console/findings/1", "/console/exports", "/console/sites/nope", "/console/findings/999999"]
    for url in urls:
        resp = console.http.get(url)
        assert resp.headers["content-security-policy"] == CSP, url
        assert "frame-ancestors 'none'" in CSP and "script" not in CSP
        assert "<script" not in resp.text.lower() and " style=" not in resp.text, url
        assert resp.headers["x-content-type-options"] == "nosniff"


def test_a_client_key_gets_404_for_every_page_and_export_of_another_client(console: Collector, msp: Msp) -> None:
    sign_in(console.http, msp.readers["Acme Dental"])
    mine, theirs = msp.clients["Acme Dental"], msp.clients["Beta Law"]
    ids = _ids(console)
    checked = 0
    for kind, owners in ids.items():
        for ident, owner in owners.items():
            for url in _urls(kind, ident, owner):
                status = console.http.get(url).status_code
                assert status == (200 if owner == mine else 404), (url, owner, status)
                checked += owner != mine
    for url in (
        f"/console/clients/{theirs}",
        f"/console/exports/download?kind=findings&format=json&client={theirs}",
        f"/console/exports/download?kind=obligations&format=csv&client={theirs}",
        f"/console/exports/download?kind=changes&format=json&client={theirs}",
    ):
        assert console.http.get(url).status_code == 404, url
    assert checked >= 8
    # The row numbers behind the ids (the URLs of a console before 0006) are no ids at all.
    with console.db.read() as s:
        numbers = list(s.scalars(select(FindingState.id)))
    for n in numbers:
        assert console.http.get(f"/console/findings/{n}").status_code == 404
    # Another client's id and an id that never existed read the same.
    other = console.http.get(f"/console/clients/{theirs}").text.replace(theirs, "X")
    never = console.http.get("/console/clients/cl_0000000000000000").text.replace("cl_0000000000000000", "X")
    assert other == never


def test_the_all_clients_key_reads_everything(console: Collector, msp: Msp) -> None:
    sign_in(console.http, msp.readers["*"])
    for kind, owners in _ids(console).items():
        for ident, owner in owners.items():
            for url in _urls(kind, ident, owner):
                assert console.http.get(url).status_code == 200, url


def test_revoked_or_expired_keys_and_ended_sessions_are_signed_out(console: Collector, msp: Msp) -> None:
    minted = admin.add_reader(console.db, "Acme Dental")
    sign_in(console.http, minted.secret)
    assert console.http.get("/console/").status_code == 200
    admin.revoke_reader(console.db, minted.id)
    resp = console.http.get("/console/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/console/sign-in?reason=revoked"
    assert 'duecare_console=""' in resp.headers["set-cookie"]
    assert "was revoked" in console.http.get(resp.headers["location"]).text

    short = admin.add_reader(console.db, "Acme Dental", ttl=timedelta(minutes=5))
    sign_in(console.http, short.secret)
    cookie = console.http.cookies[session.COOKIE]
    expiry = int(cookie.split(".")[2])
    assert expiry <= int((datetime.now(UTC) + timedelta(minutes=5, seconds=1)).timestamp())  # never past the key's own
    with console.db.write() as s:
        from duecare.collector.db.models import ReaderKey

        s.get_one(ReaderKey, short.id).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    resp = console.http.get("/console/", follow_redirects=False)
    assert resp.headers["location"] == "/console/sign-in?reason=expired"

    # A forged or altered cookie is no session.
    key_id = admin.add_reader(console.db, None, all_clients=True).id
    console.http.cookies.set(session.COOKIE, f"v1.{key_id}.9999999999.nonce.AAAA", path="/console")
    resp = console.http.get("/console/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/console/sign-in")


def test_sign_out_needs_the_session_form_token(console: Collector, msp: Msp) -> None:
    sign_in(console.http, msp.readers["*"])
    page = console.http.get("/console/").text
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token is not None
    assert console.http.post("/console/sign-out", data={"token": "forged"}).status_code == 403
    assert console.http.get("/console/").status_code == 200
    out = console.http.post("/console/sign-out", data={"token": token.group(1)})
    assert out.status_code == 200 and "signed out" in out.text
    assert console.http.get("/console/", follow_redirects=False).status_code == 303


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_hostile_strings_from_findings_render_as_text(console: Collector, msp: Msp) -> None:
    sign_in(console.http, msp.readers["*"])
    site = msp.sites["Main office"].site_id
    with console.db.read() as s:
        row = s.scalars(select(FindingState).where(FindingState.title.like("Telnet <script>%"))).one()
        hostile = Ids.of(s, None).public(Kind.FINDING, row.client_id, row.id)
    for url in (
        f"/console/sites/{site}",
        f"/console/findings/{hostile}",
        f"/console/clients/{msp.clients['Acme Dental']}",
    ):
        html = console.http.get(url).text
        parser = _Elements()
        parser.feed(html)
        assert not [t for t, _ in parser.tags if t == "script"], url
        assert not [a for _, a in parser.tags if any(k.startswith("on") for k in a)], url
        if "/clients/" not in url:  # the client page names each action by its worst finding's title
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_console_reads_are_in_the_audit_of_reads(console: Collector, msp: Msp) -> None:
    sign_in(console.http, msp.readers["Beta Law"])
    site = msp.sites["Head office"].site_id
    console.http.get("/console/")
    console.http.get(f"/console/sites/{site}")
    with console.db.read() as s:
        rows = s.execute(select(ReadAudit.endpoint, ReadAudit.client_id, ReadAudit.site_id)).all()
    assert ("/console/", msp.clients["Beta Law"], None) in rows
    assert ("/console/sites/{site_id}", msp.clients["Beta Law"], site) in rows


def _cell(html: str, label: str) -> list[int]:
    return [int(x) for x in re.findall(rf"<dt>{label}</dt><dd[^>]*>(\d+)", html)]


def test_counts_agree_with_the_read_api(console: Collector, msp: Msp) -> None:
    key = msp.readers["*"]
    sign_in(console.http, key)
    api = console.http.get("/v1/findings", headers={"authorization": f"Bearer {key}"}).json()["findings"]
    for name, cid in msp.clients.items():
        live = [f for f in api if f["client_id"] == cid and f["status"] != "resolved"]
        html = console.http.get(f"/console/clients/{cid}").text
        assert _cell(html, "Open findings") == [len(live)], name
        assert _cell(html, "KEV-listed") == [sum(f["kev"] for f in live)], name
        obligations = console.http.get(
            "/v1/obligations", params={"client": cid}, headers={"authorization": f"Bearer {key}"}
        ).json()["obligations"]
        assert _cell(html, "Requirements not met") == [sum(o["status"] == "not_met" for o in obligations)]


def test_exports_are_the_api_exports(console: Collector, msp: Msp) -> None:
    key = msp.readers["Acme Dental"]
    sign_in(console.http, key)
    for kind in ("findings", "obligations"):
        for fmt in ("json", "csv", "ocsf"):
            mine = console.http.get("/console/exports/download", params={"kind": kind, "format": fmt})
            api = console.http.get(
                f"/v1/export/{kind}", params={"format": fmt}, headers={"authorization": f"Bearer {key}"}
            )
            assert mine.status_code == api.status_code == 200
            if fmt == "ocsf":  # events carry their own time of making
                assert len(mine.json()) == len(api.json())
            else:
                assert mine.content == api.content, (kind, fmt)
            assert "attachment" in mine.headers["content-disposition"]


def test_the_site_report_is_the_reports_own_rendering(console: Collector, msp: Msp) -> None:
    sign_in(console.http, msp.readers["Acme Dental"])
    site = msp.sites["Main office"]
    resp = console.http.get(f"/console/sites/{site.site_id}/report.html")
    assert resp.status_code == 200 and "attachment" in resp.headers["content-disposition"]
    assert "Main office" in resp.text and "&lt;script&gt;" in resp.text and "<script" not in resp.text.lower()
    # The signed download verifies with the agent's key, as the Finding page says.
    from duecare.wire import SignedReport
    from duecare.wire.signatures import load_public_key, signature_ok

    with console.db.read() as s:
        rid = s.scalars(select(Report.id).where(Report.site_id == site.site_id)).first()
    body = console.http.get(f"/console/reports/{rid}.json")
    envelope = SignedReport.model_validate_json(body.content)
    assert signature_ok(envelope, load_public_key(site.chain.key.public_b64))


def test_pages_list_a_page_at_a_time(console: Collector, msp: Msp) -> None:
    from duecare.console.pages import pager

    p = pager(3, 120)
    assert (p.offset, p.pages, p.first_shown, p.last_shown, p.has_prev, p.has_next) == (100, 3, 101, 120, True, False)
    assert pager(99, 10).number == 1 and pager(0, 0).pages == 1
    sign_in(console.http, msp.readers["*"])
    assert console.http.get("/console/?page=abc").status_code == 422
    assert "Bad request" in console.http.get("/console/?page=abc").text


def test_counts_follow_the_next_ingest(console: Collector, msp: Msp) -> None:
    """The per-site counts are cached until the change feed moves: a new report shows at once."""
    from tests.collector.factories import finding

    sign_in(console.http, msp.readers["*"])
    client = msp.clients["Beta Law"]
    before = _cell(console.http.get(f"/console/clients/{client}").text, "Open findings")
    agent = msp.sites["Head office"]
    extra = [finding("198.18.2.10"), finding("198.18.2.20"), finding("198.18.2.21")]
    assert console.post(agent, agent.chain.next(findings=extra)).status_code == 201
    after = _cell(console.http.get(f"/console/clients/{client}").text, "Open findings")
    with console.db.read() as s:
        live = s.scalars(
            select(FindingState.id).where(FindingState.client_id == client, FindingState.status != "resolved")
        ).all()
    assert after == [len(live)] and after != before

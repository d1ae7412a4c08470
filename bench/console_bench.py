"""Console benchmark: server time per page with 1,000 sites × 100 findings, on SQLite and PostgreSQL.

Loads ``--clients`` × ``--sites`` sites (100 × 10 by default), each with an enrolled agent and
``--nights`` nightly reports of 100 findings (10 hosts × 10 exposures; each night 5 findings are
fixed and 5 appear, so there is something to resolve and a trend to draw), through the collector's own
ingest (``collector.ingest``), then backdates each night's feed entries to its night so the 90-day
series is spread as in real use. Then it times each console page in process (the ASGI app, no
network: the server's time), ``--rounds`` times, signed in with an all-clients key and with one
client's key, and prints the median and the worst. The first Clients page after the load is timed
apart (it walks the whole change feed once to build the nightly series; later requests only read
what is new).

Usage: python bench/console_bench.py [--backends sqlite,postgresql] [--clients 100] [--sites 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).parents[1]))

from duecare.collector import admin, ingest
from duecare.collector.db import migrate
from duecare.collector.db.models import Change, FindingState, Site
from duecare.collector.db.session import Database, make_engine
from duecare.collector.settings import CollectorSettings, WebhookSettings
from duecare.console.app import create_app
from duecare.wire import EnrollRequest, Exposure, ObligationStatus, Severity, SignedReport
from tests.collector.databases import database_url
from tests.collector.factories import AgentChain, asset, finding, obligations

EXPOSURES = list(Exposure)[:10]
TARGET_MS = 150.0


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def _findings(site_index: int, night: int) -> list:  # type: ignore[type-arg]
    """100 findings: 10 hosts × 10 exposures; each night the first 5·night are gone and as many new."""
    today = datetime.now(UTC).date()
    out = []
    for h in range(10 + night):
        for e, exposure in enumerate(EXPOSURES):
            n = h * 10 + e
            if n < 5 * night or n >= 100 + 5 * night:
                continue
            f = finding(
                f"198.18.{site_index % 250}.{10 + h}",
                exposure,
                port=1000 + e,
                severity=(Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)[n % 4],
                kev_cves=("CVE-2019-0708",) if n % 17 == 0 else (),
            )
            out.append(f.model_copy(update={"deadline": today + timedelta(days=(n % 40) - 10)}))
    return out


def load(db: Database, clients: int, sites: int, nights: int) -> tuple[str, str]:
    """Fill the database; returns (an all-clients key, one client's key)."""
    agents = []
    for c in range(clients):
        name = f"Client {c:04d}"
        admin.add_client(db, name)
        for s in range(sites):
            admin.add_site(db, name, f"Site {s:02d}")
            token = admin.mint_enrollment_token(db, name, f"Site {s:02d}").secret
            chain = AgentChain()
            enrolled = admin.enroll(db, EnrollRequest(token=token, public_key=chain.key.public_b64, hostname="box"))
            with db.read() as session:
                site = session.get_one(Site, enrolled.site_id)
            identity = ingest.AgentIdentity(enrolled.agent_id, site.id, site.client_id, chain.key.public_b64)
            agents.append((c * sites + s, identity, chain))
    ob = obligations(
        ("cisa-cpg", "1.A", ObligationStatus.NOT_MET),
        ("cisa-cpg", "2.B", ObligationStatus.UNKNOWN),
        ("cisa-cpg", "3.C", ObligationStatus.MET),
        ("hipaa", "164.308(a)(1)", ObligationStatus.ATTESTATION_REQUIRED),
    )
    now = datetime.now(UTC)
    for night in range(nights):
        t0 = time.perf_counter()
        with db.read() as session:
            before = session.scalar(select(func.coalesce(func.max(Change.id), 0))) or 0
        started = now - timedelta(days=nights - night, hours=-2)
        for index, identity, chain in agents:
            found = _findings(index, night)
            assets = [asset(ip) for ip in sorted({str(f.ip) for f in found})]
            body = chain.next(findings=found, assets=assets, obligation_summary=ob, started_at=started)
            signed = SignedReport.model_validate(body)
            ingest.ingest(db, identity, signed, ingest.check_report(identity, signed))
        with db.write() as session:
            session.execute(
                update(Change)
                .where(Change.id > before)
                .values(created_at=datetime.now(UTC) - timedelta(days=nights - night - 1))
            )
        print(f"  night {night + 1}: {len(agents)} reports in {time.perf_counter() - t0:.1f} s ({_load()})", flush=True)
    return (
        admin.add_reader(db, None, all_clients=True).secret,
        admin.add_reader(db, "Client 0000").secret,
    )


def _time(http: TestClient, url: str, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        resp = http.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"{url}: {resp.status_code} {resp.text[:300]}")
    return out


def bench(kind: str, clients: int, sites: int, nights: int, rounds: int, tmp: Path) -> None:
    with database_url(kind, tmp) as url:
        db = Database(make_engine(url))
        migrate.upgrade(db.engine)
        print(f"{kind}: loading {clients * sites} sites × 100 findings × {nights} nights ({_load()})", flush=True)
        t0 = time.perf_counter()
        msp_key, client_key = load(db, clients, sites, nights)
        if kind == "postgresql":
            with db.write() as s:
                s.execute(__import__("sqlalchemy").text("ANALYZE"))
        print(f"  loaded in {time.perf_counter() - t0:.0f} s", flush=True)
        with db.read() as s:
            finding_id = s.scalar(select(func.max(FindingState.id)))
            site_row = s.scalars(select(Site).order_by(Site.id).limit(1)).one()
            findings = s.scalar(select(func.count()).select_from(FindingState))
            site_count = s.scalar(select(func.count()).select_from(Site))
        print(f"  {site_count} sites, {findings} tracked findings", flush=True)
        settings = CollectorSettings(database_url=url, webhooks=WebhookSettings(sweep_interval_s=0))
        with TestClient(create_app(settings, database=db)) as http:
            http.post("/console/sign-in", data={"key": msp_key})
            t0 = time.perf_counter()
            http.get("/console/")
            cold = (time.perf_counter() - t0) * 1000
            pages = {
                "clients (MSP, by name)": "/console/",
                "clients (MSP, by overdue, desc)": "/console/?sort=overdue&order=desc",
                "clients (MSP, needs action, page 2)": "/console/?needs=1&page=2",
                "client": f"/console/clients/{site_row.client_id}",
                "site": f"/console/sites/{site_row.id}",
                "site (findings page 2)": f"/console/sites/{site_row.id}?findings=2",
                "finding": f"/console/findings/{finding_id}",
                "exports": "/console/exports",
                "site report (download, not a page)": f"/console/sites/{site_row.id}/report.html",
            }
            results = {name: _time(http, url, rounds) for name, url in pages.items()}
            http.cookies.clear()
            http.post("/console/sign-in", data={"key": client_key})
            results["clients (one client's key)"] = _time(http, "/console/", rounds)
        db.dispose()
    print(f"  first clients page after the load (builds the 90-day series): {cold:.0f} ms")
    worst_page = 0.0
    for name, times in results.items():
        med, top = statistics.median(times), max(times)
        if "download" not in name:
            worst_page = max(worst_page, med)
        print(f"  {name:<40} median {med:6.1f} ms   max {top:6.1f} ms")
    verdict = "met" if worst_page < TARGET_MS else "NOT met"
    print(
        f"SUMMARY console {kind}: {clients * sites} sites, slowest page median {worst_page:.1f} ms "
        f"(target < {TARGET_MS:.0f} ms: {verdict}); {_load()}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="sqlite")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--nights", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="duecare-console-bench-") as tmp:
        for kind in args.backends.split(","):
            bench(kind, args.clients, args.sites, args.nights, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()

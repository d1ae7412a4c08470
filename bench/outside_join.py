"""What the inside/outside join adds to ingest (issue 14), in-process on SQLite.

A site with N inside findings (RDP/SMB on N hosts, each with a certificate fingerprint) and an
agent with internet vantage whose declared address forwards one of them. Times, median of
``--rounds``: the inside report's ingest and the outside report's ingest, with the join and with it
switched off (``collector.outside.rejoin`` and ``join_report`` replaced by no-ops). With ``--judged``
the inside findings are judged by the agent's ``apply_profile`` (government profile: every case of
the clock and every stake recorded), so the join also re-judges the site's obligations; the size of
the inside report with and without those cases is printed too.

    python -m bench.outside_join [--findings 1000] [--rounds 5] [--judged]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from duecare.collector import admin, outside
from duecare.collector.app import create_app
from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from duecare.collector.settings import CollectorSettings
from duecare.wire import Exposure, PortState, ProbeAttempt, ProbeStatus, Proto, Service, Vantage
from tests.collector.factories import BASE_TIME, AgentChain, asset, finding, make_report, signed_body

PUBLIC = "203.0.113.1"


def _attempt(ip: str, port: int, cert: str) -> ProbeAttempt:
    return ProbeAttempt(
        probe="rdp",
        ip=ipaddress.ip_address(ip),
        port=port,
        proto=Proto.TCP,
        status=ProbeStatus.COMPLETED,
        started_at=BASE_TIME,
        duration_ms=1.0,
        facts={"certificate": {"sha256_fingerprint": cert}},
    )


def _enroll(http: TestClient, token: str, vantage: str) -> tuple[AgentChain, dict[str, str]]:
    chain = AgentChain()
    body = {"token": token, "public_key": chain.key.public_b64, "hostname": "b", "vantage": vantage}
    r = http.post("/v1/enroll", json=body).json()
    return chain, {"authorization": f"Bearer {r['credential']}"}


def _post(http: TestClient, chain: AgentChain, auth: dict[str, str], report: Any) -> float:
    body = signed_body(chain.key, report.model_dump(mode="json"))
    t = time.perf_counter()
    resp = http.post("/v1/reports", json=body, headers=auth)
    took = time.perf_counter() - t
    assert resp.status_code == 201, resp.text
    return took


def _judge(findings: list[Any], with_cases: bool) -> tuple[list[Any], Any]:
    """The agent's judgement of the inside findings (imported here: the collector never imports it)."""
    from duecare.advisories.catalog import collect
    from duecare.advisories.obligations import apply_profile

    judged, summary = apply_profile(findings, collect()[0], "government", BASE_TIME)
    if not with_cases:
        judged = [f.model_copy(update={"by_exposure": None}) for f in judged]
        results = tuple(r.model_copy(update={"by_exposure": None}) for r in summary.results)
        summary = summary.model_copy(update={"results": results})
    return judged, summary


def report_sizes(n: int) -> tuple[int, int]:
    """Bytes of the inside report's JSON with and without the cases the agent judged for the join."""
    hosts = [str(ipaddress.IPv4Address("10.0.0.0") + i + 1) for i in range(n // 2)]
    raw = [finding(h, Exposure.RDP_NO_NLA, 3389) for h in hosts]
    raw += [finding(h, Exposure.RDP_BLUEKEEP_LIKELY, 3389) for h in hosts]
    sizes = []
    for cases in (True, False):
        judged, summary = _judge(raw, cases)
        report = make_report(findings=judged, obligation_summary=summary)
        sizes.append(len(report.model_dump_json()))
    return sizes[0], sizes[1]


def one_round(n: int, join: bool, judged: bool = False) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'c.db'}"
        db = Database(make_engine(url))
        migrate.upgrade(db.engine)
        admin.add_client(db, "acme")
        admin.add_site(db, "acme", "hq")
        admin.set_site_public(db, "acme", "hq", [PUBLIC], "bench")
        saved: Callable[..., Any] = outside.rejoin
        saved_join: Callable[..., Any] = outside.join_report
        if not join:
            outside.rejoin = lambda *a, **k: []
            outside.join_report = lambda _s, _site, report: report
        try:
            with TestClient(create_app(CollectorSettings(database_url=url), database=db)) as http:
                inside, in_auth = _enroll(http, admin.mint_enrollment_token(db, "acme", "hq").secret, "internal")
                out, out_auth = _enroll(http, admin.mint_enrollment_token(db, "acme", "hq").secret, "internet")
                hosts = [str(ipaddress.IPv4Address("10.0.0.0") + i + 1) for i in range(n // 2)]
                findings = [finding(h, Exposure.RDP_NO_NLA, 3389) for h in hosts]
                findings += [finding(h, Exposure.SMBV1_ENABLED, 445) for h in hosts]
                attempts = tuple(_attempt(h, 3389, f"{i:064x}") for i, h in enumerate(hosts))
                # The outside report first (so the inside ingest joins against a view), then inside.
                outside_report = make_report(
                    findings=[finding(PUBLIC, Exposure.RDP_NO_NLA, 3389)],
                    assets=[
                        asset(PUBLIC).model_copy(
                            update={"services": (Service(port=3389, proto=Proto.TCP, state=PortState.OPEN),)}
                        )
                    ],
                    targets=(f"{PUBLIC}/32",),
                    tcp_ports="445,3389",
                    report_id=uuid.uuid4(),
                ).model_copy(update={"vantage": Vantage.INTERNET, "attempts": (_attempt(PUBLIC, 3389, f"{0:064x}"),)})
                _post(http, out, out_auth, outside_report)
                summary = None
                if judged:
                    findings, summary = _judge(findings, True)
                inside_report = make_report(
                    findings=findings, targets=("10.0.0.0/16",), report_id=uuid.uuid4(), obligation_summary=summary
                )
                t_inside = _post(http, inside, in_auth, inside_report.model_copy(update={"attempts": attempts}))
                again = outside_report.model_copy(
                    update={
                        "report_id": uuid.uuid4(),
                        "started_at": BASE_TIME.replace(hour=5),
                        "finished_at": BASE_TIME.replace(hour=6),
                    }
                )
                t_outside = _post(http, out, out_auth, again)
        finally:
            outside.rejoin = saved
            outside.join_report = saved_join
            db.dispose()
    return t_inside, t_outside


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--judged", action="store_true", help="inside findings judged by the agent (cases, stakes)")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    figures: dict[str, list[float]] = {"inside_join": [], "inside_nojoin": [], "outside_join": [], "outside_nojoin": []}
    for i in range(args.rounds):
        for join in (True, False) if i % 2 == 0 else (False, True):
            t_in, t_out = one_round(args.findings, join, args.judged)
            tag = "join" if join else "nojoin"
            figures[f"inside_{tag}"].append(t_in)
            figures[f"outside_{tag}"].append(t_out)
    med = {k: round(statistics.median(v) * 1000, 1) for k, v in figures.items()}
    print(f"{args.findings} inside findings, {args.rounds} rounds, median ms: {med}")
    print(
        f"join adds {med['inside_join'] - med['inside_nojoin']:.1f} ms to the inside report's ingest, "
        f"{med['outside_join'] - med['outside_nojoin']:.1f} ms to the outside report's"
    )
    if args.judged:
        with_cases, without = report_sizes(args.findings)
        print(f"inside report JSON with / without the judged cases: {with_cases} / {without} bytes")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

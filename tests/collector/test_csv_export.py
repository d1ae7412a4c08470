"""The CSV change feed: one row per change of every kind, a host on every device row, one line per cell."""

from __future__ import annotations

import csv
import io

from duecare.collector.exports.csv import CHANGE_PREFIX, CVE_SEPARATOR, FINDING_COLUMNS
from duecare.wire import Exposure, ObligationStatus
from tests.collector.conftest import Collector
from tests.collector.factories import asset, finding, obligations

REMEDIATION = "Apply the latest SU.\n\nThen run the\r\nHealth Checker.\t Again."
CVES = [f"CVE-2023-{n:05d}" for n in range(21529, 21583)]  # 54, as on an unpatched Exchange


def _populate(collector: Collector) -> dict[str, str]:
    agent = collector.enroll("Example Dental", "Main office")
    exch = finding("198.18.0.30", Exposure.EXCHANGE_UNPATCHED, 443, cves=CVES).model_copy(
        update={"remediation": REMEDIATION}
    )
    telnet = finding("198.18.0.50")
    oblig = obligations(("baseline", "4.8", ObligationStatus.NOT_MET), ("baseline", "1.2", ObligationStatus.MET))
    first = agent.chain.next(
        findings=[exch, telnet],
        assets=[asset("198.18.0.30", "mail01"), asset("198.18.0.50"), asset("198.18.0.77")],
        obligation_summary=oblig,
    )
    assert collector.post(agent, first).status_code in (200, 201)
    dropped = agent.chain.skip(findings=[exch], assets=[asset("198.18.0.30", "mail01")])
    second = agent.chain.next(
        findings=[exch], assets=[asset("198.18.0.30", "mail01"), asset("198.18.0.50")], tombstones=[dropped]
    )
    assert collector.post(agent, second).status_code in (200, 201)
    return collector.reader()


def test_one_row_per_change_of_every_kind(collector: Collector) -> None:
    reader = _populate(collector)
    feed = collector.http.get("/v1/export/changes", params={"format": "json"}, headers=reader).json()["changes"]
    body = collector.http.get("/v1/export/changes", params={"format": "csv"}, headers=reader).text
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0]) == [*CHANGE_PREFIX, *FINDING_COLUMNS]
    assert [(r["change_id"], r["kind"]) for r in rows] == [(str(c["id"]), c["kind"]) for c in feed]
    kinds = {r["kind"] for r in rows}
    assert kinds >= {"report", "finding", "asset", "obligation", "chain_gap", "dropped_report"}, kinds
    for r in rows:
        assert r["title"], r  # every row says what happened
        if r["kind"] in ("finding", "asset"):
            assert r["host"] in (r["ip"], "mail01") and r["host"], r
    assert {r["host"] for r in rows if r["kind"] == "finding"} == {"mail01", "198.18.0.50"}


def test_cells_are_one_line_and_cves_use_the_documented_separator(collector: Collector) -> None:
    reader = _populate(collector)
    body = collector.http.get("/v1/export/changes", params={"format": "csv"}, headers=reader).text
    # A raw line break only ever ends a record: every physical line is one row (header included).
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(body.strip("\r\n").split("\r\n")) == len(rows) + 1
    assert "\n" not in body.replace("\r\n", "")
    exch = next(r for r in rows if r["kind"] == "finding" and r["exposure"] == "exchange-unpatched")
    assert exch["cve"].split(CVE_SEPARATOR) == CVES
    assert exch["remediation"] == "Apply the latest SU. Then run the Health Checker. Again."


def test_findings_export_fills_host_and_flattens_cells(collector: Collector) -> None:
    reader = _populate(collector)
    body = collector.http.get("/v1/export/findings", params={"format": "csv"}, headers=reader).text
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and all(r["host"] for r in rows)
    assert len(body.strip("\r\n").split("\r\n")) == len(rows) + 1

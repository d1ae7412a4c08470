"""`duecare report`: render a saved report, a site's report from the collector, or the baseline exhibit.

The application behind ``duecare report``: every function takes paths and strings, writes one
file, and returns a line for the terminal. Problems are raised as ``ReadClientError`` (the
collector: exit 1) or another ``ReportError`` (the caller's input: exit 2).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from duecare.report.baseline import diff, load_report, render_baseline, summary_line
from duecare.report.client import ReadClient, SiteRef, read_key_file
from duecare.report.errors import BaselineError, ReadClientError, ReportError
from duecare.report.history import History, replay
from duecare.report.html import check_output, render, write_html_or_pdf
from duecare.wire import Report, SignedReport
from duecare.wire.api import LIVE_FINDING, ChangeKind, ChangeOut, FindingOut, StoredReport
from duecare.wire.rejudge import rejudge_report
from duecare.wire.signatures import PublicKeyError, SignatureError, load_public_key, signature_ok, verify_receipt


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f} KiB"


def report_from_file(source: Path, out: Path) -> str:
    check_output(out)
    try:
        report = load_report(source)
    except BaselineError as exc:
        raise ReportError(str(exc)) from exc
    t0 = time.monotonic()
    write_html_or_pdf(render(report), out)
    return f"report written to {out} ({_size(out)}, {time.monotonic() - t0:.2f} s)"


class SiteSource(Protocol):
    """What the report needs of a collector: ``ReadClient`` over HTTP, or the console in process."""

    def find_site(self, wanted: str) -> SiteRef: ...
    def changes(self, *, site: str | None = None, cursor: str = "0") -> Iterator[ChangeOut]: ...
    def findings(self, *, site: str | None = None) -> Iterator[FindingOut]: ...
    def stored_report(self, report_id: str) -> StoredReport: ...


def fetch_site_report(client: SiteSource, site: str) -> tuple[Report, History]:
    """The site's most recent report (by scan time) as signed, with the feed replayed for history."""
    ref = client.find_site(site)
    changes = list(client.changes(site=ref.site_id))
    summaries = [c.report for c in changes if c.kind is ChangeKind.REPORT and c.report is not None]
    if not summaries:
        raise ReadClientError(f"site {ref.site!r} ({ref.site_id}) has no reports at the collector yet")
    # The site's report is its latest inside view; an agent with internet vantage contributes
    # through the collector's join (the findings' reachability), not as the report itself.
    for latest in sorted(summaries, key=lambda s: s.finished_at, reverse=True)[:INSIDE_LOOKBACK]:
        stored = client.stored_report(latest.report_id)
        if stored.report.get("vantage") != "internet":
            break
    try:
        report = Report.model_validate(stored.report)
    except ValidationError as exc:
        raise ReadClientError(f"report {latest.report_id} does not validate: {exc.errors()[0]['msg']}") from exc
    try:
        valid: bool | None = signature_ok(
            SignedReport(report=stored.report, signature=stored.signature), load_public_key(stored.agent_public_key)
        )
    except PublicKeyError:
        valid = None
    receipt_valid: bool | None = None
    if stored.receipt is not None:
        try:
            verify_receipt(stored.receipt, None)
            receipt_valid = stored.receipt.report_hash == latest.report_hash
        except (SignatureError, PublicKeyError):
            receipt_valid = False
    points, gaps = replay(changes)
    tracks = {f.key: f for f in client.findings(site=ref.site_id)}
    report = with_reachability(report, tracks.values())
    history = History(
        client=ref.client,
        site=ref.site,
        points=tuple(points),
        tracks=tracks,
        chain_gaps=gaps,
        signature=stored.signature,
        signature_valid=valid,
        agent_public_key=stored.agent_public_key,
        receipt=stored.receipt,
        receipt_valid=receipt_valid,
    )
    return report, history


#: How many of the newest reports are looked through for the latest inside one.
INSIDE_LOOKBACK = 20


def with_reachability(report: Report, tracked: Iterable[FindingOut]) -> Report:
    """The collector's join on the report's findings (``internet_exposed`` and its evidence), every
    verdict that depends on it selected from the cases the agent judged (clocks, obligations, the
    summary's counts: ``wire/rejudge.py``), and the live findings only the outside view saw
    ("internal host unknown") added to them."""
    live = [t for t in tracked if t.status in LIVE_FINDING]
    by_key = {t.key: t.finding for t in live}
    findings = []
    for f in report.findings:
        key = (str(f.ip), f.exposure.value, f.port, f.proto.value if f.proto else None)
        joined = by_key.get(key)
        if joined is not None and (joined.internet_exposed, joined.internet_evidence) != (
            f.internet_exposed,
            f.internet_evidence,
        ):
            f = f.model_copy(
                update={"internet_exposed": joined.internet_exposed, "internet_evidence": joined.internet_evidence}
            )
        findings.append(f)
    report = rejudge_report(report.model_copy(update={"findings": tuple(findings)}))
    lonely = [t.finding for t in live if t.finding.details.get("internal_host_unknown") is True]
    return report.model_copy(update={"findings": (*report.findings, *lonely)}) if lonely else report


def report_from_collector(url: str, key_file: Path, site: str, out: Path) -> str:
    check_output(out)
    key = read_key_file(key_file)
    t0 = time.monotonic()
    with ReadClient(url, key) as client:
        report, history = fetch_site_report(client, site)
    fetched = time.monotonic() - t0
    write_html_or_pdf(render(report, history=history), out)
    rendered = time.monotonic() - t0 - fetched
    return (
        f"report {report.report_id} of site {history.site!r} with {len(history.points)} report(s) of history "
        f"written to {out} ({_size(out)}; fetched in {fetched:.2f} s, rendered in {rendered:.2f} s)"
    )


def baseline_exhibit(baseline: Path, current: Path, out: Path) -> str:
    check_output(out)
    try:
        d = diff(load_report(baseline), load_report(current))
    except BaselineError as exc:
        raise ReportError(str(exc)) from exc
    write_html_or_pdf(render_baseline(d), out)
    return f"{summary_line(d)}; exhibit written to {out}"

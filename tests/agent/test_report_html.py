"""The HTML report offline: content for each reader, escaping of hostile text, no external assets."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from duecare.report.html import hexdump, render, safe_url
from duecare.report.view import actions, finding_id
from duecare.wire import Severity, Verdict
from tests.agent.report_factories import HOSTILE_URL, IMG, SCRIPT, hostile_report, rich_report


class Page(HTMLParser):
    """Tags, attributes and the text a reader sees (script/style content kept apart)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style", "title"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if not self._in:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())

    def attr_values(self, name: str) -> list[str]:
        return [v for _, a in self.tags for k, v in a.items() if k == name and v is not None]


def test_owner_summary_has_standard_actions_kev_and_overdue() -> None:
    page = Page(render(rich_report()))
    text = page.visible
    assert "HIPAA covered entity or business associate" in text  # the profile's own title
    assert "2 not met" in text and "1 could not be determined" in text and "1 met" in text and "1 waived" in text
    assert "Action required." in text
    assert "CVE-2021-42321" in text and "2021-12-01" in text and "OVERDUE" in text
    assert "Jane Owner, Acme Dental — signed 2026-11-01" in text
    # the first action is the KEV one, the waived finding is no action
    assert [a.exposure for a in actions(rich_report(), rich_report().finished_at.date())] == [
        "exchange-unpatched",
        "telnet-exposed",
    ]


def test_every_finding_and_obligation_is_listed_once_with_its_key() -> None:
    report = rich_report()
    page = Page(render(report))
    listed = page.attr_values("data-finding")
    assert sorted(listed) == sorted(finding_id(f) for f in report.findings)
    assert report.obligations is not None
    rows = page.attr_values("data-obligation")
    assert sorted(rows) == sorted(f"{o.framework}|{o.requirement}" for o in report.obligations.results)


def test_engineer_detail_shows_evidence_advisories_and_waiver() -> None:
    html = render(rich_report())
    text = Page(html).visible
    assert "<pre>0000  fe 53 4d 42 40 00 00 00" in html and ".SMB@..." in text  # hex evidence as a dump
    assert "AA21-062A" in text and "Mitigate Exchange" in text
    assert "W-1: printer — approved by Dr Who" in text and "WAIVED" in text
    assert "certain — verified" in text or "verified: the service's own answer proves it" in text


def test_open_questions_and_unobservable_catalog_entries() -> None:
    text = Page(render(rich_report())).visible
    assert "rdp: timed out — no answer" in text
    assert "did not answer in time" in text  # what would settle it
    assert "Audit-log configuration on ePHI systems." in text
    # from advisories/data/unobservable.toml: the catalog entries a scan cannot see
    assert "LLMNR / NBT-NS name-poisoning exposure" in text


def test_appendix_provenance() -> None:
    text = Page(render(rich_report())).visible
    assert "11111111-2222-4333-8444-555555555555" in text
    assert re.search(r"sha256 [0-9a-f]{64}", text)
    assert "2025.08.25" in text and "non-intrusive" in text and "198.18.0.2/32" in text
    assert "1025 ports" in text


def test_without_profile_says_so() -> None:
    report = rich_report(obligations=None, profile=None)
    text = Page(render(report)).visible
    assert "No standard of care was applied" in text


def test_clean_report_reads_clean() -> None:
    base = rich_report()
    clean = base.model_copy(update={"findings": (), "attempts": (), "obligations": None})
    text = Page(render(clean)).visible
    assert "No exposure found." in text and "Nothing to fix" in text


def test_hostile_text_is_escaped_never_markup() -> None:
    html = render(hostile_report())
    page = Page(html)
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and "img" not in tags
    assert not [k for _, a in page.tags for k in a if k.startswith("on")]
    assert SCRIPT not in html and IMG not in html
    assert "&lt;script&gt;" in html
    # shown as text, in evidence, host names, titles, authorisation and notes
    assert page.visible.count("<script>document.title=") >= 6
    assert f"Mallory {SCRIPT}" in page.visible
    # a javascript: URL from a report is never made a link
    assert HOSTILE_URL not in page.attr_values("href")
    assert all(h.startswith(("#", "https://")) for h in page.attr_values("href"))


def test_no_external_asset_and_a_csp_that_forbids_them() -> None:
    page = Page(render(rich_report()))
    assert not page.attr_values("src")
    assert not [t for t, a in page.tags if t == "link"]
    csp = [a.get("content") for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0] or "")
    assert "url(http" not in render(rich_report())


def test_charts_are_labelled_and_patterned() -> None:
    html = render(rich_report())
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2  # severity, obligations (no history without a collector)
    for svg in svgs:
        assert "<title" in svg and "<pattern" in svg and 'fill="url(#' in svg
    assert ">Critical<" in svgs[0] and ">Not met<" in svgs[1]


def test_hexdump_and_safe_url() -> None:
    assert hexdump("41 42 0a") == "0000  41 42 0a" + " " * 39 + "  AB."
    assert hexdump("not hex at all") == "not hex at all"
    assert hexdump(" ".join(["00"] * 300)).endswith("44 more bytes in the JSON report")
    assert safe_url("https://www.cisa.gov/x") == "https://www.cisa.gov/x"
    for bad in (HOSTILE_URL, "data:text/html,x", "https://a b", "//evil", ""):
        assert safe_url(bad) is None


@pytest.mark.parametrize("sev", list(Severity))
def test_severity_counts_ignore_waived_and_indeterminate(sev: Severity) -> None:
    from duecare.report.view import severity_counts

    counts = severity_counts(rich_report().findings)
    expected = sum(
        1 for f in rich_report().findings if f.severity is sev and f.verdict is Verdict.AFFECTED and not f.waived
    )
    assert counts[sev] == expected


def test_write_report_html(tmp_path: Path) -> None:
    from duecare.report.html import write_report

    out = tmp_path / "r" / "report.html"
    write_report(rich_report(), out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

"""``os-end-of-life`` over the lifecycle table: every row, unknown builds, and the scan's own date.

Expected verdicts on 2026-12-05 are written out by hand from the table's dates (not computed by the
code under test); the per-row tests check each row's own end date is the boundary of its verdict.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from duecare.advisories.catalog import Catalog
from duecare.advisories.lifecycle import Hints, LifecycleTables, judge_windows, load_lifecycle
from duecare.advisories.lifecycle.tables import Kind, WindowsRelease
from duecare.advisories.lifecycle.windows import SETTLE_EDITION, SETTLE_FEATURE, SETTLE_KIND, SETTLE_UNKNOWN
from duecare.wire import Confidence, Verdict

ON = date(2026, 12, 5)
A, N, Q = Verdict.AFFECTED, Verdict.NOT_AFFECTED, Verdict.INDETERMINATE
FIRM, TENT = Confidence.FIRM, Confidence.TENTATIVE

#: Announced version → (verdict, confidence) on 2026-12-05, with no other fact about the host.
EXPECTED: dict[str, tuple[Verdict, Confidence]] = {
    "5.0.2195": (A, FIRM),
    "5.1.2600": (A, FIRM),
    "5.2.3790": (A, FIRM),
    "6.0.6000": (A, FIRM),
    "6.0.6001": (A, FIRM),
    "6.0.6002": (A, FIRM),
    "6.0.6003": (A, FIRM),
    "6.1.7600": (A, FIRM),
    "6.1.7601": (A, FIRM),  # Windows 7 SP1 and 2008 R2 SP1, ESU over since 2023-01-10
    "6.2.9200": (A, FIRM),  # Server 2012 ESU ended 2026-10-13
    "6.3.9600": (A, FIRM),
    "10.0.10240": (A, FIRM),  # 2015 LTSB ended 2025-10-14
    "10.0.10586": (A, FIRM),
    "10.0.14393": (Q, TENT),  # 1607 ended, LTSB 2016 ended (ESU may cover it); Server 2016 until 2027-01-12
    "10.0.15063": (A, FIRM),
    "10.0.16299": (A, FIRM),
    "10.0.17134": (A, FIRM),
    "10.0.17763": (Q, TENT),  # 1809 ended; LTSC 2019 and Server 2019 until 2029-01-09
    "10.0.18362": (A, FIRM),  # 1903 and 1909 (both announce 18362)
    "10.0.18363": (A, FIRM),
    "10.0.19041": (Q, TENT),  # 2004…22H2 all announce 19041; LTSC 2021 until 2027-01-12
    "10.0.19042": (A, FIRM),
    "10.0.19043": (A, FIRM),
    "10.0.19044": (Q, TENT),  # 21H2 ended; LTSC 2021 (and IoT) still supported
    "10.0.19045": (A, TENT),  # 22H2 ended 2025-10-14; commercial ESU may cover it until 2028-10-10
    "10.0.20348": (N, FIRM),  # Server 2022 until 2031-10-14
    "10.0.22000": (A, FIRM),
    "10.0.22621": (A, FIRM),  # 22H2 and 23H2 (announced as 22621): 23H2 Enterprise ended 2026-11-10
    "10.0.22631": (A, FIRM),
    "10.0.25398": (A, FIRM),
    "10.0.26100": (Q, TENT),  # 24H2 Home/Pro ended 2026-10-13; Enterprise, LTSC 2024, Server 2025 not
    "10.0.26200": (N, FIRM),
    "10.0.28000": (N, FIRM),
}


@pytest.fixture(scope="module")
def tables(packaged: Catalog) -> LifecycleTables:
    assert packaged.lifecycle is not None
    return packaged.lifecycle


def test_every_row_is_in_the_expectation_table(tables: LifecycleTables) -> None:
    versions = {r.version for r in tables.windows} | {r.announced for r in tables.windows}
    assert versions == set(EXPECTED)


@pytest.mark.parametrize(("version", "expected"), sorted(EXPECTED.items()))
def test_verdict_on_the_scan_day(tables: LifecycleTables, version: str, expected: tuple[Verdict, Confidence]) -> None:
    j = judge_windows(tables, version, ON)
    assert (j.verdict, j.confidence) == expected, j.reason
    assert j.details["judged_on"] == "2026-12-05"
    assert j.details["windows_version"] == version
    if j.verdict is Q:
        assert j.details["settle"] and "settle with" in j.reason
    if j.confidence is TENT and j.verdict is A:
        assert "may be covered by paid Extended Security Updates" in j.reason and "verify" in j.reason


#: Every row of the shipped table (read here only to name the test cases).
ROWS = load_lifecycle().windows


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.version}-{r.release}-{'+'.join(r.editions)}" for r in ROWS])
def test_each_row_ends_on_its_own_date(tables: LifecycleTables, row: WindowsRelease) -> None:
    """The row is listed as a candidate of its version; it is "ended" the day after its end date, not on it."""
    for day, ended in ((row.end_of_support, False), (row.end_of_support + timedelta(days=1), True)):
        j = judge_windows(tables, row.version, day)
        cands = j.details["candidates"]
        assert isinstance(cands, list)
        mine = [
            c
            for c in cands
            if isinstance(c, dict) and c["release"] == row.release and c["editions"] == [e.value for e in row.editions]
        ]
        assert len(mine) == 1, (row, cands)
        assert mine[0]["ended"] is ended
        assert mine[0]["source"] == row.source
    # Long after every release of this build has ended (ESU included): affected, firm.
    late = judge_windows(tables, row.version, date(2040, 1, 1))
    assert (late.verdict, late.confidence) == (A, FIRM), late.reason
    # On the first end date of the build's releases nothing has ended yet: not affected.
    first = min(r.end_of_support for r in tables.candidates(row.version))
    early = judge_windows(tables, row.version, first)
    assert early.verdict is N, early.reason


@pytest.mark.parametrize("version", ["10.0.99999", "10.0.19999", "6.4.9800", "11.0.1", "5.2.3791"])
def test_unknown_build_is_indeterminate_and_says_what_settles_it(tables: LifecycleTables, version: str) -> None:
    j = judge_windows(tables, version, ON)
    assert (j.verdict, j.confidence) == (Q, TENT)
    assert "not in the Windows lifecycle table" in j.reason and SETTLE_UNKNOWN in j.reason
    assert j.details["settle"] == [SETTLE_UNKNOWN] and j.details["candidates"] == []


def test_the_day_judged_is_the_callers(tables: LifecycleTables) -> None:
    """Same build, three scan days: Server 2016 keeps 10.0.14393 open until 2027-01-12."""
    server = Hints(kind=Kind.SERVER, kind_basis="test")
    assert judge_windows(tables, "10.0.14393", date(2026, 12, 5), server).verdict is N
    assert judge_windows(tables, "10.0.14393", date(2027, 1, 12), server).verdict is N
    assert judge_windows(tables, "10.0.14393", date(2027, 1, 13), server).verdict is A
    # Windows 10 22H2: in support, then ESU-only (tentative), then firmly ended.
    assert judge_windows(tables, "10.0.19045", date(2025, 10, 14)).verdict is N
    esu = judge_windows(tables, "10.0.19045", date(2026, 1, 5))
    assert (esu.verdict, esu.confidence) == (A, TENT) and esu.details["esu_until"] == "2028-10-10"
    assert judge_windows(tables, "10.0.19045", date(2028, 10, 11)).confidence is FIRM


def test_server_2012_r2_esu_window(tables: LifecycleTables) -> None:
    j = judge_windows(tables, "6.3.9600", date(2024, 3, 1))
    assert (j.verdict, j.confidence) == (A, TENT) and "2026-10-13" in j.reason


def test_shared_client_server_build_says_what_would_settle_it(tables: LifecycleTables) -> None:
    j = judge_windows(tables, "10.0.17763", ON)
    assert j.verdict is Q
    assert SETTLE_KIND in j.reason and SETTLE_EDITION in j.reason
    assert "Windows Server 2019 (supported until 2029-01-09)" in j.reason
    client = judge_windows(tables, "10.0.17763", ON, Hints(kind=Kind.CLIENT, kind_basis="test"))
    assert client.verdict is Q and SETTLE_KIND not in client.reason and SETTLE_EDITION in client.reason


def test_enablement_family_names_the_feature_update(tables: LifecycleTables) -> None:
    j = judge_windows(tables, "10.0.19041", ON)
    assert SETTLE_FEATURE in j.reason
    releases = {c["release"] for c in j.details["candidates"] if isinstance(c, dict)}  # type: ignore[union-attr]
    assert {"Windows 10 version 2004", "Windows 10 version 22H2", "Windows 10 Enterprise LTSC 2021"} <= releases


def test_a_hint_that_fits_no_release_is_indeterminate(tables: LifecycleTables) -> None:
    j = judge_windows(tables, "10.0.20348", ON, Hints(kind=Kind.CLIENT, kind_basis="SMB NativeOS 'Windows 10 Pro'"))
    assert j.verdict is Q and "no release in the lifecycle table fits" in j.reason


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.version}-{r.release}-{'+'.join(r.editions)}" for r in ROWS])
def test_each_row_records_the_page_that_confirmed_it(row: WindowsRelease) -> None:
    """Every date was checked against a page someone can open again; none is left "from memory"."""
    assert row.checked == "search", f"{row.label} is not verified"
    assert row.evidence.startswith("https://") and row.evidence != row.source
    assert row.source.startswith("https://learn.microsoft.com/")


def test_no_row_is_unverified() -> None:
    assert [r.label for r in ROWS if r.checked != "search"] == []
    assert len(ROWS) == 71

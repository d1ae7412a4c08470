"""Every build in Microsoft's table, walked through the Exchange decision.

The expectations are read from the CSV here, independently of advisories.exchange's own indexes.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import pytest
from pydantic import JsonValue

from duecare.advisories.exchange import DATA_DIR, ExchangeTables, load_exchange_tables, su_month
from duecare.advisories.predicates.base import Check
from duecare.advisories.predicates.exchange import judge_unpatched, judge_unsupported
from duecare.probes.exchange.facts import BuildObservation, BuildPrecision, BuildSource, ExchangeFacts
from duecare.wire import Verdict

TODAY = date(2026, 11, 30)
PROXYLOGON = {"CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"}
#: CUs Microsoft still serviced when the March 2021 SU shipped (2021-03-02). For every older CU it
#: published an out-of-band update that fixed only the ProxyLogon CVEs, so those CUs stayed behind on
#: every earlier SU they had missed.
SERVICED_MARCH_2021 = {
    "Exchange Server 2019 CU7",
    "Exchange Server 2019 CU8",
    "Exchange Server 2016 CU18",
    "Exchange Server 2016 CU19",
    "Exchange Server 2013 CU23",
}


@dataclass(frozen=True)
class Row:
    product: str
    name: str
    released: date
    build: tuple[int, ...]
    #: True for an SU build only HealthChecker's dictionary knows (pre-2021); dated by month only.
    healthchecker: bool = False

    @property
    def version(self) -> str:
        return ".".join(map(str, self.build))

    @property
    def when(self) -> str:
        return self.released.isoformat()[: 7 if self.healthchecker else 10]

    @property
    def cu_name(self) -> str:
        """'Exchange Server 2016 CU22 Nov21SU' → 'Exchange Server 2016 CU22'."""
        return " ".join(self.name.split()[:4])


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _parts(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


DOCS = [
    Row(r["product"], r["name"], date.fromisoformat(r["release_date"]), _parts(r["build_short"]))
    for r in _csv("exchange-builds.csv")
]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_known = {r.build for r in DOCS}
_hc: dict[tuple[int, ...], Row] = {}
for v in _csv("exchange-vulns.csv"):
    su = re.fullmatch(r"(\w{3})(\d\d)(SU|HU)(v\d+)?", v["su_name"])
    if v["fixed_in_build"][0].isdigit() and re.fullmatch(r"CU\d+|RTM|SP1", v["cu_name"]) and su:
        b = _parts(v["fixed_in_build"])
        if b not in _known:
            month = date(2000 + int(su.group(2)), _MONTHS.index(su.group(1)) + 1, 1)
            _hc.setdefault(b, Row(v["product"], f"{v['product']} {v['cu_name']} {v['su_name']}", month, b, True))
ROWS = DOCS + list(_hc.values())
BY_CU: dict[tuple[int, ...], list[Row]] = defaultdict(list)
for _row in ROWS:
    BY_CU[_row.build[:3]].append(_row)
for _rows in BY_CU.values():
    _rows.sort(key=lambda r: r.build)
LATEST = [rows[-1] for rows in BY_CU.values()]
OLDER = [r for rows in BY_CU.values() for r in rows[:-1]]


@pytest.fixture(scope="module")
def tables() -> ExchangeTables:
    return load_exchange_tables()


def facts(version: str, on: date = TODAY, source: BuildSource = BuildSource.ECP_EXPORT_TOOL) -> ExchangeFacts:
    precision = BuildPrecision.FULL if version.count(".") == 3 else BuildPrecision.CU
    if precision is BuildPrecision.CU:
        source = BuildSource.OWA_LOGON_PATH
    b = BuildObservation(version=version, source=source, precision=precision, path="/probe")
    return ExchangeFacts(observed_on=on, scheme="https", exchange_detected=True, build=b, builds_seen=(b,))


def missing(check: Check) -> list[dict[str, JsonValue]]:
    fixes = check.details.get("missing_fixes", [])
    assert isinstance(fixes, list)
    return [f for f in fixes if isinstance(f, dict)]


def test_table_shape_as_documented(tables: ExchangeTables) -> None:
    assert len(DOCS) == len(tables.builds) == 225 and len(BY_CU) == len(tables.by_cu) == 66
    assert tables.newest_release == max(r.released for r in DOCS) == date(2026, 8, 11)
    assert len(tables.vulns) == 1055
    # G4: pre-2021 SU builds only HealthChecker knows are folded in (e.g. 2016 CU7 Mar18SU).
    assert BY_CU[(15, 1, 1261)][-1].name == "Exchange Server 2016 CU7 Mar18SU"


@pytest.mark.parametrize("row", LATEST, ids=lambda r: r.name)
def test_latest_su_of_each_cu_is_not_behind(tables: ExchangeTables, row: Row) -> None:
    check = judge_unpatched(facts(row.version), tables)
    latest = check.details["latest_su"]
    assert isinstance(latest, dict) and latest["name"] == row.name
    assert check.details["installed"] == row.name and check.details["build_in_table"] is True
    # Anything still missing today is a fix that never shipped for this CU (upgrade the CU).
    assert all(f["on_this_cu"] is False for f in missing(check))
    if check.verdict is Verdict.AFFECTED:
        assert "never shipped for this CU" in check.reason


@pytest.mark.parametrize("row", LATEST, ids=lambda r: r.name)
def test_latest_su_of_each_cu_was_clean_when_it_shipped(tables: ExchangeTables, row: Row) -> None:
    check = judge_unpatched(facts(row.version, on=row.released), tables)
    old_cu_proxylogon_only = row.name.endswith("Mar21SU") and row.cu_name not in SERVICED_MARCH_2021
    if not old_cu_proxylogon_only:
        assert check.verdict is Verdict.NOT_AFFECTED, check.reason
        return
    assert check.verdict is Verdict.AFFECTED
    ids = {str(f["id"]) for f in missing(check)}
    assert ids and not ids & PROXYLOGON
    for f in missing(check):
        month = su_month(str(f["su"]))
        assert month is not None and month < date(2021, 3, 1) and f["on_this_cu"] is False


@pytest.mark.parametrize("row", OLDER, ids=lambda r: r.name)
def test_older_build_names_the_missing_su_of_its_cu(tables: ExchangeTables, row: Row) -> None:
    latest = BY_CU[row.build[:3]][-1]
    for on in (TODAY, latest.released):
        check = judge_unpatched(facts(row.version, on=on), tables)
        assert check.verdict is Verdict.AFFECTED, check.reason
        assert check.details["installed"] == row.name
        assert check.details["latest_su"] == {
            "name": latest.name,
            "date": latest.when,
            "build": latest.version,
        }
        assert f"missing {latest.name.split()[-1]}" in check.reason or f"missing {latest.cu_name.split()[-1]}" in (
            check.reason
        )
        assert latest.when in check.reason


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_support_by_product_today(tables: ExchangeTables, row: Row) -> None:
    check = judge_unsupported(facts(row.version), tables)
    if row.healthchecker:
        return  # the support decision reads Microsoft's table only
    if row.product == "Exchange Server SE":
        assert check.verdict is Verdict.NOT_AFFECTED, check.reason
    else:
        eos = {"Exchange Server 2013": "2023-04-11"}.get(row.product, "2025-10-14")
        assert check.verdict is Verdict.AFFECTED
        assert check.details["end_of_support"] == eos and eos in check.reason


@pytest.mark.parametrize(
    ("version", "day_before"), [("15.1.2507.58", date(2025, 10, 13)), ("15.0.1497.48", date(2023, 4, 10))]
)
def test_end_of_support_follows_the_observation_day(tables: ExchangeTables, version: str, day_before: date) -> None:
    before = judge_unsupported(facts(version, on=day_before), tables)
    after = judge_unsupported(facts(version, on=date.fromordinal(day_before.toordinal() + 1)), tables)
    assert (before.verdict, after.verdict) == (Verdict.NOT_AFFECTED, Verdict.AFFECTED)


def test_newest_se_is_clean(tables: ExchangeTables) -> None:
    newest = max((r for r in ROWS if r.product == "Exchange Server SE"), key=lambda r: r.build)
    for judge in (judge_unpatched, judge_unsupported):
        assert judge(facts(newest.version), tables).verdict is Verdict.NOT_AFFECTED


@pytest.mark.parametrize("cu", sorted(BY_CU), ids=lambda k: ".".join(map(str, k)))
def test_cu_only_build_is_never_a_pass(tables: ExchangeTables, cu: tuple[int, int, int]) -> None:
    check = judge_unpatched(facts(".".join(map(str, cu))), tables)
    assert check.verdict in (Verdict.AFFECTED, Verdict.INDETERMINATE)
    if check.verdict is Verdict.INDETERMINATE:
        assert "export-tool manifest" in check.reason and "X-OWA-Version" in check.reason


def test_cu_only_se_is_indeterminate_and_cu_only_2016_cu22_is_affected(tables: ExchangeTables) -> None:
    se = judge_unpatched(facts("15.2.2562"), tables)
    assert se.verdict is Verdict.INDETERMINATE and "cannot be determined remotely" in se.reason
    cu22 = judge_unpatched(facts("15.1.2375"), tables)
    assert cu22.verdict is Verdict.AFFECTED and "never received fixes" in cu22.reason
    assert "CVE-2023-21529" in cu22.cves  # Feb23SU shipped for 2016 CU23 only
    cu23 = judge_unpatched(facts("15.1.2507"), tables)  # every fix reached CU23; only the EoS is certain
    assert cu23.verdict is Verdict.AFFECTED and cu23.confidence == "tentative" and "ESU" in cu23.reason


@pytest.mark.parametrize("cu", sorted(BY_CU), ids=lambda k: ".".join(map(str, k)))
def test_unknown_revision_reads_as_nearest_lower(tables: ExchangeTables, cu: tuple[int, int, int]) -> None:
    rows = BY_CU[cu]
    known = {r.build[3] for r in rows}
    checked = 0
    for row in rows:
        unknown = row.build[3] + 1
        if unknown in known:
            continue
        check = judge_unpatched(facts(f"{row.version.rsplit('.', 1)[0]}.{unknown}"), tables)
        assert check.details["installed"] == row.name and check.details["build_in_table"] is False
        checked += 1
    assert checked >= 1  # the newest build of a CU always has an unknown successor revision


def test_g3_owa_version_below_the_cu_release(tables: ExchangeTables) -> None:
    """CSS-Exchange #396: OwaVersion 15.2.858.2 after installing 2019 CU9 (table: 15.2.858.5)."""
    check = judge_unpatched(facts("15.2.858.2", source=BuildSource.OWA_VERSION_HEADER), tables)
    assert check.details["installed"] == "Exchange Server 2019 CU9"
    assert check.details["build_in_table"] is False
    assert not PROXYLOGON & set(check.cves)  # CU9 contains the March 2021 fixes
    latest = check.details["latest_su"]
    assert isinstance(latest, dict) and latest["name"] == "Exchange Server 2019 CU9 Jul21SU"
    between = judge_unpatched(facts("15.2.858.11"), tables)
    assert between.details["installed"] == "Exchange Server 2019 CU9 Apr21SU"


def test_revision_newer_than_the_table(tables: ExchangeTables) -> None:
    check = judge_unpatched(facts("15.2.2562.53"), tables)  # Oct 2026 SU v2, not in the snapshot
    assert check.verdict is Verdict.NOT_AFFECTED
    assert check.details["installed"] == "Exchange Server SE RTM Aug26SU"
    assert "a newer SU may exist" in check.reason


@pytest.mark.parametrize(
    ("fixed", "unfixed", "cve"),
    [
        ("15.2.792.10", "15.2.792.3", "CVE-2021-26855"),  # ProxyLogon, 2019 CU8 Mar21SU
        ("15.0.1497.12", "15.0.1497.2", "CVE-2021-26855"),  # 2013 CU23 Mar21SU
        ("15.1.2242.8", "15.1.2242.4", "CVE-2021-34473"),  # ProxyShell, 2016 CU20 Apr21SU
        ("15.2.858.12", "15.2.858.10", "CVE-2021-31207"),  # 2019 CU9 May21SU
        ("15.1.2375.37", "15.1.2375.32", "CVE-2022-41040"),  # ProxyNotShell, 2016 CU22 Nov22SU
        ("15.2.1118.20", "15.2.1118.15", "CVE-2022-41082"),  # 2019 CU12 Nov22SU
    ],
)
def test_key_thresholds(tables: ExchangeTables, fixed: str, unfixed: str, cve: str) -> None:
    assert cve not in judge_unpatched(facts(fixed), tables).cves
    assert cve in judge_unpatched(facts(unfixed), tables).cves


def test_lab_2016_cu22_release_build(tables: ExchangeTables) -> None:
    check = judge_unpatched(facts("15.1.2375.7"), tables)
    assert check.verdict is Verdict.AFFECTED
    assert "missing Nov22SU (2022-11-08, 15.1.2375.37)" in check.reason
    assert {"CVE-2022-41040", "CVE-2022-41082", "CVE-2021-42321"} <= set(check.cves)
    assert "CVE-2024-21410" not in check.cves  # Extended Protection: configuration, not build
    assert check.details["config_dependent"] == ["CVE-2024-21410"]
    assert judge_unsupported(facts("15.1.2375.7"), tables).verdict is Verdict.AFFECTED

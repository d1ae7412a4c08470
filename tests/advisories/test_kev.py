"""The shipped KEV snapshot: typed load, lookups exactly as published, unknown vs not listed."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from duecare.advisories.catalog import PACKAGED_DATA_DIR
from duecare.advisories.errors import CatalogError
from duecare.advisories.kev import KEV_FILE, Kev, kev_status, load_kev, load_kev_file, parse_kev, state_kev_path
from tests.advisories.conftest import NOW

KEV_DIR = PACKAGED_DATA_DIR / "kev"


@pytest.fixture(scope="module")
def kev() -> Kev:
    return load_kev_file(KEV_DIR / KEV_FILE)


def test_snapshot_is_the_published_catalog(kev: Kev) -> None:
    assert kev.version == "2026.08.07"
    assert kev.catalog.count == len(kev.catalog.vulnerabilities) == 1662
    assert sum(1 for e in kev.catalog.vulnerabilities if e.known_ransomware_campaign_use == "Known") == 338
    # Entries added since BOD 26-04 cite it in their required action.
    assert any("BOD 26-04" in e.required_action for e in kev.catalog.vulnerabilities)


def test_listed_cve_carries_fields_as_published(kev: Kev) -> None:
    s = kev_status("CVE-2019-0708", kev, NOW)
    assert s.known_exploited is True
    assert (s.kev_date_added, s.kev_due_date) == (date(2021, 11, 3), date(2022, 5, 3))
    assert s.known_ransomware_campaign_use == "Known"


def test_due_date_is_copied_as_published_not_recomputed(kev: Kev) -> None:
    # The 2025 catalog carried ED 21-02's 2021-04-16 here; by 2026.08.07 CISA had republished it.
    s = kev_status("CVE-2021-26855", kev, NOW)
    assert s.kev_due_date == date(2022, 5, 3)
    assert s.kev_date_added == date(2021, 11, 3)


def test_not_listed_is_false_only_while_the_snapshot_is_fresh(kev: Kev) -> None:
    fresh = kev.catalog.date_released + timedelta(days=2)
    s = kev_status("CVE-2019-1181", kev, fresh)
    assert s.known_exploited is False
    assert s.note is not None and "2026.08.07" in s.note


def test_not_listed_in_a_stale_snapshot_is_unknown(kev: Kev) -> None:
    s = kev_status("CVE-2019-1181", kev, NOW)
    assert s.known_exploited is None
    assert s.note is not None and "stale" in s.note
    # A listing stays a fact even when the snapshot is old.
    assert kev_status("CVE-2019-0708", kev, NOW).known_exploited is True


def test_missing_catalog_is_unknown_not_false() -> None:
    s = kev_status("CVE-2019-0708", None, NOW)
    assert s.known_exploited is None
    assert s.note is not None


def test_staleness_warning_uses_the_configured_age(kev: Kev) -> None:
    assert kev.staleness_warning(kev.catalog.date_released + timedelta(days=3)) is None
    assert kev.staleness_warning(kev.catalog.date_released + timedelta(days=3), timedelta(days=2)) is not None
    warning = kev.staleness_warning(NOW)
    assert warning is not None and "2026.08.07" in warning


def _catalog_json(version: str, released: str, extra: dict[str, object] | None = None) -> bytes:
    entry = {
        "cveID": "CVE-2030-12345",
        "vendorProject": "Acme",
        "product": "Widget",
        "vulnerabilityName": "Acme Widget flaw",
        "dateAdded": "2030-01-02",
        "shortDescription": "d",
        "requiredAction": "a",
        "dueDate": "2029-12-30",
        **(extra or {}),
    }
    doc = {"catalogVersion": version, "dateReleased": released, "count": 1, "vulnerabilities": [entry]}
    return json.dumps(doc).encode()


def test_unknown_fields_from_newer_feeds_are_tolerated() -> None:
    kev = parse_kev(_catalog_json("2030.01.02", "2030-01-02T10:00:00Z", {"futureField": "x"}), Path("x"))
    assert kev.by_cve["CVE-2030-12345"].due_date == date(2029, 12, 30)


def test_forensic_triage_is_carried_as_published() -> None:
    kev = parse_kev(_catalog_json("2030.01.02", "2030-01-02T10:00:00Z", {"forensicTriage": "Yes"}), Path("x"))
    s = kev_status("CVE-2030-12345", kev, kev.catalog.date_released)
    assert s.forensic_triage == "Yes" and s.known_exploited is True
    old = parse_kev(_catalog_json("2030.01.02", "2030-01-02T10:00:00Z"), Path("x"))
    assert kev_status("CVE-2030-12345", old, old.catalog.date_released).forensic_triage is None


def test_count_mismatch_is_an_error() -> None:
    raw = json.loads(_catalog_json("v", "2030-01-02T10:00:00Z"))
    raw["count"] = 2
    with pytest.raises(CatalogError, match="count"):
        parse_kev(json.dumps(raw).encode(), Path("feed.json"))


def test_state_copy_is_used_when_newer_and_ignored_when_older(tmp_path: Path) -> None:
    state = state_kev_path(tmp_path)
    state.parent.mkdir(parents=True)
    state.write_bytes(_catalog_json("2030.01.02", "2030-01-02T10:00:00Z"))
    assert load_kev(KEV_DIR, tmp_path) is not None
    assert load_kev(KEV_DIR, tmp_path).version == "2030.01.02"  # type: ignore[union-attr]
    state.write_bytes(_catalog_json("2020.01.01", "2020-01-01T10:00:00Z"))
    assert load_kev(KEV_DIR, tmp_path).version == "2026.08.07"  # type: ignore[union-attr]


def test_no_snapshot_anywhere_is_none(tmp_path: Path) -> None:
    assert load_kev(tmp_path, tmp_path) is None

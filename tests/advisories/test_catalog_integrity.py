"""Every data file loads strictly, every reference resolves, and the catalog is covered."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
from pathlib import Path

import pytest

from duecare.advisories.catalog import PACKAGED_DATA_DIR, Catalog, collect, data_version, load_catalog
from duecare.advisories.integrity import CATALOG_ENTRIES
from duecare.advisories.kev import normalize_name
from duecare.advisories.manage import cannot_check, find_advisory, list_advisories
from duecare.wire import Exposure

#: shared/reference/advisory-catalog.md §5: the exposure ids that decide each observable entry.
OBSERVABLE_ENTRIES: dict[str, set[Exposure]] = {
    "ADV-001": {Exposure.RDP_EXPOSED, Exposure.RDP_NO_NLA, Exposure.RDP_STANDARD_SECURITY},
    "ADV-002": {Exposure.RDP_BLUEKEEP_LIKELY},
    "ADV-003": {Exposure.SMBV1_ENABLED, Exposure.SMB_MS17_010},
    "ADV-004": {Exposure.EXCHANGE_UNPATCHED},
    "ADV-005": {Exposure.EXCHANGE_UNPATCHED},
    "ADV-006": {Exposure.EXCHANGE_UNPATCHED},
    "ADV-007": {Exposure.EXCHANGE_UNSUPPORTED, Exposure.EXCHANGE_UNPATCHED},
    "ADV-009": {Exposure.RMM_TOOL_EXPOSED},
    "ADV-013": {Exposure.SMB_SIGNING_NOT_REQUIRED},
    "ADV-015": {Exposure.SMB_GUEST_ACCESS},
    "ADV-019": {
        Exposure.REDIS_NO_AUTH,
        Exposure.MONGODB_NO_AUTH,
        Exposure.ELASTICSEARCH_NO_AUTH,
        Exposure.MEMCACHED_EXPOSED,
    },
    "ADV-020": {Exposure.SNMP_DEFAULT_COMMUNITY},
    "ADV-021": {Exposure.TELNET_EXPOSED, Exposure.FTP_CLEARTEXT, Exposure.FTP_ANONYMOUS},
    "ADV-022": {Exposure.VNC_NO_AUTH},
    "ADV-024": {Exposure.UPNP_EXPOSED},
    "ADV-025": {Exposure.IPMI_EXPOSED},
    "ADV-026": {Exposure.PRINTER_RAW_EXPOSED},
    "ADV-028": {Exposure.TLS_OBSOLETE_PROTOCOL, Exposure.TLS_CERTIFICATE_EXPIRED},
    "ADV-031": {Exposure.KEV_VERSION_DISCLOSED},
}
#: CVEs the catalog cites as NOT in KEV (Appendix A, 2025-08-25).
NOT_IN_KEV = {"CVE-2013-4786", "CVE-2025-53786"}


def test_every_data_file_loads_and_every_reference_resolves() -> None:
    catalog, problems = collect()
    assert [str(p) for p in problems] == []
    assert load_catalog().version == catalog.version


def test_loader_found_every_file(packaged: Catalog) -> None:
    assert len(packaged.advisories) >= 39
    assert len(packaged.frameworks) >= 6
    assert sum(len(f.requirements) for f in packaged.frameworks.values()) >= 145
    assert set(packaged.profiles) >= {"baseline", "hipaa", "pci", "government"}
    assert len(packaged.rules) >= 25
    assert len(packaged.unobservable) >= 12
    assert packaged.files_loaded >= 39 + 6 + 4 + 25
    assert packaged.exchange is not None
    assert packaged.kev is not None and packaged.kev_version == "2026.08.07"
    assert packaged.table1 is not None and len(packaged.ssvc) >= 65


def test_every_exposure_is_flagged_and_detectable(packaged: Catalog) -> None:
    for exp in Exposure:
        assert packaged.advisories_flagging(exp), exp
    assert packaged.detectable() == set(Exposure)


def test_every_observable_catalog_entry_is_covered(packaged: Catalog) -> None:
    for entry, exposures in OBSERVABLE_ENTRIES.items():
        for exp in exposures:
            sources = [a.id for a in packaged.advisories.values() if entry in a.catalog_entries and exp in a.flags]
            assert sources, f"{entry}: no advisory that cites it flags {exp.value}"


def test_every_catalog_entry_is_observable_or_listed_as_not(packaged: Catalog) -> None:
    unobservable = {u.entry for u in packaged.unobservable}
    assert unobservable.isdisjoint(OBSERVABLE_ENTRIES)
    assert unobservable | set(OBSERVABLE_ENTRIES) == set(CATALOG_ENTRIES)
    for u in packaged.unobservable:
        assert u.what_would_settle_it and u.why
    listed = cannot_check(packaged)
    assert len(listed) == len(packaged.unobservable) + sum(1 for a in packaged.advisories.values() if not a.observable)


def test_advisory_cves_agree_with_kev(packaged: Catalog) -> None:
    assert packaged.kev is not None
    for adv in packaged.advisories.values():
        for cve in adv.cves:
            assert (cve in packaged.kev.by_cve) is (cve not in NOT_IN_KEV), (adv.id, cve)


def _provenance() -> dict[str, dict[str, str]]:
    with (PACKAGED_DATA_DIR / "advisories" / "PROVENANCE.csv").open(newline="") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def test_urls_come_from_the_catalog_sources(packaged: Catalog) -> None:
    """No invented links: an advisory's URL is recorded in PROVENANCE.csv with where it was seen;
    a further link appears in the shipped KEV notes."""
    kev_dir = PACKAGED_DATA_DIR / "kev"
    known = (kev_dir / "known_exploited_vulnerabilities.json").read_text().replace("\\/", "/")
    known += (kev_dir / "known_exploited_vulnerabilities_schema.json").read_text()
    provenance = _provenance()
    assert set(provenance) == set(packaged.advisories)
    for adv in packaged.advisories.values():
        row = provenance[adv.id]
        assert row["official_id"] == adv.official_id and row["published"] == adv.published.isoformat(), adv.id
        assert row["url"] == (adv.url or ""), adv.id
        if adv.url:
            assert row["src_url"].strip(), (adv.id, "no source recorded for its URL")
        else:
            assert any("url" in v for v in adv.verify), (adv.id, "an empty url must say why in verify")
        for link in adv.links:
            assert link.url in known, (adv.id, link.url)


def test_wording_never_claims_compliance(packaged: Catalog) -> None:
    texts = [r.title for f in packaged.frameworks.values() for r in f.requirements]
    texts += [a.title + a.summary + a.remediation for a in packaged.advisories.values()]
    texts += [p.description for p in packaged.profiles.values()]
    for text in texts:
        assert not re.search(r"complian", text, re.IGNORECASE), text


def test_framework_notes_say_relevant_to(packaged: Catalog) -> None:
    for fw in packaged.frameworks.values():
        if fw.id in {"cis-controls-v8", "nist-csf-2.0", "hipaa-security-rule", "pci-dss-4.0"}:
            assert "relevant to" in fw.note.lower(), fw.id


def test_product_aliases_name_real_kev_products(packaged: Catalog) -> None:
    assert packaged.kev is not None
    for alias in packaged.product_aliases.products:
        for product in alias.kev_products:
            assert (normalize_name(alias.vendor_project), normalize_name(product)) in packaged.kev.by_product


def test_kev_snapshot_matches_its_source_note() -> None:
    kev_dir = PACKAGED_DATA_DIR / "kev"
    note = (kev_dir / "SOURCE.md").read_text()
    for name in ("known_exploited_vulnerabilities.json", "known_exploited_vulnerabilities_schema.json"):
        assert hashlib.sha256((kev_dir / name).read_bytes()).hexdigest() in note, name


def test_advisories_found_by_id_or_official_id(packaged: Catalog) -> None:
    assert find_advisory(packaged, "AA22-137A").id == "aa22-137a"
    assert find_advisory(packaged, "ed 21-02").id == "ed-21-02"
    with pytest.raises(KeyError):
        find_advisory(packaged, "AA99-999A")
    assert [a.id for a in list_advisories(packaged)][:2] == ["bod-19-02", "aa19-168a"]  # by publisher, then date


def test_catalog_version_is_a_hash_of_the_data_directory(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(PACKAGED_DATA_DIR, copy)
    assert data_version(copy) == data_version(PACKAGED_DATA_DIR)
    profile = copy / "profiles" / "pci.toml"
    profile.write_text(profile.read_text().replace("critical = 30", "critical = 21"))
    assert data_version(copy) != data_version(PACKAGED_DATA_DIR)
    assert re.fullmatch(r"[0-9a-f]{64}", data_version(copy))

"""ADV-031: disclosed product+version vs KEV — tentative, worded as "verify", never "vulnerable"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.advisories.catalog import Catalog
from duecare.advisories.engine import FactsRecord
from duecare.advisories.kev_versions import (
    WORDING,
    is_disclosed_version,
    match_disclosed_version,
    version_disclosure_findings,
)
from duecare.probes.base import Facts
from duecare.wire import Exposure, PortState, ProbeStatus, Proto, Service, Verdict
from tests.advisories.conftest import NOW


class BannerFacts(Facts):
    """A probe facts model that discloses a product and version (as HTTP/SSH/FTP probes do)."""

    product: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Case:
    product: str
    version: str
    cve: str


@pytest.mark.parametrize(
    "case",
    [
        Case("Apache httpd", "2.4.49", "CVE-2021-41773"),  # alias table
        Case("OpenSSL", "1.0.1f", "CVE-2014-0160"),  # exact KEV product name
        Case("Microsoft IIS httpd", "10.0", "CVE-2017-7269"),
        Case("Redis key-value store", "5.0.7", "CVE-2022-0543"),
        Case("Samba smbd", "4.5.16", "CVE-2017-7494"),
        Case("Exim smtpd", "4.87", "CVE-2019-10149"),
    ],
)
def test_known_products_match(packaged: Catalog, case: Case) -> None:
    m = match_disclosed_version(case.product, case.version, packaged.kev, packaged.product_aliases)
    assert m is not None
    assert case.cve in {e.cve_id for e in m.entries}


@pytest.mark.parametrize(
    ("product", "version"),
    [
        ("Apache httpd", None),  # no version disclosed
        ("Apache httpd", ""),
        ("Apache httpd", "   "),
        ("Samba smbd", "3.X - 4.X"),  # nmap's wildcard range is not a disclosed version
        ("Apache httpd", "unknown"),
        ("OpenSSH", "8.4p1"),  # not a KEV product
        ("vsftpd", "3.0.3"),
        ("nginx", "1.22.1"),
        ("Microsoft Windows RPC", "10.0"),  # no substring matching onto every Windows entry
        (None, "2.4.49"),
        ("", "2.4.49"),
    ],
)
def test_no_match(packaged: Catalog, product: str | None, version: str | None) -> None:
    assert match_disclosed_version(product, version, packaged.kev, packaged.product_aliases) is None


def test_no_kev_no_match(packaged: Catalog) -> None:
    assert match_disclosed_version("Apache httpd", "2.4.49", None, packaged.product_aliases) is None


@given(
    product=st.one_of(st.text(max_size=60), st.sampled_from(["Apache httpd", "OpenSSL", "Samba smbd"])),
    version=st.one_of(st.none(), st.text(max_size=30), st.from_regex(r"\A[0-9]{1,3}(\.[0-9xX]{1,3}){0,3}\Z")),
)
def test_never_crashes_and_only_matches_real_versions(packaged: Catalog, product: str, version: str | None) -> None:
    m = match_disclosed_version(product, version, packaged.kev, packaged.product_aliases)
    if m is not None:
        assert is_disclosed_version(version)
        assert version is not None and re.match(r"v?[0-9]", version.strip())
        assert not re.search(r"[0-9]\.[xX]\b", version)
        assert m.entries


def _service(port: int, product: str | None, version: str | None, state: PortState = PortState.OPEN) -> Service:
    return Service(port=port, proto=Proto.TCP, state=state, name="x", product=product, version=version)


def test_finding_is_tentative_and_worded_as_verify(packaged: Catalog) -> None:
    ip = ip_address("198.18.0.30")
    findings = version_disclosure_findings(
        [], [(ip, _service(80, "Apache httpd", "2.4.49"))], packaged.kev, packaged.product_aliases, NOW
    )
    assert len(findings) == 1
    f = findings[0]
    assert f.exposure is Exposure.KEV_VERSION_DISCLOSED
    assert f.verdict is Verdict.AFFECTED and f.confidence == "tentative"
    assert f.reason.startswith(WORDING)
    assert "vulnerable" not in (f.title + f.reason).lower()
    assert {"CVE-2021-41773", "CVE-2021-42013"} <= {c.cve for c in f.cves}
    assert all(c.known_exploited for c in f.cves)
    assert f.evidence and f.evidence[0].probe == "nmap"


def test_probe_facts_win_over_nmap_for_the_same_service(packaged: Catalog) -> None:
    ip = ip_address("198.18.0.30")
    rec = FactsRecord(
        probe="http",
        facts_model=BannerFacts,
        ip=ip,
        port=80,
        proto=Proto.TCP,
        status=ProbeStatus.COMPLETED,
        error=None,
        facts=BannerFacts(product="Apache httpd", version="2.4.50"),
    )
    findings = version_disclosure_findings(
        [rec], [(ip, _service(80, "Apache httpd", "2.4.49"))], packaged.kev, packaged.product_aliases, NOW
    )
    assert len(findings) == 1
    assert findings[0].details["version"] == "2.4.50"
    assert findings[0].details["source"] == "probe http"


def test_everything_open_versions_unknown_triggers_no_version_advisory(packaged: Catalog) -> None:
    """The honeypot case: every port open, products guessed, no versions — nothing to say."""
    ip = ip_address("198.18.0.120")
    guesses = ["Apache httpd", "Microsoft IIS httpd", "Samba smbd", "Exim smtpd", "Redis key-value store", "OpenSSL"]
    services = [(ip, _service(p, guesses[p % len(guesses)], None)) for p in range(1, 1025)]
    services += [(ip, _service(2000 + i, g, "3.X - 4.X")) for i, g in enumerate(guesses)]
    records = [
        FactsRecord("http", BannerFacts, ip, 80, Proto.TCP, ProbeStatus.COMPLETED, None, BannerFacts(product=g))
        for g in guesses
    ] + [FactsRecord("http", BannerFacts, ip, 443, Proto.TCP, ProbeStatus.TIMED_OUT, "tarpit", None)]
    assert version_disclosure_findings(records, services, packaged.kev, packaged.product_aliases, NOW) == []


def test_nothing_observed_triggers_nothing(packaged: Catalog) -> None:
    assert version_disclosure_findings([], [], packaged.kev, packaged.product_aliases, NOW) == []
    ip = ip_address("198.18.0.200")
    closed = [(ip, _service(80, "Apache httpd", "2.4.49", PortState.FILTERED))]
    assert version_disclosure_findings([], closed, packaged.kev, packaged.product_aliases, NOW) == []

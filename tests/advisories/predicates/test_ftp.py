"""FTP predicates over facts the probe builds from real vsftpd replies."""

from __future__ import annotations

from pathlib import Path

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import Check, NoParams
from duecare.probes.ftp.facts import FtpFacts
from duecare.probes.ftp.parse import parse_listing
from duecare.wire import ProbeStatus, Verdict
from tests.advisories.predicates.service_rules import judge

REG = default_registry()
LISTING = Path(__file__).parents[2] / "probes" / "ftp" / "fixtures" / "vsftpd_anon_list_data.bin"


def anon_facts() -> FtpFacts:
    entries, total = parse_listing(LISTING.read_bytes())
    return FtpFacts(
        banner="(vsFTPd 3.0.3)",
        product="vsftpd",
        version="3.0.3",
        tls_available=False,
        tls_evidence="feat",
        anonymous_login=True,
        listing_obtained=True,
        listing=entries,
        listing_total=total,
    )


def check(name: str, facts: FtpFacts) -> Check:
    return REG.get(name).fn(facts, NoParams())


def test_anonymous_login_affected_with_listing_details() -> None:
    got = check("ftp.anonymous_login", anon_facts())
    assert got.verdict is Verdict.AFFECTED
    assert got.details["root_entries"] == 3
    assert got.details["world_writable_by_mode"] == ["incoming"]


def test_anonymous_refused_or_unknown() -> None:
    refused = FtpFacts(banner="(vsFTPd 3.0.3)", anonymous_login=False, tls_available=True, tls_evidence="feat")
    assert check("ftp.anonymous_login", refused).verdict is Verdict.NOT_AFFECTED
    busy = FtpFacts(banner="Too many connections")
    assert check("ftp.anonymous_login", busy).verdict is Verdict.INDETERMINATE


def test_cleartext() -> None:
    assert check("ftp.no_tls", anon_facts()).verdict is Verdict.AFFECTED
    tls = FtpFacts(banner="x", tls_available=True, tls_evidence="feat")
    assert check("ftp.no_tls", tls).verdict is Verdict.NOT_AFFECTED
    assert check("ftp.no_tls", FtpFacts(banner="x")).verdict is Verdict.INDETERMINATE


def test_rules_through_the_engine() -> None:
    for exposure in ("ftp-anonymous", "ftp-cleartext"):
        found = judge(exposure, FtpFacts, anon_facts(), ProbeStatus.COMPLETED)
        assert [f.verdict for f in found] == [Verdict.AFFECTED]
        assert found[0].evidence == ()  # the engine attaches the probe's evidence, none given here
        timed_out = judge(exposure, FtpFacts, None, ProbeStatus.TIMED_OUT)
        assert [f.verdict for f in timed_out] == [Verdict.INDETERMINATE]
        clean = FtpFacts(banner="x", anonymous_login=False, tls_available=True, tls_evidence="feat")
        assert judge(exposure, FtpFacts, clean, ProbeStatus.COMPLETED) == []

"""Per-host end-of-life findings from probe facts: Samba and FreeRDP are not end-of-life Windows,
Exchange narrows a shared build to its server release, IIS versions judge product-end-of-life."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path

import pytest

from duecare.advisories.catalog import Catalog
from duecare.advisories.engine import FactsRecord
from duecare.advisories.lifecycle import LifecycleTables, end_of_life_findings
from duecare.advisories.lifecycle.windows import FREERDP_NOTE, SETTLE_KIND
from duecare.probes.base import Facts, evidence
from duecare.probes.exchange.facts import ExchangeFacts
from duecare.probes.ntlm import NtlmInfo, NtlmVersion
from duecare.probes.rdp.facts import RdpFacts
from duecare.probes.smb.facts import SessionOutcome, Smb1Outcome, Smb1SessionSetup, SmbFacts, SmbHostInfo, SmbSession
from duecare.probes.smb.parse import parse_smb1_session_setup
from duecare.wire import Confidence, EvidenceKind, Exposure, Finding, PortState, ProbeStatus, Proto, Service, Verdict

ON = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
IP = ip_address("198.18.0.20")
OS_EOL, PRODUCT_EOL = Exposure.OS_END_OF_LIFE, Exposure.PRODUCT_END_OF_LIFE


@pytest.fixture(scope="module")
def tables(packaged: Catalog) -> LifecycleTables:
    assert packaged.lifecycle is not None
    return packaged.lifecycle


def v(text: str) -> NtlmVersion:
    major, minor, build = (int(p) for p in text.split("."))
    return NtlmVersion(major=major, minor=minor, build=build)


def rdp(version: str) -> FactsRecord:
    facts = RdpFacts(speaks_rdp=True, ntlm=NtlmInfo(negotiate_flags=0, product_version=v(version)))
    return _rec("rdp", facts, 3389)


def smb(version: str, os_name: str | None = None) -> FactsRecord:
    shown = os_name or "Windows {} Build {}".format(*version.rsplit(".", 1))
    session = SmbSession(user="", outcome=SessionOutcome.DENIED)
    facts = SmbFacts(
        smb1_outcome=Smb1Outcome.NOT_TRIED,
        host=SmbHostInfo(netbios_name="HOST", os=shown, os_version=v(version)),
        anonymous=session,
        guest=session,
    )
    return _rec("smb", facts, 445)


def exchange(
    version: str | None, server_header: str | None = "Microsoft-IIS/10.0", detected: bool = True
) -> FactsRecord:
    ntlm = None if version is None else NtlmInfo(negotiate_flags=0, product_version=v(version))
    facts = ExchangeFacts(
        observed_on=ON.date(), scheme="https", exchange_detected=detected, ntlm=ntlm, server_header=server_header
    )
    return _rec("exchange", facts, 443)


def _rec(probe: str, facts: Facts, port: int) -> FactsRecord:
    return FactsRecord(probe, type(facts), IP, port, Proto.TCP, ProbeStatus.COMPLETED, None, facts)


def judge(
    tables: LifecycleTables, *recs: FactsRecord, services: list[Service] | None = None, on: datetime = ON
) -> list[Finding]:
    return end_of_life_findings(recs, [(IP, s) for s in services or []], tables, on)


def only(findings: list[Finding], exposure: Exposure = OS_EOL) -> Finding:
    assert [f.exposure for f in findings] == [exposure], [f.reason for f in findings]
    return findings[0]


def test_windows_7_over_smb_is_end_of_life(tables: LifecycleTables) -> None:
    f = only(judge(tables, smb("6.1.7601")))
    assert (f.verdict, f.confidence, f.port) == (Verdict.AFFECTED, Confidence.FIRM, 445)
    assert f.details["sources"] == [{"probe": "smb", "port": 445, "version": "6.1.7601"}]
    assert "Windows 7 SP1" in f.reason and "Windows Server 2008 R2 SP1" in f.reason


def test_samba_announcing_6_1_0_is_not_windows(tables: LifecycleTables) -> None:
    """The lab's samba 4.17 hosts announce 'Windows 6.1 Build 0' (samba's fixed NTLM VERSION)."""
    assert judge(tables, smb("6.1.0")) == []


def test_freerdp_6_1_7601_over_rdp_alone_is_never_a_firm_claim(tables: LifecycleTables) -> None:
    f = only(judge(tables, rdp("6.1.7601")))
    assert (f.verdict, f.confidence) == (Verdict.INDETERMINATE, Confidence.TENTATIVE)
    assert FREERDP_NOTE in f.reason and f.details["settle"] == [FREERDP_NOTE]
    assert f.evidence == ()


def test_freerdp_on_a_samba_host_stays_indeterminate_and_says_samba(tables: LifecycleTables) -> None:
    f = only(judge(tables, smb("6.1.0"), rdp("6.1.7601")))
    assert f.verdict is Verdict.INDETERMINATE and "runs Samba" in f.reason


def test_freerdp_next_to_an_smb1_unix_native_os(tables: LifecycleTables) -> None:
    """Older Samba over SMB1 names itself in NativeOS ("Unix"); the RDP 6.1.7601 stays an open question."""
    smb1 = smb("6.1.0", "Unix")
    f = only(judge(tables, smb1, rdp("6.1.7601")))
    assert f.verdict is Verdict.INDETERMINATE and "SMB NativeOS 'Unix' is not Windows" in f.reason


def test_rdp_and_smb_agreeing_on_7601_settle_it(tables: LifecycleTables) -> None:
    f = only(judge(tables, rdp("6.1.7601"), smb("6.1.7601")))
    assert (f.verdict, f.confidence, f.port) == (Verdict.AFFECTED, Confidence.FIRM, 445)
    assert [s["probe"] for s in f.details["sources"]] == ["smb", "rdp"]  # type: ignore[index,union-attr]


def test_other_rdp_builds_are_judged_from_rdp_alone(tables: LifecycleTables) -> None:
    f = only(judge(tables, rdp("6.3.9600")))
    assert (f.verdict, f.confidence, f.port) == (Verdict.AFFECTED, Confidence.FIRM, 3389)


def test_exchange_on_the_host_makes_14393_server_2016(tables: LifecycleTables) -> None:
    """The lab's OWA hosts announce 10.0.14393: with Exchange there it is Server 2016, supported to 2027-01-12."""
    assert judge(tables, exchange("10.0.14393")) == []
    later = only(judge(tables, exchange("10.0.14393"), on=datetime(2027, 1, 13, tzinfo=UTC)))
    # Server 2016 has paid ESU for up to three years after its end: ended, but it may be covered.
    assert (later.verdict, later.confidence, later.port) == (Verdict.AFFECTED, Confidence.TENTATIVE, 443)
    assert "Windows Server 2016" in later.reason and "Windows 10 version" not in later.reason
    assert later.details["narrowed_by"] == ["Exchange runs only on Windows Server (Exchange answered on 443/tcp)"]
    past_esu = only(judge(tables, exchange("10.0.14393"), on=datetime(2030, 1, 9, tzinfo=UTC)))
    assert (past_esu.verdict, past_esu.confidence) == (Verdict.AFFECTED, Confidence.FIRM)


def test_14393_without_a_server_role_is_indeterminate(tables: LifecycleTables) -> None:
    f = only(judge(tables, rdp("10.0.14393")))
    assert f.verdict is Verdict.INDETERMINATE and SETTLE_KIND in f.reason


def test_smb1_native_os_narrows_to_the_product(tables: LifecycleTables) -> None:
    server = judge(tables, smb("10.0.17763", "Windows Server 2019 Standard 17763"))
    assert server == []
    client = only(judge(tables, smb("10.0.17763", "Windows 10 Pro 17763")))
    assert (client.verdict, client.confidence) == (Verdict.AFFECTED, Confidence.FIRM)
    ltsc = judge(tables, smb("10.0.17763", "Windows 10 Enterprise LTSC 2019 17763"))
    assert ltsc == []


def test_probes_that_disagree_leave_it_open(tables: LifecycleTables) -> None:
    f = only(judge(tables, smb("6.1.7601"), rdp("10.0.20348")))
    assert f.verdict is Verdict.INDETERMINATE and "different Windows versions" in f.reason


def test_iis_8_5_alone_is_product_end_of_life(tables: LifecycleTables) -> None:
    f = only(judge(tables, exchange(None, "Microsoft-IIS/8.5")), PRODUCT_EOL)
    assert (f.verdict, f.port) == (Verdict.AFFECTED, 443)
    assert f.details["product"] == "Microsoft IIS" and f.details["version"] == "8.5"
    assert "Windows Server 2012 R2" in f.reason


def test_iis_from_nmap(tables: LifecycleTables) -> None:
    svc = Service(port=80, proto=Proto.TCP, state=PortState.OPEN, product="Microsoft IIS httpd", version="7.5")
    f = only(judge(tables, services=[svc]), PRODUCT_EOL)
    assert (f.verdict, f.confidence, f.port) == (Verdict.AFFECTED, Confidence.FIRM, 80)
    assert f.evidence and f.evidence[0].probe == "nmap"


def test_iis_10_says_nothing_alone(tables: LifecycleTables) -> None:
    svc = Service(port=80, proto=Proto.TCP, state=PortState.OPEN, product="Microsoft IIS httpd", version="10.0")
    assert judge(tables, services=[svc]) == []


def test_iis_defers_to_the_ntlm_build(tables: LifecycleTables) -> None:
    """One finding per host for its OS: the IIS version adds no second finding when NTLM names the build."""
    f = only(judge(tables, exchange("6.3.9600", "Microsoft-IIS/8.5")))
    assert f.verdict is Verdict.AFFECTED


def test_affected_findings_carry_every_source_evidence(tables: LifecycleTables) -> None:
    ev = evidence("smb", EvidenceKind.BANNER, "NTLM CHALLENGE: Windows 6.1.7601")
    rec = smb("6.1.7601")
    with_ev = FactsRecord(rec.probe, rec.facts_model, rec.ip, rec.port, rec.proto, rec.status, None, rec.facts, (ev,))
    f = only(judge(tables, with_ev, rdp("6.1.7601")))
    assert f.verdict is Verdict.AFFECTED and f.evidence == (ev,)
    open_question = only(
        judge(
            tables,
            FactsRecord(
                "rdp", RdpFacts, IP, 3389, Proto.TCP, ProbeStatus.COMPLETED, None, rdp("10.0.14393").facts, (ev,)
            ),
        )
    )
    assert open_question.verdict is Verdict.INDETERMINATE and open_question.evidence == ()


def test_failed_probes_give_nothing(tables: LifecycleTables) -> None:
    rec = rdp("6.3.9600")
    failed = FactsRecord(rec.probe, rec.facts_model, rec.ip, rec.port, rec.proto, ProbeStatus.TIMED_OUT, "t", None)
    assert judge(tables, failed) == []


# ── SMB1 SESSION_SETUP_ANDX (real replies: the lab's Samba, and Windows XP from a public capture) ──

_SMB_FIXTURES = Path(__file__).parents[2] / "probes" / "smb" / "fixtures"
_PUBLIC_FIXTURES = Path(__file__).parents[2] / "probes" / "public" / "fixtures"


def smb1_setup(setup: Smb1SessionSetup) -> FactsRecord:
    session = SmbSession(user="", outcome=SessionOutcome.DENIED)
    facts = SmbFacts(smb1_outcome=Smb1Outcome.ACCEPTED, smb1_session_setup=setup, anonymous=session, guest=session)
    return _rec("smb", facts, 445)


def _setup(path: Path) -> Smb1SessionSetup:
    return parse_smb1_session_setup(path.read_bytes()[4:])


def test_windows_xp_over_smb1_only_is_end_of_life(tables: LifecycleTables) -> None:
    """No SMB2 session: the version comes from the CHALLENGE in the SMB1 session setup reply."""
    xp = _setup(_PUBLIC_FIXTURES / "smb1_setup_winxp_challenge.bin")
    assert (xp.native_os, str(xp.os_version)) == ("Windows 5.1", "5.1.2600")
    f = only(judge(tables, smb1_setup(xp)))
    assert (f.verdict, f.confidence, f.port) == (Verdict.AFFECTED, Confidence.FIRM, 445)
    assert "Windows XP" in f.reason
    assert f.details["sources"] == [{"probe": "smb", "port": 445, "version": "5.1.2600"}]


def test_samba_smb1_native_os_does_not_narrow_a_windows_build(tables: LifecycleTables) -> None:
    """Samba's SMB1 NativeOS is "Windows 6.1": its NativeLanMan ("Samba …") keeps it from posing as a
    Windows client, so a 10.0.14393 seen over RDP on the same address stays client-or-server."""
    samba = _setup(_SMB_FIXTURES / "samba417_nt1_smb1_session_setup.bin")
    assert (samba.native_os, samba.native_lanman) == ("Windows 6.1", "Samba 4.17.12-Debian")
    assert judge(tables, smb1_setup(samba)) == []  # 6.1 build 0: not Windows at all
    f = only(judge(tables, smb1_setup(samba), rdp("10.0.14393")))
    assert f.verdict is Verdict.INDETERMINATE and SETTLE_KIND in f.reason
    # The same string from a Windows LAN Manager does narrow it (to a client: 1607 and LTSB 2016).
    windows = samba.model_copy(update={"native_lanman": "Windows 2000 LAN Manager", "os_version": None})
    g = only(judge(tables, smb1_setup(windows), rdp("10.0.14393")))
    assert SETTLE_KIND not in g.reason and "Windows Server 2016" not in g.reason

"""Per advisory, through every exposure it flags: a positive and a negative facts case run through
the real rule files, the engine and ``apply_profile``.

Facts are built the way the probes build them, reusing the predicate tests' builders over captured
bytes (Samba negotiate replies, nginx certificates, NTLM challenges) where those exist.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_address

import pytest

from duecare.advisories.catalog import Catalog
from duecare.advisories.engine import FactsRecord, evaluate
from duecare.advisories.kev_versions import version_disclosure_findings
from duecare.advisories.lifecycle import end_of_life_findings
from duecare.advisories.obligations import apply_profile
from duecare.probes.base import Facts
from duecare.probes.elasticsearch.facts import ElasticsearchFacts
from duecare.probes.ftp.facts import FtpFacts
from duecare.probes.ipmi.facts import IpmiFacts
from duecare.probes.memcached.facts import MemcachedFacts
from duecare.probes.mongodb.facts import MongodbFacts
from duecare.probes.ntlm import NtlmInfo, NtlmVersion
from duecare.probes.printer.facts import PrinterFacts
from duecare.probes.rdp.facts import RdpFacts
from duecare.probes.redis.facts import RedisFacts
from duecare.probes.rmm.facts import RmmFacts, RmmMatch
from duecare.probes.smb.facts import Ms17010Facts, Ms17010Outcome
from duecare.probes.snmp.facts import CommunityAnswer, SnmpFacts
from duecare.probes.telnet.facts import TelnetFacts
from duecare.probes.upnp.facts import IgdFacts, PortMapping, SsdpResponse, UpnpFacts
from duecare.probes.vnc.facts import VncFacts
from duecare.wire import (
    Exposure,
    Finding,
    ObligationStatus,
    PortState,
    ProbeStatus,
    Proto,
    Service,
    Severity,
    Vantage,
    Verdict,
)
from tests.advisories.conftest import NOW
from tests.advisories.predicates import test_exchange, test_rdp, test_smb, test_tls

Case = tuple[Callable[[], Facts], Callable[[], Facts]]
_TLS = test_tls._facts
_RDP = test_rdp.facts

#: exposure → (positive, negative) facts. Ports are irrelevant to the rules; one per record.
CASES: dict[Exposure, Case] = {
    Exposure.RDP_EXPOSED: (lambda: _RDP(test_rdp.NLA_ONLY), lambda: _RDP([]).model_copy(update={"speaks_rdp": False})),
    Exposure.RDP_NO_NLA: (lambda: _RDP(test_rdp.OPEN_WIN7), lambda: _RDP(test_rdp.NLA_ONLY)),
    Exposure.RDP_STANDARD_SECURITY: (lambda: _RDP(test_rdp.XRDP_RDP), lambda: _RDP(test_rdp.XRDP_TLS_LIKE)),
    Exposure.RDP_BLUEKEEP_LIKELY: (
        lambda: _RDP(test_rdp.OPEN_WIN7, version=(6, 1, 7601)),
        lambda: _RDP(test_rdp.NLA_ONLY, version=(10, 0, 17763)),
    ),
    Exposure.SMBV1_ENABLED: (lambda: test_smb.OPEN_SAMBA, lambda: test_smb.LOCKED_SAMBA),
    Exposure.SMB_SIGNING_NOT_REQUIRED: (lambda: test_smb.OPEN_SAMBA, lambda: test_smb.LOCKED_SAMBA),
    Exposure.SMB_GUEST_ACCESS: (lambda: test_smb.OPEN_SAMBA, lambda: test_smb.LOCKED_SAMBA),
    Exposure.SMB_MS17_010: (
        lambda: Ms17010Facts(outcome=Ms17010Outcome.VULNERABLE, nt_status=0xC0000205),
        lambda: Ms17010Facts(outcome=Ms17010Outcome.PATCHED, nt_status=0xC0000022),
    ),
    # Lab hosts .30 (Exchange 2016 CU22, old SU) and a host that is not Exchange at all.
    Exposure.EXCHANGE_UNPATCHED: (
        lambda: test_exchange.facts("15.1.2375.7"),
        lambda: test_exchange.facts(None, detected=False),
    ),
    Exposure.EXCHANGE_UNSUPPORTED: (
        lambda: test_exchange.facts("15.1.2375.7"),
        lambda: test_exchange.facts(None, detected=False),
    ),
    Exposure.FTP_ANONYMOUS: (
        lambda: FtpFacts(banner="220 (vsFTPd 3.0.3)", anonymous_login=True, tls_available=False),
        lambda: FtpFacts(banner="220 (vsFTPd 3.0.3)", anonymous_login=False, tls_available=True),
    ),
    Exposure.FTP_CLEARTEXT: (
        lambda: FtpFacts(banner="220 (vsFTPd 3.0.3)", tls_available=False, tls_evidence="feat"),
        lambda: FtpFacts(banner="220 (vsFTPd 3.0.3)", tls_available=True, tls_evidence="feat"),
    ),
    Exposure.TELNET_EXPOSED: (
        lambda: TelnetFacts(speaks_telnet=True, login_prompt=True, banner="Debian GNU/Linux 12\r\nlogin: "),
        lambda: TelnetFacts(speaks_telnet=False),
    ),
    Exposure.SNMP_DEFAULT_COMMUNITY: (
        lambda: SnmpFacts(
            tried=(("v2c", "public"),),
            accepted=(CommunityAnswer(version="v2c", community="public", sys_descr="Linux"),),
        ),
        lambda: SnmpFacts(tried=(("v2c", "public"),), v3_answered=True),
    ),
    Exposure.REDIS_NO_AUTH: (
        lambda: RedisFacts(ping_reply="+PONG", auth_required=False, product="redis", version="7.0.15"),
        lambda: RedisFacts(ping_reply="-NOAUTH Authentication required.", auth_required=True),
    ),
    Exposure.MONGODB_NO_AUTH: (
        lambda: MongodbFacts(wire="op_msg", handshake="hello", auth_enforced=False, database_count=3),
        lambda: MongodbFacts(wire="op_msg", handshake="hello", auth_enforced=True),
    ),
    Exposure.ELASTICSEARCH_NO_AUTH: (
        lambda: ElasticsearchFacts(scheme="http", status=200, auth_enforced=False, version="7.17.0"),
        lambda: ElasticsearchFacts(scheme="https", status=401, auth_enforced=True),
    ),
    Exposure.MEMCACHED_EXPOSED: (
        lambda: MemcachedFacts(stats_exposed=True, version="1.6.18"),
        lambda: MemcachedFacts(stats_exposed=False, refusal="ERROR"),
    ),
    Exposure.VNC_NO_AUTH: (
        lambda: VncFacts(server_version="RFB 003.008", protocol="3.8", security_types=(1,)),
        lambda: VncFacts(server_version="RFB 003.008", protocol="3.8", security_types=(2,)),
    ),
    Exposure.TLS_OBSOLETE_PROTOCOL: (lambda: _TLS(test_tls.OLD_ON), lambda: _TLS(test_tls.OLD_OFF, cert="modern")),
    Exposure.TLS_CERTIFICATE_EXPIRED: (lambda: _TLS(test_tls.OLD_OFF), lambda: _TLS(test_tls.OLD_OFF, cert="modern")),
    Exposure.UPNP_EXPOSED: (
        lambda: UpnpFacts(responses=(SsdpResponse(server="Linux UPnP/1.0 MiniUPnPd/2.3", st="upnp:rootdevice"),)),
        lambda: UpnpFacts(responses=()),
    ),
    Exposure.UPNP_IGD_PORT_MAPPINGS: (
        lambda: UpnpFacts(
            responses=(SsdpResponse(st="urn:schemas-upnp-org:device:InternetGatewayDevice:2"),),
            internet_gateway=True,
            igd=IgdFacts(
                service_type="urn:schemas-upnp-org:service:WANIPConnection:2",
                control_url="http://198.18.0.1:5000/ctl/IPConn",
                external_ip="203.0.113.1",
                mappings=(
                    PortMapping(protocol="tcp", external_port=5900, internal_client="198.18.0.80", internal_port=5900),
                ),
                complete=True,
            ),
        ),
        lambda: UpnpFacts(
            responses=(SsdpResponse(st="urn:schemas-upnp-org:device:InternetGatewayDevice:2"),),
            internet_gateway=True,
            igd=IgdFacts(
                service_type="urn:schemas-upnp-org:service:WANIPConnection:2",
                control_url="http://198.18.0.1:5000/ctl/IPConn",
                external_ip="203.0.113.1",
                complete=True,
            ),
        ),
    ),
    Exposure.IPMI_EXPOSED: (
        lambda: IpmiFacts(source="channel-auth-capabilities", version="2.0", auth_types=("md5", "password")),
        lambda: IpmiFacts(source="asf-presence-pong", ipmi_supported=False),
    ),
    Exposure.PRINTER_RAW_EXPOSED: (
        lambda: PrinterFacts(service="jetdirect", raw_port_open=True, pjl_answered=True, pjl_id="HP LaserJet 4250"),
        lambda: PrinterFacts(service="ipp", ipp_http_status=200),
    ),
    Exposure.RMM_TOOL_EXPOSED: (
        lambda: RmmFacts(matches=(RmmMatch(product="AnyDesk", confidence="firm", basis="banner"),)),
        lambda: RmmFacts(banner="SSH-2.0-OpenSSH_9.2p1"),
    ),
}


#: Exchange advisories are attached by missing CVE, so each gets a build that lacks one of its fixes:
#: ProxyLogon (March 2021), ProxyShell (April/May 2021), ProxyNotShell (November 2022).
EXCHANGE_BUILD = {
    "ed-21-02": "15.2.792.3",  # Exchange 2019 CU8, before the March 2021 SU
    "aa21-062a": "15.2.792.3",
    "aa22-117a": "15.2.792.3",
    "proxyshell-alert-2021-08-21": "15.1.2242.4",  # Exchange 2016 CU20 release, before April 2021
    "aa21-321a": "15.1.2242.4",
    "aa23-215a": "15.1.2242.4",
}


def _findings(catalog: Catalog, exposure: Exposure, facts: Facts) -> list[Finding]:
    ip = ip_address("198.18.0.50")
    if exposure is Exposure.KEV_VERSION_DISCLOSED:
        return []
    rules = [(r, b) for r, b in catalog.rules if r.id is exposure]
    assert rules, f"no rule file for {exposure.value}"
    rec = FactsRecord("case", type(facts), ip, 1, Proto.TCP, ProbeStatus.COMPLETED, None, facts)
    return [f for f in evaluate(rules, [rec]) if f.exposure is exposure]


def _kev_findings(catalog: Catalog, product: str, version: str) -> list[Finding]:
    svc = Service(port=80, proto=Proto.TCP, state=PortState.OPEN, product=product, version=version)
    services = [(ip_address("198.18.0.30"), svc)]
    return version_disclosure_findings([], services, catalog.kev, catalog.product_aliases, NOW)


#: Per-host built-in rules (lifecycle table), judged over whole hosts rather than rule files.
BUILT_IN = {Exposure.KEV_VERSION_DISCLOSED, Exposure.OS_END_OF_LIFE, Exposure.PRODUCT_END_OF_LIFE}


def _eol_findings(catalog: Catalog, exposure: Exposure, positive: bool) -> list[Finding]:
    """Windows 8.1 / 2012 R2 (6.3.9600) over RDP, or IIS 8.5 from nmap; negatives: Server 2022, IIS 10.0."""
    assert catalog.lifecycle is not None
    ip = ip_address("198.18.0.10")
    if exposure is Exposure.OS_END_OF_LIFE:
        build = NtlmVersion(major=6, minor=3, build=9600) if positive else NtlmVersion(major=10, minor=0, build=20348)
        facts = RdpFacts(speaks_rdp=True, ntlm=NtlmInfo(negotiate_flags=0, product_version=build))
        rec = FactsRecord("rdp", RdpFacts, ip, 3389, Proto.TCP, ProbeStatus.COMPLETED, None, facts)
        found = end_of_life_findings([rec], [], catalog.lifecycle, NOW)
    else:
        svc = Service(
            port=80,
            proto=Proto.TCP,
            state=PortState.OPEN,
            product="Microsoft IIS httpd",
            version="8.5" if positive else "10.0",
        )
        found = end_of_life_findings([], [(ip, svc)], catalog.lifecycle, NOW)
    return [f for f in found if f.exposure is exposure]


def _pairs() -> list[tuple[str, Exposure]]:
    from duecare.advisories.catalog import collect

    catalog = collect()[0]
    return [(a.id, e) for a in sorted(catalog.advisories.values(), key=lambda a: a.id) for e in a.flags]


def test_every_exposure_has_a_case() -> None:
    assert set(CASES) | BUILT_IN == set(Exposure)


@pytest.mark.parametrize(("advisory_id", "exposure"), _pairs())
def test_positive_and_negative(packaged: Catalog, advisory_id: str, exposure: Exposure) -> None:
    if exposure is Exposure.KEV_VERSION_DISCLOSED:
        positive = _kev_findings(packaged, "Apache httpd", "2.4.49")
        negative = _kev_findings(packaged, "OpenSSH", "9.2p1")
    elif exposure in BUILT_IN:
        positive, negative = _eol_findings(packaged, exposure, True), _eol_findings(packaged, exposure, False)
    else:
        make_pos, make_neg = CASES[exposure]
        pos_facts = make_pos()
        if exposure is Exposure.EXCHANGE_UNPATCHED and advisory_id in EXCHANGE_BUILD:
            pos_facts = test_exchange.facts(EXCHANGE_BUILD[advisory_id])
        positive, negative = _findings(packaged, exposure, pos_facts), _findings(packaged, exposure, make_neg())
    assert [f.verdict for f in positive] == [Verdict.AFFECTED]
    assert all(f.verdict is not Verdict.AFFECTED for f in negative)

    adv = packaged.advisories[advisory_id]
    # A revoked directive is judged on a day it was in force (a report cites its own period's directive).
    now = NOW if adv.revoked_on is None else NOW.replace(year=2026, month=6, day=9)
    (found,), summary = apply_profile(positive, packaged, "government", now)
    assert advisory_id in {a.id for a in found.advisories}
    assert all(a.published is not None for a in found.advisories)
    # A deadline runs from the clock start (no earlier published date is ever a deadline under it).
    assert found.deadline is None or found.deadline >= now.date()
    if found.severity.rank >= Severity.HIGH.rank and found.confidence != "tentative":
        assert found.deadline is not None
    baseline = {r.requirement: r for r in summary.results if r.framework == "advisories-baseline"}
    if adv.official_id in baseline:  # Microsoft bulletins are not part of the baseline
        result = baseline[adv.official_id]
        req = packaged.frameworks["advisories-baseline"].requirement(adv.official_id)
        if exposure not in req.exposures:
            # Flagged for context (a bare RDP listener for AA22-137A), but not what breaches it.
            assert result.status is not ObligationStatus.NOT_MET
        elif found.confidence == "tentative":
            assert result.status is ObligationStatus.UNKNOWN
        elif adv.vantage is Vantage.INTERNET:
            # Seen from the LAN only: the advisory needs the internet's view to be decided.
            assert result.status is ObligationStatus.UNKNOWN and "outside view" in result.reason
            outside = found.model_copy(update={"internet_exposed": True})
            (_f,), seen_outside = apply_profile([outside], packaged, "government", now)
            after = next(r for r in seen_outside.results if r.requirement == adv.official_id)
            assert after.status is ObligationStatus.NOT_MET
        else:
            assert result.status is ObligationStatus.NOT_MET
        _, clean = apply_profile(negative, packaged, "government", now)
        after = next(r for r in clean.results if r.requirement == adv.official_id)
        assert after.status is not ObligationStatus.NOT_MET

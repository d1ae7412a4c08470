"""Regenerate the public-capture fixtures and tshark's reading of them (a developer tool, not a test).

    python -m tests.probes.public.extract /path/to/zeek-checkout [--check]

For every entry of ``CAPTURES`` it reads one frame of a public packet capture from the given checkout
of github.com/zeek/zeek (at ``ZEEK_COMMIT``), carves the reply bytes our parsers take, and records
what Wireshark's dissectors (tshark) read in the same frame. Both go into ``expected.json``, next to the
exact tshark command, so every expected value in the tests names the tshark field it came from.
tshark is a fixture-making dependency only (``apt-get install tshark``); the tests never run it.
``--check`` re-derives everything and fails if a committed byte or value differs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
EXPECTED = HERE / "expected.json"
ZEEK_REPO = "zeek/zeek"
ZEEK_COMMIT = "a13de64fbbdb01f90961c04719b308fbbb6d199e"
TRACES = "testing/btest/Traces/"

RDP_CC = ("rdp.neg_type", "rdp.negReq.selectedProtocol", "rdp.negRsp.flags", "rdp.negFailure.failureCode")
RDP_MCS = ("t125.result", "rdp.version.major", "rdp.version.minor", "rdp.encryptionMethod", "rdp.encryptionLevel")
SMB1_NEG = (
    "smb.dialect.index",
    "smb.sm",
    "smb.sm.sigs_enabled",
    "smb.sm.sigs_required",
    "smb.server_cap",
    "smb.server_cap.extended_security",
    "smb.max_bufsize",
    "smb.system.time",
    "smb.wct",
)
SMB2_NEG = (
    "smb2.nt_status",
    "smb2.dialect",
    "smb2.sec_mode",
    "smb2.sec_mode.sign_enabled",
    "smb2.sec_mode.sign_required",
    "smb2.capabilities",
    "smb2.server_guid",
    "smb2.max_trans_size",
    "smb2.max_read_size",
    "smb2.max_write_size",
    "smb2.current_time",
    "smb2.boot_time",
    "smb2.security_blob",
    "smb2.negotiate_context.type",
)
NTLM_CHALLENGE = (
    "ntlmssp.messagetype",
    "ntlmssp.negotiateflags",
    "ntlmssp.challenge.target_name",
    "ntlmssp.version.major",
    "ntlmssp.version.minor",
    "ntlmssp.version.build_number",
    "ntlmssp.version.ntlm_current_revision",
    "ntlmssp.challenge.target_info.nb_computer_name",
    "ntlmssp.challenge.target_info.nb_domain_name",
    "ntlmssp.challenge.target_info.dns_computer_name",
    "ntlmssp.challenge.target_info.dns_domain_name",
    "ntlmssp.challenge.target_info.dns_tree_name",
    "ntlmssp.challenge.target_info.timestamp",
)
TLS_HELLO = (
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extensions.supported_version",
)
X509 = (
    "x509af.version",
    "x509af.serialNumber",
    "x509af.algorithm.id",
    "x509af.utcTime",
    "x509af.generalizedTime",
    "pkcs1.modulus",
    "x509ce.dNSName",
    "x509ce.iPAddress",
)
#: Plus BasicConstraints cA as tshark reads it: these certificates write out its DEFAULT FALSE.
X509_EXPLICIT_DEFAULT = (*X509, "x509ce.cA")
SMB1_SETUP = (
    "smb.nt_status",
    "smb.wct",
    "smb.security_blob_len",
    "smb.bcc",
    "smb.native_os",
    "smb.native_lanman",
    "smb.primary_domain",
)
SNMP = (
    "snmp.version",
    "snmp.msgVersion",
    "snmp.community",
    "snmp.request_id",
    "snmp.error_status",
    "snmp.error_index",
    "snmp.name",
    "snmp.value.octets",
    "snmp.value.oid",
    "snmp.value.int",
    "snmp.value.timeticks",
    "snmp.value.counter",
    "snmp.value.g32",
    "snmp.value.ipv4",
    "snmp.value.null",
    "snmp.noSuchObject",
    "snmp.noSuchInstance",
    "snmp.endOfMibView",
    "snmp.msgID",
    "snmp.msgMaxSize",
    "snmp.msgAuthoritativeEngineID",
    "snmp.msgAuthoritativeEngineBoots",
    "snmp.msgAuthoritativeEngineTime",
    "snmp.msgUserName",
    "snmp.contextEngineID",
)


@dataclass(frozen=True)
class Capture:
    name: str
    pcap: str  # under testing/btest/Traces/
    frame: int
    carve: str  # the tshark field whose bytes become the fixture
    fields: tuple[str, ...]
    what: str
    decode_as: tuple[str, ...] = ()
    #: Only fields inside the first element of this name (X.509: the first certificate of a chain).
    subtree: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


CAPTURES: tuple[Capture, ...] = (
    # RDP — Windows servers answering X.224 Connection Requests and MCS Connect-Initial.
    Capture(
        "rdp_win2008r2_cc_ssl",
        "rdp/rdp-to-ssl.pcap",
        6,
        "tcp.payload",
        RDP_CC,
        "Windows Server 2008 R2 (WIN2K8R2) X.224 Connection Confirm selecting TLS",
    ),
    Capture(
        "rdp_win_cc_failure_ssl_not_allowed",
        "rdp/rdp-proprietary-encryption.pcap",
        5,
        "tcp.payload",
        RDP_CC,
        "Windows RDP server refusing TLS: RDP_NEG_FAILURE SSL_NOT_ALLOWED_BY_SERVER",
    ),
    Capture(
        "rdp_win_cc_standard",
        "rdp/rdp-proprietary-encryption.pcap",
        13,
        "tcp.payload",
        RDP_CC,
        "the same server selecting standard RDP security",
    ),
    Capture(
        "rdp_win_mcs_high",
        "rdp/rdp-proprietary-encryption.pcap",
        15,
        "tcp.payload",
        RDP_MCS,
        "its MCS Connect-Response: 128-bit RC4, level High",
    ),
    Capture(
        "rdp_win7_cc_standard",
        "rdp/rdp-x509.pcap",
        7,
        "tcp.payload",
        RDP_CC,
        "Windows RDP host (client JOHN-PC) selecting standard RDP security",
    ),
    Capture(
        "rdp_win7_mcs_x509",
        "rdp/rdp-x509.pcap",
        13,
        "tcp.reassembled.data",
        RDP_MCS,
        "MCS Connect-Response with an X.509 proprietary chain, Client Compatible level",
    ),
    Capture(
        "rdp_win_cc_hybrid",
        "rdp/rdp-no-cookie-mstshash.pcap",
        9,
        "tcp.payload",
        RDP_CC,
        "Windows RDP server selecting CredSSP (NLA)",
    ),
    # SMB1 / SMB2 / SMB3 NEGOTIATE responses (the 4-byte Direct TCP header is part of the carve).
    Capture(
        "smb1_winxp_negotiate",
        "smb/raw_ntlm_in_smb.pcap",
        17,
        "tcp.payload",
        SMB1_NEG,
        "Windows XP (TEST-F7DFBC3FE9) SMB1 NT LM 0.12 negotiate response",
    ),
    Capture(
        "smb1_lanman_negotiate",
        "smb/cifs_negotiate_lanman.pcap",
        6,
        "tcp.payload",
        SMB1_NEG,
        "an SMB1 server choosing the LANMAN2.1 dialect (no NT LM 0.12 layout)",
    ),
    Capture(
        "smb2_win2008_negotiate_202",
        "smb/smb2.pcap",
        5,
        "tcp.payload",
        SMB2_NEG,
        "Windows Server 2008 (SERVER002.CONTOSO) SMB 2.0.2 negotiate response",
    ),
    Capture(
        "smb3_win2016_negotiate_300",
        "smb/smb3.pcap",
        2,
        "tcp.payload",
        SMB2_NEG,
        "Windows Server 2016 (WS2016) SMB 3.0 negotiate response",
    ),
    Capture(
        "smb3_win2016_negotiate_311",
        "smb/smb311.pcap",
        2,
        "tcp.payload",
        SMB2_NEG,
        "Windows Server 2016 domain controller (AD.FOO) SMB 3.1.1 negotiate response",
    ),
    Capture(
        "smb3_negotiate_wildcard",
        "smb/smb3_negotiate_context.pcap",
        10,
        "tcp.payload",
        SMB2_NEG,
        "Windows answering an SMB1 multi-protocol negotiate with the SMB2 wildcard 0x02FF",
    ),
    Capture(
        "smb3_negotiate_contexts_311",
        "smb/smb3_negotiate_context.pcap",
        13,
        "tcp.payload",
        SMB2_NEG,
        "the same Windows server's SMB 3.1.1 response with negotiate contexts",
    ),
    Capture(
        "smb3_smbghost_negotiate_311",
        "smb/SMBGhost.pcap",
        5,
        "tcp.payload",
        SMB2_NEG,
        "Windows 10 SMB 3.1.1 negotiate response offering compression (CVE-2020-0796 capture)",
    ),
    # SMB1 SESSION_SETUP_ANDX responses: what the server calls its OS (NativeOS) and SMB software.
    Capture(
        "smb1_setup_winxp_challenge",
        "smb/raw_ntlm_in_smb.pcap",
        20,
        "tcp.payload",
        SMB1_SETUP,
        "Windows XP extended-security session setup: MORE_PROCESSING_REQUIRED, NativeOS 'Windows 5.1'",
    ),
    Capture(
        "smb1_setup_winxp_success",
        "smb/raw_ntlm_in_smb.pcap",
        23,
        "tcp.payload",
        SMB1_SETUP,
        "the same Windows XP host's final session setup reply (success, no security blob)",
    ),
    Capture(
        "smb1_setup_samba474_plain",
        "smb/smb1_transaction_request.pcap",
        9,
        "tcp.payload",
        SMB1_SETUP,
        "Samba 4.7.4 non-extended session setup (3 words, OEM strings, primary domain TEST)",
    ),
    # NTLM CHALLENGE messages inside the SMB / DCE-RPC replies that carry them.
    Capture(
        "ntlm_winxp_smb1_challenge",
        "smb/raw_ntlm_in_smb.pcap",
        20,
        "tcp.payload",
        NTLM_CHALLENGE,
        "Windows XP 5.1.2600 raw NTLMSSP CHALLENGE in an SMB1 session setup",
    ),
    Capture(
        "ntlm_win2008_smb2_challenge",
        "smb/smb2.pcap",
        7,
        "tcp.payload",
        NTLM_CHALLENGE,
        "Windows Server 2008 6.0.6001 CHALLENGE in SPNEGO in an SMB2 session setup",
    ),
    Capture(
        "ntlm_win2016_smb3_challenge",
        "smb/smb3.pcap",
        4,
        "tcp.payload",
        NTLM_CHALLENGE,
        "Windows Server 2016 10.0.14393 CHALLENGE (SMB 3.0)",
    ),
    Capture(
        "ntlm_win2016dc_smb311_challenge",
        "smb/smb311.pcap",
        4,
        "tcp.payload",
        NTLM_CHALLENGE,
        "Windows Server 2016 domain controller CHALLENGE (SMB 3.1.1)",
    ),
    Capture(
        "ntlm_win10_dcerpc_challenge",
        "dce-rpc/dce_rpc_ntlm.pcapng",
        5,
        "tcp.payload",
        NTLM_CHALLENGE,
        "Windows 10 1903 (10.0.18362) CHALLENGE in a DCE/RPC bind_ack",
    ),
    # TLS ServerHello and X.509 server certificates.
    Capture(
        "tls_win2008r2_rdp_server_hello",
        "rdp/rdp-to-ssl.pcap",
        9,
        "tcp.payload",
        TLS_HELLO,
        "Windows Server 2008 R2 RDP TLS 1.0 ServerHello flight",
        decode_as=("tcp.port==3389,tls",),
    ),
    Capture(
        "x509_win2008r2_rdp_cert",
        "rdp/rdp-to-ssl.pcap",
        9,
        "tls.handshake.certificate",
        X509,
        "its self-signed RDP certificate (CN=WIN2K8R2.awakecoding.ath.cx, SHA-1, expired 2021)",
        decode_as=("tcp.port==3389,tls",),
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "tls_expired_server_hello",
        "tls/tls-expired-cert.pcap",
        6,
        "tcp.payload",
        TLS_HELLO,
        "TLS 1.0 ServerHello of a server whose certificate has expired",
    ),
    Capture(
        "x509_expired_leaf",
        "tls/tls-expired-cert.pcap",
        7,
        "tls.handshake.certificate",
        X509,
        "that expired leaf certificate",
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "x509_telesec_leaf",
        "tls/telesec.pcap",
        9,
        "tls.handshake.certificate",
        X509,
        "a T-Systems (TeleSec) issued server certificate",
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "x509_generalizedtime_leaf",
        "tls/x509-generalizedtime.pcap",
        6,
        "tls.handshake.certificate",
        X509,
        "a certificate whose validity uses GeneralizedTime",
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "x509_no_cn_leaf",
        "tls/cert-no-cn.pcap",
        6,
        "tls.handshake.certificate",
        X509,
        "a certificate whose subject has no commonName",
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "tls_smtp_starttls_server_hello",
        "tls/smtp-starttls.pcap",
        14,
        "tcp.payload",
        TLS_HELLO,
        "a mail server's ServerHello after STARTTLS",
    ),
    Capture(
        "x509_smtp_starttls_leaf",
        "tls/smtp-starttls.pcap",
        16,
        "tls.handshake.certificate",
        X509,
        "that mail server's certificate",
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "x509_pss_params_cve_2015_3194",
        "tls/CVE-2015-3194.pcap",
        6,
        "tls.handshake.certificate",
        X509,
        "a certificate with RSASSA-PSS parameters missing the mask generation parameters, which strict parsing refuses",
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "x509_explicit_default_ca_cviis",
        "tls/missing-intermediate.pcap",
        6,
        "tls.handshake.certificate",
        X509_EXPLICIT_DEFAULT,
        "www.cviis.org (Starfield G2, 2014): BasicConstraints cA FALSE written out (01 01 00), which DER "
        "forbids and strict parsing refuses",
        subtree="x509af.signedCertificate_element",
    ),
    Capture(
        "x509_explicit_default_ca_jeffbryner",
        "tls/tls-early-alert.pcap",
        10,
        "tls.handshake.certificate",
        X509_EXPLICIT_DEFAULT,
        "www.jeffbryner.com (Starfield/Go Daddy): the same explicit cA FALSE",
        subtree="x509af.signedCertificate_element",
    ),
    # SNMP agents: a printer, a network device, Linux net-snmp, SNMPv3 reports.
    Capture(
        "snmp_v1_oki_b6300_sysobjectid",
        "snmp/snmpv1_get.pcap",
        2,
        "udp.payload",
        SNMP,
        "OKI B6300 printer (enterprise 2001) v1 GetResponse: sysObjectID",
    ),
    Capture(
        "snmp_v1_oki_b6300_sysname",
        "snmp/snmpv1_get.pcap",
        4,
        "udp.payload",
        SNMP,
        "the printer's sysName and sysLocation",
    ),
    Capture(
        "snmp_v1_oki_b6300_xerox_mib",
        "snmp/snmpv1_get.pcap",
        8,
        "udp.payload",
        SNMP,
        "the printer's private-MIB strings and an Integer32",
    ),
    Capture(
        "snmp_v1_printer_host_resources",
        "snmp/snmpv1_get_short.pcap",
        2,
        "udp.payload",
        SNMP,
        "a printer's hrDeviceStatus / hrPrinterStatus (Host Resources MIB)",
    ),
    Capture(
        "snmp_v2c_ifspeed",
        "snmp/snmpv2_get.pcap",
        2,
        "udp.payload",
        SNMP,
        "v2c GetResponse from a network device: ifOutErrors",
    ),
    Capture(
        "snmp_v2c_lldp_device_getnext",
        "snmp/snmpv2_get_next.pcap",
        2,
        "udp.payload",
        SNMP,
        "v2c GetResponse from an LLDP-capable network device",
    ),
    Capture(
        "snmp_v2c_lldp_device_uptime", "snmp/snmpv2_get_next.pcap", 4, "udp.payload", SNMP, "its sysUpTime (TimeTicks)"
    ),
    Capture(
        "snmp_v2c_lldp_device_counter64",
        "snmp/snmpv2_get_next.pcap",
        6,
        "udp.payload",
        SNMP,
        "its ifHCOutOctets (Counter64)",
    ),
    Capture(
        "snmp_v2c_netsnmp_sysdescr",
        "snmp/snmpwalk-short.pcap",
        2,
        "udp.payload",
        SNMP,
        "Linux net-snmp sysDescr (Ubuntu 14.04, kernel 4.4.0)",
    ),
    Capture(
        "snmp_v3_report",
        "snmp/snmpv3_get_next.pcap",
        2,
        "udp.payload",
        SNMP,
        "SNMPv3 Report (usmStatsUnknownEngineIDs) answering engine discovery",
    ),
    Capture(
        "snmp_v3_get_response",
        "snmp/snmpv3_get_next.pcap",
        4,
        "udp.payload",
        SNMP,
        "SNMPv3 noAuthNoPriv GetResponse: sysLocation",
    ),
)


def _tshark(pcap: Path, cap: Capture, *fmt: str) -> str:
    cmd = [
        "tshark",
        "-r",
        str(pcap),
        *(a for d in cap.decode_as for a in ("-d", d)),
        "-Y",
        f"frame.number=={cap.frame}",
        *fmt,
    ]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def command(cap: Capture, fmt: str) -> str:
    decode = "".join(f" -d {shlex.quote(d)}" for d in cap.decode_as)
    return f"tshark -r {cap.pcap.rsplit('/', 1)[-1]}{decode} -Y frame.number=={cap.frame} {fmt}"


def _carve(pcap: Path, cap: Capture) -> bytes:
    out = _tshark(pcap, cap, "-T", "fields", "-E", "occurrence=f", "-e", cap.carve).strip()
    if not out:
        raise SystemExit(f"{cap.name}: tshark gives no {cap.carve} in frame {cap.frame}")
    return bytes.fromhex(out.replace(":", ""))


def _fields(pcap: Path, cap: Capture) -> dict[str, list[str]]:
    root = ET.fromstring(_tshark(pcap, cap, "-T", "pdml"))
    scope = root
    if cap.subtree is not None:
        found = root.find(f".//field[@name='{cap.subtree}']")
        if found is None:
            raise SystemExit(f"{cap.name}: no {cap.subtree} in frame {cap.frame}")
        scope = found
    values: dict[str, list[str]] = {}
    for node in scope.iter("field"):
        name = node.get("name", "")
        if name in cap.fields:
            values.setdefault(name, []).append(node.get("show", ""))
    if cap.subtree is not None:
        values.update(_names(scope))
    return values


def _names(cert: ET.Element) -> dict[str, list[str]]:
    """Subject and issuer as "oid=value" per attribute (x509if.oid + the x509sat string beside it)."""
    out: dict[str, list[str]] = {}
    for which in ("issuer", "subject"):
        node = cert.find(f"field[@name='x509af.{which}']")
        attrs: list[str] = []
        for atv in [] if node is None else node.iter("field"):
            if atv.get("name") != "x509if.RelativeDistinguishedName_item_element":
                continue
            oid = atv.find("field[@name='x509if.oid']")
            strings = [f for f in atv.iter("field") if f.get("name", "").startswith("x509sat.") and not list(f)]
            if oid is not None and strings:
                attrs.append(f"{oid.get('show')}={strings[-1].get('show')}")
        out[f"x509af.{which} (x509if.oid=x509sat.*)"] = attrs
    return out


def build(zeek: Path) -> dict[str, object]:
    entries: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cap in CAPTURES:
            pcap = Path(tmp) / cap.pcap.replace("/", "_")
            pcap.write_bytes(
                subprocess.run(
                    ["git", "-C", str(zeek), "show", f"{ZEEK_COMMIT}:{TRACES}{cap.pcap}"],
                    check=True,
                    capture_output=True,
                ).stdout
            )
            raw = _carve(pcap, cap)
            entries[cap.name] = {
                "what": cap.what,
                "source": {
                    "repository": ZEEK_REPO,
                    "path": TRACES + cap.pcap,
                    "commit": ZEEK_COMMIT,
                    "frame": cap.frame,
                },
                "bytes": f"fixtures/{cap.name}.bin ({cap.carve}, {len(raw)} bytes)",
                "carved_with": command(cap, f"-T fields -E occurrence=f -e {cap.carve}"),
                "tshark_command": command(cap, "-T pdml")
                + (f"  (inside the first {cap.subtree})" if cap.subtree else ""),
                "tshark": _fields(pcap, cap),
                "_raw": raw.hex(),
            }
    return entries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("zeek", type=Path, help="a git checkout (or bare mirror) of github.com/zeek/zeek")
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args()
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True, text=True).stdout.split("\n")[0]
    entries = build(args.zeek)
    doc = {"tshark_version": version, "captures": {}}
    problems = []
    for name, entry in entries.items():
        assert isinstance(entry, dict)
        raw = bytes.fromhex(entry.pop("_raw"))
        path = FIXTURES / f"{name}.bin"
        if args.check:
            if not path.exists() or path.read_bytes() != raw:
                problems.append(f"{path.name} differs from the capture")
        else:
            path.write_bytes(raw)
        doc["captures"][name] = entry  # type: ignore[index]
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if args.check:
        committed = json.loads(EXPECTED.read_text())
        if committed["captures"] != doc["captures"]:
            problems.append("expected.json differs from tshark's reading")
        print("\n".join(problems) or "fixtures and expected.json match the captures")
        return 1 if problems else 0
    EXPECTED.write_text(text)
    print(f"wrote {len(entries)} fixtures and {EXPECTED.name} ({version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

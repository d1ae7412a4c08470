"""Our pure parsers on replies of real Windows, printer, network-device and Linux hosts from public
packet captures, with Wireshark's dissectors (tshark) as the independent reading.

Every expected value comes from ``expected.json``, written by ``extract.py``: each entry names the
capture (repository, path, commit, frame), the tshark command, and the tshark field each value is
read from. Nothing here is typed in by hand, so a disagreement is a parser bug to fix, not a test to
adjust (one such fix: SNMPv3 engine boots/time ``02 01 dd`` is 221, not -35).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes._x509 import _tolerant_facts
from duecare.probes.errors import ProtocolError
from duecare.probes.ntlm import find_challenge, parse_challenge
from duecare.probes.rdp import mcs
from duecare.probes.rdp.parse import TYPE_NEG_FAILURE, TYPE_NEG_RSP, parse_connection_confirm
from duecare.probes.smb.facts import Smb1Negotiation, Smb2Negotiation
from duecare.probes.smb.parse import parse_smb1_negotiate, parse_smb1_session_setup, parse_smb2_negotiate
from duecare.probes.snmp.parse import Message, V3Message, VarBind, decode_message, decode_v3
from duecare.probes.tls.parse import WIRE_VERSIONS, ServerHello, parse_server_flight
from duecare.probes.x509 import CertificateFacts, parse_certificate
from duecare.probes.x509_tolerant import read_certificate

HERE = Path(__file__).parent
CAPTURES: dict[str, dict[str, Any]] = json.loads((HERE / "expected.json").read_text())["captures"]
#: Certificates are judged at a fixed instant, so "expired" does not drift with the calendar.
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def named(prefix: str, contains: str = "") -> list[str]:
    return sorted(n for n in CAPTURES if n.startswith(prefix) and contains in n)


def raw(name: str) -> bytes:
    return (HERE / "fixtures" / f"{name}.bin").read_bytes()


def ts(name: str, tshark_field: str) -> list[str]:
    """Every value tshark showed for ``tshark_field`` in that frame, in order."""
    values: list[str] = CAPTURES[name]["tshark"].get(tshark_field, [])
    return values


def one(name: str, tshark_field: str) -> str:
    values = ts(name, tshark_field)
    assert len(values) == 1, f"{name}: tshark gave {values!r} for {tshark_field}"
    return values[0]


def num(text: str) -> int:
    return int(text, 0)


def ts_time(text: str) -> datetime | None:
    """tshark's absolute time ("Dec  6, 2011 20:18:15.380156000 UTC"), cut to microseconds."""
    head, _, frac = text.removesuffix(" UTC").partition(".")
    when = datetime.strptime(" ".join(head.split()), "%b %d, %Y %H:%M:%S").replace(tzinfo=UTC)
    when = when.replace(microsecond=int((frac or "0")[:6].ljust(6, "0")))
    return None if when == datetime(1970, 1, 1, tzinfo=UTC) else when  # tshark's rendering of 0


def ts_hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def test_every_acceptance_protocol_has_real_captures() -> None:
    for prefix in ("rdp_", "smb1_", "smb2_", "smb3_", "ntlm_", "tls_", "x509_", "snmp_v1_", "snmp_v2c_", "snmp_v3_"):
        assert named(prefix), prefix
    for name, entry in CAPTURES.items():
        assert entry["source"]["commit"] and entry["tshark_command"].startswith("tshark -r ")
        assert raw(name), name


# ── RDP ───────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", named("rdp_", "_cc_"))
def test_rdp_connection_confirm(name: str) -> None:
    cc = parse_connection_confirm(raw(name))
    assert cc.neg is not None
    kind, flags, value = cc.neg
    assert kind == num(one(name, "rdp.neg_type"))
    if kind == TYPE_NEG_RSP:
        # tshark files the response's selectedProtocol under the request's field name
        assert value == num(one(name, "rdp.negReq.selectedProtocol"))
        assert flags == num(one(name, "rdp.negRsp.flags"))
    else:
        assert kind == TYPE_NEG_FAILURE
        assert value == num(one(name, "rdp.negFailure.failureCode"))


@pytest.mark.parametrize("name", named("rdp_", "_mcs_"))
def test_rdp_mcs_connect_response(name: str) -> None:
    sec = mcs.parse_connect_response(raw(name))
    assert num(one(name, "t125.result")) == 0
    version = num(one(name, "rdp.version.major")) | num(one(name, "rdp.version.minor")) << 16
    assert sec.server_version == mcs._VERSIONS[version]
    assert sec.encryption_method == mcs.METHODS[num(one(name, "rdp.encryptionMethod"))]
    assert sec.encryption_level == mcs.LEVELS[num(one(name, "rdp.encryptionLevel"))]


# ── SMB ───────────────────────────────────────────────────────────────────────────────────────


def test_smb1_negotiate_windows_xp() -> None:
    name = "smb1_winxp_negotiate"
    neg = parse_smb1_negotiate(raw(name)[4:])
    assert isinstance(neg, Smb1Negotiation)
    got = neg.model_dump()
    assert got["dialect_index"] == num(one(name, "smb.dialect.index"))
    assert got["security_mode"] == num(one(name, "smb.sm"))
    assert got["signing_enabled"] is bool(num(one(name, "smb.sm")) & 0x04)
    assert got["signing_required"] is bool(num(one(name, "smb.sm")) & 0x08)
    assert got["capabilities"] == num(one(name, "smb.server_cap"))
    assert got["extended_security"] is bool(num(one(name, "smb.server_cap.extended_security")))
    assert got["max_buffer_size"] == num(one(name, "smb.max_bufsize"))
    assert got["system_time"] == ts_time(one(name, "smb.system.time"))


def test_smb1_lanman_answer_is_a_clear_protocol_error() -> None:
    """tshark: dialect 3 (LANMAN2.1), 13 words. We offer only NT LM 0.12, so this answer is not ours."""
    name = "smb1_lanman_negotiate"
    assert num(one(name, "smb.dialect.index")) == 3 and num(one(name, "smb.wct")) == 13
    with pytest.raises(ProtocolError, match="dialect 3"):
        parse_smb1_negotiate(raw(name)[4:])


@pytest.mark.parametrize("name", named("smb2_") + named("smb3_"))
def test_smb2_negotiate(name: str) -> None:
    neg = parse_smb2_negotiate(raw(name)[4:])
    assert num(one(name, "smb2.nt_status")) == 0
    assert isinstance(neg, Smb2Negotiation)
    got = neg.model_dump()
    assert got["dialect"] == num(one(name, "smb2.dialect"))
    mode = num(one(name, "smb2.sec_mode"))
    assert got["security_mode"] == mode
    assert got["signing_enabled"] is bool(num(one(name, "smb2.sec_mode.sign_enabled")))
    assert got["signing_required"] is bool(num(one(name, "smb2.sec_mode.sign_required")))
    assert got["capabilities"] == num(one(name, "smb2.capabilities"))
    assert got["server_guid"] == uuid.UUID(one(name, "smb2.server_guid")).bytes_le.hex()
    assert got["max_transact_size"] == num(one(name, "smb2.max_trans_size"))
    assert got["max_read_size"] == num(one(name, "smb2.max_read_size"))
    assert got["max_write_size"] == num(one(name, "smb2.max_write_size"))
    assert got["system_time"] == ts_time(one(name, "smb2.current_time"))
    assert got["server_start_time"] == ts_time(one(name, "smb2.boot_time"))
    assert got["security_blob_length"] == len(ts_hex(one(name, "smb2.security_blob")))
    assert got["negotiate_context_types"] == tuple(num(t) for t in ts(name, "smb2.negotiate_context.type"))


@pytest.mark.parametrize("name", named("smb1_setup_"))
def test_smb1_session_setup_names(name: str) -> None:
    """NativeOS / NativeLanMan / PrimaryDomain as Wireshark reads them, Unicode (Windows XP) and OEM (Samba)."""
    setup = parse_smb1_session_setup(raw(name)[4:])
    status = ts(name, "smb.nt_status")  # absent when the reply uses DOS error codes (class 0, code 0)
    assert setup.nt_status == (num(status[0]) if status else 0)
    assert num(one(name, "smb.wct")) in (3, 4)
    assert setup.native_os == one(name, "smb.native_os")
    assert setup.native_lanman == one(name, "smb.native_lanman")
    domain = ts(name, "smb.primary_domain")
    assert setup.primary_domain == (domain[0] if domain else None)


def test_smb1_session_setup_windows_xp_challenge_gives_its_version() -> None:
    """The CHALLENGE inside the security blob is the one the NTLM test reads from the same frame."""
    setup = parse_smb1_session_setup(raw("smb1_setup_winxp_challenge")[4:])
    assert raw("smb1_setup_winxp_challenge") == raw("ntlm_winxp_smb1_challenge")
    assert setup.os_version is not None
    ntlm = "ntlm_winxp_smb1_challenge"
    assert (setup.os_version.major, setup.os_version.minor, setup.os_version.build) == (
        num(one(ntlm, "ntlmssp.version.major")),
        num(one(ntlm, "ntlmssp.version.minor")),
        num(one(ntlm, "ntlmssp.version.build_number")),
    )
    assert setup.netbios_name == one(ntlm, "ntlmssp.challenge.target_info.nb_computer_name")


# ── NTLM ──────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", named("ntlm_"))
def test_ntlm_challenge(name: str) -> None:
    challenge = find_challenge(raw(name))
    assert challenge is not None and num(one(name, "ntlmssp.messagetype")) == 2
    info = parse_challenge(challenge)
    assert info.negotiate_flags == num(one(name, "ntlmssp.negotiateflags"))
    assert info.target_name == one(name, "ntlmssp.challenge.target_name")
    prefix = "ntlmssp.challenge.target_info."
    for ours, theirs in (
        (info.netbios_computer_name, "nb_computer_name"),
        (info.netbios_domain_name, "nb_domain_name"),
        (info.dns_computer_name, "dns_computer_name"),
        (info.dns_domain_name, "dns_domain_name"),
        (info.dns_tree_name, "dns_tree_name"),
    ):
        values = ts(name, prefix + theirs)
        assert ours == (values[0] if values else None), theirs
    stamp = ts(name, prefix + "timestamp")
    assert info.timestamp == (ts_time(stamp[0]) if stamp else None)
    assert info.product_version is not None
    assert num(one(name, "ntlmssp.version.ntlm_current_revision")) == 15
    assert (info.product_version.major, info.product_version.minor, info.product_version.build) == (
        num(one(name, "ntlmssp.version.major")),
        num(one(name, "ntlmssp.version.minor")),
        num(one(name, "ntlmssp.version.build_number")),
    )


# ── TLS and X.509 ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", named("tls_"))
def test_tls_server_hello(name: str) -> None:
    hello = parse_server_flight(raw(name))
    assert isinstance(hello, ServerHello)
    assert ts(name, "tls.handshake.type")[0] == "2"
    assert hello.cipher_suite == num(one(name, "tls.handshake.ciphersuite"))
    chosen = ts(name, "tls.handshake.extensions.supported_version") or ts(name, "tls.handshake.version")
    assert hello.version is WIRE_VERSIONS[num(chosen[0])]


_SHORT = {"2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C"}
_SHORT |= {"2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID"}
_HASH_OIDS = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384"}
_SIG_HASH = {"1.2.840.113549.1.1.5": "sha1", "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384"}


def _rfc4514(attrs: list[str]) -> str:
    """tshark's attributes (first to last) as cryptography's rfc4514_string prints them."""
    out = []
    for attr in reversed(attrs):
        oid, _, value = attr.partition("=")
        for ch in '\\"+,;<>':
            value = value.replace(ch, "\\" + ch)
        out.append(f"{_SHORT.get(oid, oid)}={value}")
    return ",".join(out)


def _check_certificate(name: str, f: CertificateFacts) -> None:
    subject = ts(name, "x509af.subject (x509if.oid=x509sat.*)")
    issuer = ts(name, "x509af.issuer (x509if.oid=x509sat.*)")
    assert f.subject == _rfc4514(subject)
    assert f.issuer == _rfc4514(issuer)
    cns = [a.partition("=")[2] for a in subject if a.startswith("2.5.4.3=")]
    assert f.subject_cn == (cns[0] if cns else None)
    assert f.serial == f"{int.from_bytes(ts_hex(one(name, 'x509af.serialNumber')), 'big', signed=True):x}"
    times = ts(name, "x509af.utcTime") or ts(name, "x509af.generalizedTime")
    parsed = [
        ts_time(t) if "," in t else datetime.strptime(t, "%Y-%m-%d %H:%M:%S (UTC)").replace(tzinfo=UTC) for t in times
    ]
    assert [f.not_before, f.not_after] == parsed
    assert parsed[1] is not None
    assert f.expired is (parsed[1] < NOW)
    assert (f.key_type, f.key_size) == ("RSA", int.from_bytes(ts_hex(one(name, "pkcs1.modulus")), "big").bit_length())
    algorithms = ts(name, "x509af.algorithm.id")
    want_hash = _HASH_OIDS[algorithms[1]] if algorithms[0] == "1.2.840.113549.1.1.10" else _SIG_HASH[algorithms[0]]
    assert f.signature_hash == want_hash
    assert f.sans == tuple(ts(name, "x509ce.dNSName") + ts(name, "x509ce.iPAddress"))
    assert f.self_signed is (subject == issuer)


@pytest.mark.parametrize("name", named("x509_"))
def test_x509_certificate_as_parsed(name: str) -> None:
    """What the probes record: strict DER when it parses, the tolerant read when it does not."""
    f = parse_certificate(raw(name), NOW)
    _check_certificate(name, f)
    assert f.strict_der is (name not in STRICT_REFUSES)


#: Real certificates strict DER parsing refuses, and why (the tolerant read takes over).
STRICT_REFUSES = {
    "x509_pss_params_cve_2015_3194": "",
    "x509_explicit_default_ca_cviis": "EncodedDefault",
    "x509_explicit_default_ca_jeffbryner": "EncodedDefault",
}


@pytest.mark.parametrize("name", named("x509_explicit_default_"))
def test_x509_explicit_default_is_read_tolerantly(name: str) -> None:
    """BasicConstraints cA FALSE written out (tshark: x509ce.cA = 0): refused by strict DER, read by the
    tolerant reader, and still judged expired like any other certificate past notAfter."""
    assert one(name, "x509ce.cA") == "0"
    assert bytes.fromhex("30030101 00") in raw(name)  # BasicConstraints ::= SEQUENCE { cA BOOLEAN FALSE }
    f = parse_certificate(raw(name), NOW)
    assert f.strict_der is False and STRICT_REFUSES[name] in (f.strict_der_error or "")
    assert f.expired is True and f.self_signed is False


@pytest.mark.parametrize("name", named("x509_"))
def test_x509_tolerant_read_agrees_with_tshark(name: str) -> None:
    _check_certificate(name, _tolerant_facts(raw(name), NOW, "forced"))


# ── SNMP ──────────────────────────────────────────────────────────────────────────────────────


_VALUE_FIELDS: dict[str, tuple[str, ...]] = {
    "octets": ("snmp.value.octets",),
    "oid": ("snmp.value.oid",),
    "integer": ("snmp.value.int",),
    "counter": ("snmp.value.counter", "snmp.value.timeticks", "snmp.value.g32"),
    "ipaddress": ("snmp.value.ipv4",),
}


def _check_varbinds(name: str, varbinds: tuple[VarBind, ...]) -> None:
    assert [vb.oid for vb in varbinds] == ts(name, "snmp.name")
    seen: dict[str, list[str]] = {}
    for vb in varbinds:
        fields = _VALUE_FIELDS[vb.kind]
        value = vb.value.hex(":") if isinstance(vb.value, bytes) else str(vb.value)
        for f in fields:
            if len(seen.get(f, [])) < len(ts(name, f)) and ts(name, f)[len(seen.get(f, []))] == value:
                seen.setdefault(f, []).append(value)
                break
        else:
            pytest.fail(f"{name}: our {vb.kind} value {value!r} of {vb.oid} is not tshark's ({fields})")
    for f in {f for fs in _VALUE_FIELDS.values() for f in fs}:
        assert seen.get(f, []) == ts(name, f), f


@pytest.mark.parametrize("name", named("snmp_v1_") + named("snmp_v2c_"))
def test_snmp_v1_v2c(name: str) -> None:
    msg: Message = decode_message(raw(name))
    assert msg.version == num(one(name, "snmp.version"))
    assert msg.community.decode() == one(name, "snmp.community")
    assert msg.pdu.request_id == num(one(name, "snmp.request_id"))
    assert msg.pdu.error_status == num(one(name, "snmp.error_status"))
    assert msg.pdu.error_index == num(one(name, "snmp.error_index"))
    _check_varbinds(name, msg.pdu.varbinds)


@pytest.mark.parametrize("name", named("snmp_v3_"))
def test_snmp_v3(name: str) -> None:
    msg: V3Message = decode_v3(raw(name))
    assert num(one(name, "snmp.msgVersion")) == 3
    assert msg.msg_id == num(one(name, "snmp.msgID"))
    assert msg.engine_id == ts_hex(one(name, "snmp.msgAuthoritativeEngineID"))
    # 02 01 dd on the wire: the agent means 221 (tshark's unsigned field), not -35
    assert msg.engine_boots == num(one(name, "snmp.msgAuthoritativeEngineBoots"))
    assert msg.engine_time == num(one(name, "snmp.msgAuthoritativeEngineTime"))
    assert msg.pdu.request_id == num(one(name, "snmp.request_id"))
    assert msg.pdu.error_status == num(one(name, "snmp.error_status"))
    _check_varbinds(name, msg.pdu.varbinds)


# ── fuzzing, seeded with every real reply ─────────────────────────────────────────────────────


def _parsers(name: str) -> list[Callable[[bytes], object]]:
    if name.startswith("rdp_"):
        return [parse_connection_confirm, mcs.parse_connect_response]
    if name.startswith("smb"):
        return [
            lambda b: parse_smb1_negotiate(b[4:]),
            lambda b: parse_smb2_negotiate(b[4:]),
            lambda b: parse_smb1_session_setup(b[4:]),
        ]
    if name.startswith("ntlm_"):
        return [lambda b: parse_challenge(find_challenge(b) or b)]
    if name.startswith("tls_"):
        return [parse_server_flight]
    if name.startswith("x509_"):
        return [read_certificate, lambda b: parse_certificate(b, NOW)]
    return [decode_message, decode_v3]


@given(st.sampled_from(sorted(CAPTURES)), st.data())
def test_fuzz_mutated_real_replies(name: str, data: st.DataObject) -> None:
    """Truncations and byte flips of real replies: facts or ProtocolError, never anything else."""
    good = bytearray(raw(name))
    cut = data.draw(st.integers(0, len(good)), label="cut")
    for pos, val in data.draw(st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)), max_size=4)):
        good[pos] = val
    sample = bytes(good[:cut])
    for parse in _parsers(name):
        with contextlib.suppress(ProtocolError):
            parse(sample)

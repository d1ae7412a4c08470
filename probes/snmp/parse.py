"""Pure SNMP: a minimal BER codec (X.690 §8) and the few messages we send and read.

Only definite lengths, single-byte tags and the types RFC 3416 / RFC 2578 put in a varbind; anything
else raises ProtocolError. No recursion: the message layout is fixed, so the decoder walks it.

Fields whose ASN.1 range is non-negative (msgID, engine boots/time, error-status/index, the version)
are read as unsigned: real agents encode e.g. engine boots 200 as ``02 01 c8`` without the leading
zero octet X.690 asks for, and mean 200, not -56 (so does Wireshark, whose fields are unsigned).
Integer32 values and request-id keep their sign (RFC 3416: -2^31..2^31-1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from duecare.probes import ber
from duecare.probes.ber import encode_oid as enc_oid
from duecare.probes.ber import tlv
from duecare.probes.errors import ProtocolError

INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
#: SNMPv2 exception values (RFC 3416 §3): the varbind exists as a name only.
EXCEPTIONS = {0x80: "noSuchObject", 0x81: "noSuchInstance", 0x82: "endOfMibView"}
GET_REQUEST, RESPONSE, REPORT = 0xA0, 0xA2, 0xA8
_PDU_TAGS = frozenset(range(0xA0, 0xA9))

VERSION_V1, VERSION_V2C, VERSION_V3 = 0, 1, 3

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

MAX_VARBINDS = 64
_MAX_INT_BYTES = 9  # Counter64 with its sign octet


# ── encoding ──────────────────────────────────────────────────────────────────────────────────


def enc_int(value: int, tag: int = INTEGER) -> bytes:
    """Two's complement in the fewest octets (X.690 §8.3.2)."""
    for size in range(1, 10):
        try:
            return tlv(tag, value.to_bytes(size, "big", signed=True))
        except OverflowError:
            continue
    raise ValueError(f"integer {value} does not fit 9 octets")


def enc_octets(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def seq(*items: bytes, tag: int = SEQUENCE) -> bytes:
    return tlv(tag, b"".join(items))


def encode_get(version: int, community: bytes, request_id: int, oids: tuple[str, ...]) -> bytes:
    """A v1/v2c GetRequest (RFC 1157 §4.1.2 / RFC 3416 §4.2.1) with NULL values."""
    varbinds = seq(*(seq(enc_oid(o), tlv(NULL, b"")) for o in oids))
    pdu = seq(enc_int(request_id), enc_int(0), enc_int(0), varbinds, tag=GET_REQUEST)
    return seq(enc_int(version), enc_octets(community), pdu)


def encode_v3_discovery(msg_id: int, request_id: int) -> bytes:
    """RFC 3414 §4 engine discovery: noAuthNoPriv, reportable, empty user, engine id and varbinds.

    Any SNMPv3 agent answers it with a Report carrying its engine id, whatever the communities.
    """
    header = seq(enc_int(msg_id), enc_int(65507), enc_octets(b"\x04"), enc_int(3))
    usm = seq(enc_octets(b""), enc_int(0), enc_int(0), enc_octets(b""), enc_octets(b""), enc_octets(b""))
    pdu = seq(enc_int(request_id), enc_int(0), enc_int(0), seq(), tag=GET_REQUEST)
    scoped = seq(enc_octets(b""), enc_octets(b""), pdu)
    return seq(enc_int(VERSION_V3), header, enc_octets(usm), scoped)


# ── decoding ──────────────────────────────────────────────────────────────────────────────────


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    return ber.read_tlv(data, pos, end, "BER")


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    got, start, stop = read_tlv(data, pos, end)
    if got != tag:
        raise ProtocolError(f"BER: {what} has tag 0x{got:02x}, expected 0x{tag:02x}")
    return start, stop


def dec_int(content: bytes, *, signed: bool = True) -> int:
    if not content or len(content) > _MAX_INT_BYTES:
        raise ProtocolError(f"BER: integer of {len(content)} octets")
    return int.from_bytes(content, "big", signed=signed)


def dec_uint(content: bytes) -> int:
    """An INTEGER whose type has no negative values, as the agent meant it (leading zero or not)."""
    return dec_int(content, signed=False)


def dec_oid(content: bytes) -> str:
    if not content or len(content) > 256:
        raise ProtocolError(f"BER: OID of {len(content)} octets")
    if content[-1] & 0x80:
        raise ProtocolError("BER: OID ends inside a sub-identifier")
    subs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if value >= 1 << 64:
            raise ProtocolError("BER: OID sub-identifier over 64 bits")
        if not byte & 0x80:
            subs.append(value)
            value = 0
    first = subs[0]
    head = [0, first] if first < 40 else ([1, first - 40] if first < 80 else [2, first - 80])
    return ".".join(str(s) for s in head + subs[1:])


Value = int | str | bytes | None


@dataclass(frozen=True, slots=True)
class VarBind:
    oid: str
    kind: str
    value: Value


def _value(tag: int, content: bytes) -> tuple[str, Value]:
    if tag == INTEGER:
        return "integer", dec_int(content)
    if tag in (OCTET_STRING, OPAQUE):
        return ("octets" if tag == OCTET_STRING else "opaque"), content
    if tag == NULL:
        return "null", None
    if tag == OID:
        return "oid", dec_oid(content)
    if tag == IP_ADDRESS:
        if len(content) != 4:
            raise ProtocolError("BER: IpAddress is not 4 octets")
        return "ipaddress", ".".join(str(b) for b in content)
    if tag in (COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        return "counter", dec_int(content, signed=False)
    if tag in EXCEPTIONS:
        return EXCEPTIONS[tag], None
    raise ProtocolError(f"BER: unknown varbind value tag 0x{tag:02x}")


@dataclass(frozen=True, slots=True)
class Pdu:
    tag: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: tuple[VarBind, ...]

    def get(self, oid: str) -> Value:
        """The value of ``oid`` if the agent returned a real one (exceptions and NULL → None)."""
        for vb in self.varbinds:
            if vb.oid == oid and vb.kind not in EXCEPTIONS.values():
                return vb.value
        return None


def _pdu(data: bytes, pos: int, end: int) -> Pdu:
    tag, start, stop = read_tlv(data, pos, end)
    if tag not in _PDU_TAGS:
        raise ProtocolError(f"SNMP: tag 0x{tag:02x} is not a PDU")
    if tag == 0xA4:
        raise ProtocolError("SNMP: v1 Trap where a response was expected")
    fields: list[int] = []
    p = start
    for what in ("request-id", "error-status", "error-index"):
        s, e = _expect(data, p, stop, INTEGER, what)
        fields.append(dec_int(data[s:e]) if what == "request-id" else dec_uint(data[s:e]))
        p = e
    vb_start, vb_end = _expect(data, p, stop, SEQUENCE, "varbind list")
    varbinds: list[VarBind] = []
    p = vb_start
    while p < vb_end:
        if len(varbinds) >= MAX_VARBINDS:
            raise ProtocolError(f"SNMP: more than {MAX_VARBINDS} varbinds")
        s, e = _expect(data, p, vb_end, SEQUENCE, "varbind")
        os_, oe = _expect(data, s, e, OID, "varbind name")
        vtag, vs, ve = read_tlv(data, oe, e)
        if ve != e:
            raise ProtocolError("SNMP: trailing bytes in a varbind")
        kind, value = _value(vtag, data[vs:ve])
        varbinds.append(VarBind(dec_oid(data[os_:oe]), kind, value))
        p = e
    return Pdu(tag, fields[0], fields[1], fields[2], tuple(varbinds))


@dataclass(frozen=True, slots=True)
class Message:
    """A v1/v2c message (RFC 1157 §4 / RFC 1901 §3)."""

    version: int
    community: bytes
    pdu: Pdu


def _top(data: bytes) -> tuple[int, int]:
    start, stop = _expect(data, 0, len(data), SEQUENCE, "message")
    if stop != len(data):
        raise ProtocolError("SNMP: bytes after the message")
    return start, stop


def decode_message(data: bytes) -> Message:
    start, stop = _top(data)
    s, e = _expect(data, start, stop, INTEGER, "version")
    version = dec_uint(data[s:e])
    if version not in (VERSION_V1, VERSION_V2C):
        raise ProtocolError(f"SNMP: version {version} where v1/v2c was expected")
    cs, ce = _expect(data, e, stop, OCTET_STRING, "community")
    return Message(version, data[cs:ce], _pdu(data, ce, stop))


@dataclass(frozen=True, slots=True)
class V3Message:
    """An unencrypted SNMPv3 message (RFC 3412 §6) with its USM parameters (RFC 3414 §2.4)."""

    msg_id: int
    engine_id: bytes
    engine_boots: int
    engine_time: int
    pdu: Pdu


def decode_v3(data: bytes) -> V3Message:
    start, stop = _top(data)
    s, e = _expect(data, start, stop, INTEGER, "version")
    if dec_uint(data[s:e]) != VERSION_V3:
        raise ProtocolError("SNMP: not a v3 message")
    hs, he = _expect(data, e, stop, SEQUENCE, "msgGlobalData")
    ms, me = _expect(data, hs, he, INTEGER, "msgID")
    msg_id = dec_uint(data[ms:me])
    ps, pe = _expect(data, he, stop, OCTET_STRING, "msgSecurityParameters")
    us, ue = _expect(data, ps, pe, SEQUENCE, "UsmSecurityParameters")
    es, ee = _expect(data, us, ue, OCTET_STRING, "msgAuthoritativeEngineID")
    bs, be = _expect(data, ee, ue, INTEGER, "msgAuthoritativeEngineBoots")
    ts, te = _expect(data, be, ue, INTEGER, "msgAuthoritativeEngineTime")
    engine_id = data[es:ee]
    if len(engine_id) > 32:
        raise ProtocolError("SNMP: engine id longer than 32 octets (RFC 3411)")
    tag, ss, se = read_tlv(data, pe, stop)
    if tag != SEQUENCE:
        raise ProtocolError("SNMP: encrypted scoped PDU in a discovery answer")
    _cs, ce = _expect(data, ss, se, OCTET_STRING, "contextEngineID")
    _ns, ne = _expect(data, ce, se, OCTET_STRING, "contextName")
    boots, time = dec_uint(data[bs:be]), dec_uint(data[ts:te])
    return V3Message(msg_id, engine_id, boots, time, _pdu(data, ne, se))


def engine_enterprise(engine_id: bytes) -> int | None:
    """RFC 3411 SnmpEngineID: the first four octets carry the IANA enterprise number (high bit aside)."""
    if len(engine_id) < 5:
        return None
    return int.from_bytes(engine_id[:4], "big") & 0x7FFFFFFF


def text(value: Value, limit: int) -> str | None:
    """A DisplayString varbind as text (RFC 2579: NVT ASCII; UTF-8 is common in practice)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").replace("\x00", "").strip()[:limit]
    if isinstance(value, str):
        return value[:limit]
    return None


_DESCR_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # net-snmp on Linux: uname -a minus the nodename order: "Linux <node> <release> <version> <machine>"
    (re.compile(r"^Linux \S+ (?P<v>\d+\.\d+[\w.+~-]*)"), "Linux"),
    # Windows SNMP service: "... Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)"
    (re.compile(r"Software: Windows Version (?P<v>\d+\.\d+) \(Build (?P<b>\d+)"), "Windows"),
    (re.compile(r"Cisco IOS XE Software.*?Version (?P<v>[0-9][\w.()]*)", re.S), "Cisco IOS XE"),
    (re.compile(r"Cisco IOS Software.*?Version (?P<v>[0-9][\w.()]*)", re.S), "Cisco IOS"),
    (re.compile(r"Cisco Adaptive Security Appliance Version (?P<v>[0-9][\w.()]*)"), "Cisco ASA"),
)


def descr_product(sys_descr: str) -> tuple[str | None, str | None]:
    """Product and version from sysDescr, for the few formats that state them plainly."""
    for pattern, product in _DESCR_PATTERNS:
        m = pattern.search(sys_descr)
        if m:
            version = m.group("v")
            if "b" in pattern.groupindex:
                version = f"{version}.{m.group('b')}"
            return product, version.rstrip(",")
    return None, None

"""A tolerant read of an X.509 certificate (RFC 5280 §4.1) for when strict DER parsing refuses it.

Real servers present certificates that are BER but not DER: an explicitly encoded DEFAULT (version
v1, ``critical FALSE``), a long-form length where a short one fits, a non-minimal INTEGER. A TLS
client that is not strict reads them; an auditor must too, or an expired certificate is reported
as a protocol error instead of as expired. This module reads only what the facts need — names,
validity, key, signature algorithm, subjectAltName — and returns the raw parts a signature check
needs. Pure, bounded, no recursion deeper than the certificate's fixed layout; anything it cannot
read raises ProtocolError.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from duecare.probes import ber
from duecare.probes.errors import ProtocolError

_BOOLEAN, _INTEGER, _BIT_STRING, _OCTET_STRING, _OID = 0x01, 0x02, 0x03, 0x04, 0x06
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18
_SEQUENCE, _SET = 0x30, 0x31
_MAX_ITEMS = 256  # RDNs, attributes, extensions, SAN entries: far above any real certificate

#: RFC 4514 §3 short names, the ones cryptography's ``rfc4514_string`` prints (others print dotted).
_ATTR_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
_CN = "2.5.4.3"

#: Signature algorithm → hash name as cryptography spells it (RFC 3279, 4055, 5758, 8410).
_SIGNATURE_HASH: dict[str, str | None] = {
    "1.2.840.113549.1.1.4": "md5",
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.3.14.3.2.29": "sha1",  # sha1WithRSASignature (OIW), still seen on old appliances
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
    "1.2.840.10040.4.3": "sha1",
    "2.16.840.1.101.3.4.3.1": "sha224",
    "2.16.840.1.101.3.4.3.2": "sha256",
    "1.3.101.112": None,  # Ed25519: no separate hash
    "1.3.101.113": None,  # Ed448
}
_RSASSA_PSS = "1.2.840.113549.1.1.10"
_HASHES = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}

_RSA, _EC, _DSA, _DH = "1.2.840.113549.1.1.1", "1.2.840.10045.2.1", "1.2.840.10040.4.1", "1.2.840.113549.1.3.1"
_EDWARDS = {"1.3.101.112": ("Ed25519", 256), "1.3.101.113": ("Ed448", 456)}
#: Named curves (RFC 5480 §2.1.1.1) with cryptography's names and sizes.
_CURVES = {
    "1.2.840.10045.3.1.1": ("secp192r1", 192),
    "1.3.132.0.33": ("secp224r1", 224),
    "1.2.840.10045.3.1.7": ("secp256r1", 256),
    "1.3.132.0.34": ("secp384r1", 384),
    "1.3.132.0.35": ("secp521r1", 521),
    "1.3.132.0.10": ("secp256k1", 256),
    "1.3.36.3.3.2.8.1.1.7": ("brainpoolP256r1", 256),
    "1.3.36.3.3.2.8.1.1.11": ("brainpoolP384r1", 384),
    "1.3.36.3.3.2.8.1.1.13": ("brainpoolP512r1", 512),
}
_SAN = "2.5.29.17"
_DNS_NAME, _IP_ADDRESS = 0x82, 0x87


@dataclass(frozen=True, slots=True)
class Attribute:
    oid: str
    value: str


@dataclass(frozen=True, slots=True)
class TolerantCertificate:
    """What the tolerant read found; ``tbs``/``spki``/``signature`` are the bytes as sent."""

    version: int
    serial: int
    subject: tuple[tuple[Attribute, ...], ...]
    issuer: tuple[tuple[Attribute, ...], ...]
    not_before: datetime
    not_after: datetime
    key_type: str
    key_size: int | None
    signature_algorithm: str
    signature_hash: str | None
    sans: tuple[str, ...]
    tbs: bytes
    spki: bytes
    signature: bytes


# ── BER elements ──────────────────────────────────────────────────────────────────────────────


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    return ber.read_tlv(data, pos, end, "X.509")


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, content start, content end, element start) of each element in [start, end)."""
    out: list[tuple[int, int, int, int]] = []
    pos = start
    while pos < end:
        if len(out) >= _MAX_ITEMS:
            raise ProtocolError(f"X.509: more than {_MAX_ITEMS} elements in one container")
        tag, s, e = read_tlv(data, pos, end)
        out.append((tag, s, e, pos))
        pos = e
    return out


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    got, s, e = read_tlv(data, pos, end)
    if got != tag:
        raise ProtocolError(f"X.509: {what} has tag 0x{got:02x}, expected 0x{tag:02x}")
    return s, e


def decode_oid(content: bytes) -> str:
    if not content or len(content) > 128 or content[-1] & 0x80:
        raise ProtocolError("X.509: malformed OBJECT IDENTIFIER")
    subs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if value >= 1 << 64:
            raise ProtocolError("X.509: OID sub-identifier over 64 bits")
        if not byte & 0x80:
            subs.append(value)
            value = 0
    first = subs[0]
    head = [0, first] if first < 40 else ([1, first - 40] if first < 80 else [2, first - 80])
    return ".".join(str(s) for s in head + subs[1:])


def _int(content: bytes) -> int:
    if not content or len(content) > 64:
        raise ProtocolError(f"X.509: INTEGER of {len(content)} octets where a small one belongs")
    return int.from_bytes(content, "big", signed=True)


# ── names ─────────────────────────────────────────────────────────────────────────────────────

_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x14: "latin-1",  # TeletexString: in practice Latin-1
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}


def _string(tag: int, content: bytes) -> str:
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        return "#" + content.hex()
    return content.decode(codec, "replace")


def _escape(value: str) -> str:
    """RFC 4514 §2.4 escaping, as cryptography applies it."""
    out = value.replace("\\", "\\\\")
    for ch in '"+,;<>':
        out = out.replace(ch, "\\" + ch)
    out = out.replace("\0", "\\00")
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and len(out) > 1:
        out = out[:-1] + "\\ "
    return out


def _name(data: bytes, start: int, end: int) -> tuple[tuple[Attribute, ...], ...]:
    rdns: list[tuple[Attribute, ...]] = []
    for tag, s, e, _ in _children(data, start, end):
        if tag != _SET:
            raise ProtocolError("X.509: RelativeDistinguishedName is not a SET")
        attrs: list[Attribute] = []
        for atag, as_, ae, _ in _children(data, s, e):
            if atag != _SEQUENCE:
                raise ProtocolError("X.509: AttributeTypeAndValue is not a SEQUENCE")
            os_, oe = _expect(data, as_, ae, _OID, "attribute type")
            vtag, vs, ve = read_tlv(data, oe, ae)
            attrs.append(Attribute(decode_oid(data[os_:oe]), _string(vtag, data[vs:ve])))
        rdns.append(tuple(attrs))
    return tuple(rdns)


def rfc4514(name: tuple[tuple[Attribute, ...], ...]) -> str:
    """The name as cryptography's ``Name.rfc4514_string()`` prints it: last RDN first."""
    return ",".join(
        "+".join(f"{_ATTR_NAMES.get(a.oid, a.oid)}={_escape(a.value)}" for a in rdn) for rdn in reversed(name)
    )


def common_name(name: tuple[tuple[Attribute, ...], ...]) -> str | None:
    for rdn in name:
        for attr in rdn:
            if attr.oid == _CN:
                return attr.value
    return None


# ── validity ──────────────────────────────────────────────────────────────────────────────────


def _digits(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ProtocolError(f"X.509: {what} is not digits")
    return int(text)


def _time(tag: int, content: bytes) -> datetime:
    """UTCTime / GeneralizedTime, also the BER forms DER forbids (no seconds, an offset, fractions)."""
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError("X.509: time is not ASCII") from exc
    if tag == _UTC_TIME:
        yy = _digits(text[:2], "UTCTime year")
        year, rest = (1900 + yy if yy >= 50 else 2000 + yy), text[2:]  # RFC 5280 §4.1.2.5.1
    elif tag == _GENERALIZED_TIME:
        year, rest = _digits(text[:4], "GeneralizedTime year"), text[4:]
    else:
        raise ProtocolError(f"X.509: validity time has tag 0x{tag:02x}")
    zone: timezone = UTC
    if rest.endswith("Z"):
        rest = rest[:-1]
    elif len(rest) >= 5 and rest[-5] in "+-":
        offset = timedelta(hours=_digits(rest[-4:-2], "offset"), minutes=_digits(rest[-2:], "offset"))
        zone = timezone(-offset if rest[-5] == "-" else offset)
        rest = rest[:-5]
    rest = rest.split(".", 1)[0].split(",", 1)[0]  # fractions of a second: dropped
    if len(rest) not in (8, 10):
        raise ProtocolError(f"X.509: time {text!r} has an unknown layout")
    fields = [_digits(rest[i : i + 2], "time") for i in range(0, len(rest), 2)]
    month, day, hour, minute = fields[:4]
    second = fields[4] if len(fields) > 4 else 0
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone).astimezone(UTC)
    except ValueError as exc:
        raise ProtocolError(f"X.509: time {text!r} is not a date: {exc}") from exc


# ── key and signature ─────────────────────────────────────────────────────────────────────────


def _bit_length(content: bytes) -> int:
    return int.from_bytes(content, "big").bit_length()


def _algorithm(data: bytes, start: int, end: int) -> tuple[str, int, int]:
    """An AlgorithmIdentifier's OID and the (start, end) of its parameters (empty when absent)."""
    os_, oe = _expect(data, start, end, _OID, "algorithm")
    return decode_oid(data[os_:oe]), oe, end


def _key(data: bytes, start: int, end: int) -> tuple[str, int | None]:
    as_, ae = _expect(data, start, end, _SEQUENCE, "subjectPublicKeyInfo algorithm")
    oid, ps, pe = _algorithm(data, as_, ae)
    try:
        bs, be = _expect(data, ae, end, _BIT_STRING, "subjectPublicKey")
        if oid == _RSA and be - bs > 1:
            ks, ke = _expect(data, bs + 1, be, _SEQUENCE, "RSAPublicKey")
            ns, ne = _expect(data, ks, ke, _INTEGER, "RSA modulus")
            return "RSA", _bit_length(data[ns:ne])
        if oid == _EC and ps < pe:
            ptag, cs, ce = read_tlv(data, ps, pe)
            curve = _CURVES.get(decode_oid(data[cs:ce])) if ptag == _OID else None
            return (f"EC-{curve[0]}", curve[1]) if curve else ("EC", None)
        if oid in (_DSA, _DH) and ps < pe:
            qs, qe = _expect(data, ps, pe, _SEQUENCE, "key parameters")
            p_s, p_e = _expect(data, qs, qe, _INTEGER, "prime p")
            return ("DSA" if oid == _DSA else "DH"), _bit_length(data[p_s:p_e])
    except ProtocolError:
        return "unknown", None
    if oid in _EDWARDS:
        return _EDWARDS[oid]
    return "unknown", None


def _pss_hash(data: bytes, start: int, end: int) -> str:
    """RSASSA-PSS-params hashAlgorithm [0] (RFC 4055 §3.1), SHA-1 by default."""
    if start >= end:
        return "sha1"
    ps, pe = _expect(data, start, end, _SEQUENCE, "RSASSA-PSS parameters")
    for tag, s, e, _ in _children(data, ps, pe):
        if tag == 0xA0:
            hs, he = _expect(data, s, e, _SEQUENCE, "PSS hash algorithm")
            oid, _, _ = _algorithm(data, hs, he)
            return _HASHES.get(oid, "unknown")
    return "sha1"


def _signature_hash(oid: str, data: bytes, params: tuple[int, int]) -> str | None:
    if oid == _RSASSA_PSS:
        try:
            return _pss_hash(data, *params)
        except ProtocolError:
            return "unknown"
    return _SIGNATURE_HASH.get(oid, "unknown")


# ── extensions ────────────────────────────────────────────────────────────────────────────────


def _sans(data: bytes, start: int, end: int) -> tuple[str, ...]:
    """subjectAltName DNS names and IP addresses; a malformed extension gives none, not an error."""
    ss, se = _expect(data, start, end, _SEQUENCE, "extensions")
    for tag, s, e, _ in _children(data, ss, se):
        if tag != _SEQUENCE:
            continue
        fields = _children(data, s, e)
        if not fields or fields[0][0] != _OID or decode_oid(data[fields[0][1] : fields[0][2]]) != _SAN:
            continue
        value = fields[-1]  # critical BOOLEAN (DEFAULT FALSE, often explicit) may sit between
        if value[0] != _OCTET_STRING:
            return ()
        try:
            gs, ge = _expect(data, value[1], value[2], _SEQUENCE, "GeneralNames")
            names: list[str] = []
            for gtag, vs, ve, _ in _children(data, gs, ge):
                if gtag == _DNS_NAME:
                    names.append(data[vs:ve].decode("ascii", "replace"))
                elif gtag == _IP_ADDRESS and ve - vs in (4, 16):
                    names.append(str(ipaddress.ip_address(data[vs:ve])))
            return tuple(names)
        except ProtocolError:
            return ()
    return ()


# ── the certificate ───────────────────────────────────────────────────────────────────────────


def read_certificate(der: bytes) -> TolerantCertificate:
    """The facts' raw material from a BER-encoded certificate; ProtocolError when it is not one."""
    cs, ce = _expect(der, 0, len(der), _SEQUENCE, "Certificate")
    parts = _children(der, cs, ce)
    if len(parts) < 3 or [p[0] for p in parts[:3]] != [_SEQUENCE, _SEQUENCE, _BIT_STRING]:
        raise ProtocolError("X.509: Certificate is not tbsCertificate, signatureAlgorithm, signatureValue")
    _, ts, te, tbs_at = parts[0]
    sig_oid, sps, spe = _algorithm(der, parts[1][1], parts[1][2])
    fields = _children(der, ts, te)
    i = 0
    version = 0
    if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT Version DEFAULT v1 — v1 may be written out
        vs, ve = _expect(der, fields[0][1], fields[0][2], _INTEGER, "version")
        version = _int(der[vs:ve])
        i = 1
    need = [_INTEGER, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE]
    got = [f[0] for f in fields[i : i + 6]]
    if got != need:
        raise ProtocolError("X.509: tbsCertificate fields are not serial, signature, issuer, validity, subject, key")
    serial_f, _alg_f, issuer_f, validity_f, subject_f, spki_f = fields[i : i + 6]
    times = _children(der, validity_f[1], validity_f[2])
    if len(times) != 2:
        raise ProtocolError("X.509: validity is not two times")
    not_before = _time(times[0][0], der[times[0][1] : times[0][2]])
    not_after = _time(times[1][0], der[times[1][1] : times[1][2]])
    key_type, key_size = _key(der, spki_f[1], spki_f[2])
    sans: tuple[str, ...] = ()
    for tag, s, e, _ in fields[i + 6 :]:
        if tag == 0xA3:
            sans = _sans(der, s, e)
    sig_s, sig_e = parts[2][1], parts[2][2]
    return TolerantCertificate(
        version=version,
        serial=_int(der[serial_f[1] : serial_f[2]]),
        subject=_name(der, subject_f[1], subject_f[2]),
        issuer=_name(der, issuer_f[1], issuer_f[2]),
        not_before=not_before,
        not_after=not_after,
        key_type=key_type,
        key_size=key_size,
        signature_algorithm=sig_oid,
        signature_hash=_signature_hash(sig_oid, der, (sps, spe)),
        sans=sans,
        tbs=der[tbs_at:te],
        spki=der[spki_f[3] : spki_f[2]],
        signature=der[sig_s + 1 : sig_e] if sig_e > sig_s else b"",
    )

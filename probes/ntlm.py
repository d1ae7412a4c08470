"""NTLM NEGOTIATE (Type 1) construction and CHALLENGE (Type 2) parsing, shared by RDP, SMB and HTTP.

A server answers an anonymous NEGOTIATE with a CHALLENGE that names the host, its domain and (often)
its OS build, without any credentials being sent. We never build an AUTHENTICATE message.

Layouts from [MS-NLMP] 2.2.1.1 (NEGOTIATE_MESSAGE), 2.2.1.2 (CHALLENGE_MESSAGE), 2.2.2.1 (AV_PAIR),
2.2.2.10 (VERSION). The rule for trusting VERSION follows nmap ``nselib/smbauth.lua``: only when the
payload offsets leave room for it and its trailing bytes are ``00 00 00 0F``.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from duecare.probes.errors import ProtocolError

SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE, CHALLENGE = 1, 2

# [MS-NLMP] 2.2.2.5 NEGOTIATE flags we ask for: what a current Windows client sends for an
# interactive logon, so servers answer with their normal CHALLENGE (target info + version).
NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ALWAYS_SIGN = 0x00008000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

_CLIENT_FLAGS = (
    NEGOTIATE_UNICODE
    | NEGOTIATE_OEM
    | REQUEST_TARGET
    | NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56
)
#: VERSION we announce: Windows 10.0 build 19045, NTLMSSP_REVISION_W2K3 (0x0F).
_CLIENT_VERSION = struct.pack("<BBH3xB", 10, 0, 19045, 0x0F)
_NEGOTIATE_HEADER_LEN = 40
_CHALLENGE_FIXED_LEN = 32  # signature .. server challenge: enough to be a CHALLENGE at all
_VERSION_END = 56
_NTLM_REVISION_TRAILER = b"\x00\x00\x00\x0f"

# AV_PAIR ids, [MS-NLMP] 2.2.2.1.
_AV_EOL, _AV_NB_COMPUTER, _AV_NB_DOMAIN, _AV_DNS_COMPUTER = 0, 1, 2, 3
_AV_DNS_DOMAIN, _AV_DNS_TREE, _AV_TIMESTAMP = 4, 5, 7
_NAME_CAP = 256  # DNS names are at most 255 octets; anything longer is cut, not trusted
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


class NtlmVersion(BaseModel):
    """The OS version a server announces in its CHALLENGE (e.g. 6.1.7601 = Windows 7 / 2008 R2)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    major: int = Field(ge=0, le=255)
    minor: int = Field(ge=0, le=255)
    build: int = Field(ge=0, le=65535)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}"

    @property
    def major_minor(self) -> tuple[int, int]:
        return (self.major, self.minor)


class NtlmInfo(BaseModel):
    """Host information a CHALLENGE discloses to an unauthenticated client."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    negotiate_flags: int = Field(ge=0, le=0xFFFFFFFF)
    target_name: str | None = Field(default=None, max_length=_NAME_CAP)
    netbios_computer_name: str | None = Field(default=None, max_length=_NAME_CAP)
    netbios_domain_name: str | None = Field(default=None, max_length=_NAME_CAP)
    dns_computer_name: str | None = Field(default=None, max_length=_NAME_CAP)
    dns_domain_name: str | None = Field(default=None, max_length=_NAME_CAP)
    dns_tree_name: str | None = Field(default=None, max_length=_NAME_CAP)
    #: Only set when the VERSION structure passes the trust rule in the module docstring.
    product_version: NtlmVersion | None = None
    #: MsvAvTimestamp: the server's clock when it built the challenge.
    timestamp: AwareDatetime | None = None


def negotiate_message() -> bytes:
    """A NEGOTIATE_MESSAGE with no domain or workstation supplied ([MS-NLMP] 2.2.1.1)."""
    empty_field = struct.pack("<HHI", 0, 0, _NEGOTIATE_HEADER_LEN)
    return (
        SIGNATURE
        + struct.pack("<II", NEGOTIATE, _CLIENT_FLAGS)
        + empty_field  # DomainNameFields
        + empty_field  # WorkstationFields
        + _CLIENT_VERSION
    )


def find_challenge(blob: bytes) -> bytes | None:
    """The CHALLENGE message inside a larger blob (SPNEGO, TSRequest, HTTP), from its signature on.

    Offsets inside a CHALLENGE are relative to its signature, so the rest of the blob is returned;
    trailing bytes of the wrapper do no harm to the parser.
    """
    start = blob.find(SIGNATURE)
    while start >= 0:
        kind = blob[start + 8 : start + 12]
        if len(kind) == 4 and struct.unpack("<I", kind)[0] == CHALLENGE:
            return blob[start:]
        start = blob.find(SIGNATURE, start + 1)
    return None


def _field(msg: bytes, at: int, what: str) -> bytes:
    """The payload a (len, maxlen, offset) descriptor at ``at`` points to, bounds-checked."""
    length, _maxlen, offset = struct.unpack_from("<HHI", msg, at)
    if length == 0:
        return b""
    if offset > len(msg) or length > len(msg) - offset:
        raise ProtocolError(f"NTLM {what} points outside the message ({offset}+{length} > {len(msg)})")
    return msg[offset : offset + length]


def _utf16(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace").replace("\x00", "")[:_NAME_CAP]


def _filetime(raw: bytes) -> datetime | None:
    if len(raw) != 8:
        return None
    ticks = struct.unpack("<Q", raw)[0]
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None  # past year 9999: a broken clock, not a reason to reject the host's names


def _av_pairs(raw: bytes) -> dict[int, bytes]:
    """AV_PAIR list → {AvId: value}; the first of a duplicated id wins; stops at MsvAvEOL."""
    pairs: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(raw):
        av_id, av_len = struct.unpack_from("<HH", raw, pos)
        pos += 4
        if av_id == _AV_EOL:
            break
        if av_len > len(raw) - pos:
            raise ProtocolError(f"NTLM AV_PAIR {av_id} claims {av_len} bytes, {len(raw) - pos} left")
        pairs.setdefault(av_id, raw[pos : pos + av_len])
        pos += av_len
    return pairs


def _payload_start(msg: bytes, descriptors: tuple[int, ...]) -> int:
    """Lowest payload offset in use: the fixed header cannot extend past it."""
    offsets = [
        struct.unpack_from("<HHI", msg, at)[2] for at in descriptors if struct.unpack_from("<HHI", msg, at)[0] > 0
    ]
    return min(offsets, default=len(msg))


def _version(msg: bytes, payload_start: int) -> NtlmVersion | None:
    if payload_start < _VERSION_END or len(msg) < _VERSION_END:
        return None
    if msg[52:56] != _NTLM_REVISION_TRAILER:
        return None
    major, minor, build = struct.unpack_from("<BBH", msg, 48)
    return NtlmVersion(major=major, minor=minor, build=build)


def parse_challenge(msg: bytes) -> NtlmInfo:
    """Parse a CHALLENGE_MESSAGE that starts at ``msg[0]``. Anything malformed → ProtocolError."""
    if len(msg) < _CHALLENGE_FIXED_LEN:
        raise ProtocolError(f"NTLM CHALLENGE too short ({len(msg)} bytes)")
    if msg[:8] != SIGNATURE:
        raise ProtocolError("NTLM message lacks the NTLMSSP signature")
    (kind,) = struct.unpack_from("<I", msg, 8)
    if kind != CHALLENGE:
        raise ProtocolError(f"NTLM message type {kind}, expected CHALLENGE (2)")
    (flags,) = struct.unpack_from("<I", msg, 20)

    target_raw = _field(msg, 12, "TargetName")
    if flags & NEGOTIATE_UNICODE:
        target_name = _utf16(target_raw)
    else:
        target_name = target_raw.decode("latin-1").replace("\x00", "")[:_NAME_CAP]

    has_target_info = len(msg) >= 48
    pairs = _av_pairs(_field(msg, 40, "TargetInfo")) if has_target_info else {}
    descriptors = (12, 40) if has_target_info else (12,)
    version = _version(msg, _payload_start(msg, descriptors)) if has_target_info else None

    def name(av_id: int) -> str | None:
        text = _utf16(pairs.get(av_id, b""))
        return text or None  # absent and empty both mean "not disclosed"

    return NtlmInfo(
        negotiate_flags=flags,
        target_name=target_name or None,
        netbios_computer_name=name(_AV_NB_COMPUTER),
        netbios_domain_name=name(_AV_NB_DOMAIN),
        dns_computer_name=name(_AV_DNS_COMPUTER),
        dns_domain_name=name(_AV_DNS_DOMAIN),
        dns_tree_name=name(_AV_DNS_TREE),
        product_version=version,
        timestamp=_filetime(pairs.get(_AV_TIMESTAMP, b"")),
    )

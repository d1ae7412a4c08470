"""A fixed NTLM CHALLENGE (Type 2) message for the fake Exchange hosts.

nginx cannot run NTLM, but an unauthenticated scanner only sends a NEGOTIATE (Type 1) and reads the
Type 2 that comes back, so a pre-built message is enough to exercise the parser (layout per
[MS-NLMP] 2.2.1.2 and detection-methods.md §4).
"""

from __future__ import annotations

import base64
import struct

_UNICODE = 0x00000001
_REQUEST_TARGET = 0x00000004
_NTLM = 0x00000200
_ALWAYS_SIGN = 0x00008000
_TARGET_TYPE_DOMAIN = 0x00010000
_EXTENDED_SESSIONSECURITY = 0x00080000
_TARGET_INFO = 0x00800000
_VERSION = 0x02000000
_128 = 0x20000000
_KEY_EXCH = 0x40000000
_56 = 0x80000000
FLAGS = (
    _UNICODE
    | _REQUEST_TARGET
    | _NTLM
    | _ALWAYS_SIGN
    | _TARGET_TYPE_DOMAIN
    | _EXTENDED_SESSIONSECURITY
    | _TARGET_INFO
    | _VERSION
    | _128
    | _KEY_EXCH
    | _56
)
_HEADER_LEN = 56  # fixed part including the 8-byte Version field
# 2024-01-01T00:00:00Z as a FILETIME (100 ns ticks since 1601-01-01); fixed so fixtures are stable.
_TIMESTAMP = (1704067200 + 11644473600) * 10_000_000


def _av(av_id: int, value: bytes) -> bytes:
    return struct.pack("<HH", av_id, len(value)) + value


def challenge(*, netbios_domain: str, netbios_computer: str, dns_domain: str, os_version: str) -> bytes:
    """Type 2 message for ``netbios_computer`` in ``netbios_domain``; ``os_version`` like ``10.0.17763``."""
    major, minor, build = (int(p) for p in os_version.split("."))
    target = netbios_domain.encode("utf-16-le")
    dns_computer = f"{netbios_computer.lower()}.{dns_domain}"
    info = b"".join(
        [
            _av(2, netbios_domain.encode("utf-16-le")),
            _av(1, netbios_computer.encode("utf-16-le")),
            _av(4, dns_domain.encode("utf-16-le")),
            _av(3, dns_computer.encode("utf-16-le")),
            _av(5, dns_domain.encode("utf-16-le")),
            _av(7, struct.pack("<Q", _TIMESTAMP)),
            _av(0, b""),
        ]
    )
    target_off = _HEADER_LEN
    info_off = target_off + len(target)
    header = (
        b"NTLMSSP\x00"
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target), len(target), target_off)
        + struct.pack("<I", FLAGS)
        + bytes.fromhex("1122334455667788")  # server challenge: constant, nothing authenticates here
        + bytes(8)
        + struct.pack("<HHI", len(info), len(info), info_off)
        + struct.pack("<BBH", major, minor, build)
        + b"\x00\x00\x00\x0f"
    )
    assert len(header) == _HEADER_LEN
    return header + target + info


def challenge_b64(**kwargs: str) -> str:
    return base64.b64encode(challenge(**kwargs)).decode("ascii")

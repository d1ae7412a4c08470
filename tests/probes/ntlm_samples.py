"""Build NTLM CHALLENGE messages for tests, laid out independently of probes.ntlm ([MS-NLMP] 2.2.1.2).

Windows hosts are not in the lab, so the Windows-shaped challenges (6.1.7601, 10.0.17763) are
synthesised here field by field; the Samba-produced one in fixtures/ is real.
"""

from __future__ import annotations

import struct
from datetime import datetime

_EPOCH_DIFF_S = 11644473600  # seconds between 1601-01-01 and 1970-01-01


def filetime(when: datetime) -> bytes:
    return struct.pack("<Q", (int(when.timestamp()) + _EPOCH_DIFF_S) * 10_000_000)


def av_pair(av_id: int, value: bytes) -> bytes:
    return struct.pack("<HH", av_id, len(value)) + value


def build_challenge(
    *,
    target: str = "CONTOSO",
    nb_computer: str = "WIN7-PC",
    nb_domain: str = "CONTOSO",
    dns_computer: str = "win7-pc.contoso.local",
    dns_domain: str = "contoso.local",
    dns_tree: str = "contoso.local",
    version: tuple[int, int, int] | None = (6, 1, 7601),
    revision: int = 0x0F,
    timestamp: datetime | None = None,
    flags: int = 0xE28A8215,
) -> bytes:
    info = b"".join(
        av_pair(i, v.encode("utf-16-le"))
        for i, v in ((2, nb_domain), (1, nb_computer), (4, dns_domain), (3, dns_computer), (5, dns_tree))
    )
    if timestamp is not None:
        info += av_pair(7, filetime(timestamp))
    info += av_pair(0, b"")
    target_raw = target.encode("utf-16-le")
    header_len = 56
    target_off = header_len
    info_off = target_off + len(target_raw)
    ver = struct.pack("<BBH3xB", version[0], version[1], version[2], revision) if version is not None else b"\x00" * 8
    header = (
        b"NTLMSSP\x00"
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target_raw), len(target_raw), target_off)
        + struct.pack("<I", flags)
        + bytes.fromhex("0123456789abcdef")
        + b"\x00" * 8
        + struct.pack("<HHI", len(info), len(info), info_off)
        + ver
    )
    assert len(header) == header_len
    return header + target_raw + info

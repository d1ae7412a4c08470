"""Pure RFB handshake parsing (RFC 6143 §7.1 and §7.3.2)."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from duecare.probes.errors import ProtocolError
from duecare.probes.vnc.facts import RfbProtocol

#: IANA "Remote Framebuffer Security Types" (the ones seen in practice).
SECURITY_TYPE_NAMES = {
    0: "Invalid",
    1: "None",
    2: "VNC Authentication",
    5: "RA2",
    6: "RA2ne",
    16: "Tight",
    17: "Ultra",
    18: "TLS",
    19: "VeNCrypt",
    20: "GTK-VNC SASL",
    21: "MD5 hash",
    22: "Colin Dean xvp",
    30: "Apple Remote Desktop (DH)",
    113: "MSLogon II",
}
MAX_REASON = 4096
SERVER_INIT_HEADER = 24  # width, height, PIXEL_FORMAT (16), name-length

_VERSION = re.compile(rb"^RFB (\d{3})\.(\d{3})\n$")


@dataclass(frozen=True, slots=True)
class ServerVersion:
    major: int
    minor: int
    text: str

    @property
    def protocol(self) -> RfbProtocol:
        """RFC 6143 §7.1.1: answer with the highest we both speak; odd minors mean 3.3.

        Versions above 3.8 (RealVNC 4.x/5.x, Apple 3.889) all speak the 3.8 handshake.
        """
        if self.major > 3 or (self.major == 3 and self.minor >= 8):
            return "3.8"
        return "3.7" if (self.major, self.minor) == (3, 7) else "3.3"


def parse_version(data: bytes) -> ServerVersion:
    m = _VERSION.match(data)
    if m is None:
        raise ProtocolError(f"not an RFB ProtocolVersion: {data[:12]!r}")
    major, minor = int(m.group(1)), int(m.group(2))
    if major < 3:
        raise ProtocolError(f"RFB version {major}.{minor} predates 3.3")
    return ServerVersion(major, minor, f"{m.group(1).decode()}.{m.group(2).decode()}")


def client_version(protocol: RfbProtocol) -> bytes:
    return {"3.3": b"RFB 003.003\n", "3.7": b"RFB 003.007\n", "3.8": b"RFB 003.008\n"}[protocol]


def u8(data: bytes) -> int:
    if len(data) != 1:
        raise ProtocolError("RFB: expected one byte")
    return data[0]


def u32(data: bytes) -> int:
    if len(data) != 4:
        raise ProtocolError("RFB: expected four bytes")
    value: int = struct.unpack(">I", data)[0]
    return value


def reason_length(data: bytes) -> int:
    """The U32 length before a failure reason, bounded so a hostile server cannot make us read MBs."""
    n = u32(data)
    if n > MAX_REASON:
        raise ProtocolError(f"RFB: failure reason of {n} bytes")
    return n


def security_types(data: bytes) -> tuple[int, ...]:
    """The security-type list of 3.7+ (the count byte already read); type 0 is invalid in a list."""
    if 0 in data:
        raise ProtocolError("RFB: security type 0 (Invalid) inside the offered list")
    return tuple(data)


def type_names(types: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(SECURITY_TYPE_NAMES.get(t, f"type {t}") for t in types)


@dataclass(frozen=True, slots=True)
class ServerInitHeader:
    width: int
    height: int
    name_length: int


def server_init_header(data: bytes) -> ServerInitHeader:
    """ServerInit (RFC 6143 §7.3.2): U16 width, U16 height, 16-byte PIXEL_FORMAT, U32 name-length."""
    if len(data) != SERVER_INIT_HEADER:
        raise ProtocolError("RFB: short ServerInit")
    width, height = struct.unpack(">HH", data[:4])
    bpp, depth = data[4], data[5]
    if bpp not in (8, 16, 32) or depth == 0 or depth > bpp:
        raise ProtocolError(f"RFB: implausible pixel format bpp={bpp} depth={depth}")
    name_length = u32(data[20:24])
    if name_length > MAX_REASON:
        raise ProtocolError(f"RFB: desktop name of {name_length} bytes")
    return ServerInitHeader(width, height, name_length)


def text(data: bytes, limit: int) -> str:
    return data.decode("utf-8", "replace").replace("\x00", "")[:limit]

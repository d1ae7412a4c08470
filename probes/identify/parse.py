"""Which protocol a port speaks, from the first bytes it sent (or its answer to one polite hello).

Pure functions over bytes. Names are nmap's service names (nmap-services, ``-sV``), so a probe's
``services`` match whatever named the port: nmap's table, nmap's version detection, or this.
A classifier returns None when the bytes do not say; it never raises on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Telnet commands (RFC 854): IAC then WILL/WONT/DO/DONT/SB.
_IAC = 0xFF
_TELNET_VERBS = frozenset({0xFA, 0xFB, 0xFC, 0xFD, 0xFE})
_RFB = re.compile(rb"^RFB \d{3}\.\d{3}\n")
_SSH = re.compile(rb"^SSH-\d+\.\d+-")
_REPLY_CODE = re.compile(rb"^(\d{3})[ -]")
_MYSQL_HANDSHAKE = 0x0A


@dataclass(frozen=True, slots=True)
class Identified:
    """A protocol recognised from the wire: nmap's service name, the tunnel (``ssl``) if any, the
    product when the greeting names it, and how it was told."""

    service: str
    how: str
    tunnel: str | None = None
    product: str | None = None
    version: str | None = None


def classify_greeting(data: bytes) -> Identified | None:
    """A server-speaks-first greeting: RFB, SSH, Telnet negotiation, FTP/SMTP/POP3/IMAP lines."""
    if not data:
        return None
    if _RFB.match(data):
        return Identified("vnc", "greeting", product=data[:11].decode("ascii"))
    if _SSH.match(data):
        line = data.split(b"\r", 1)[0].split(b"\n", 1)[0][:80]
        return Identified("ssh", "greeting", product=line.decode("ascii", "replace"))
    if len(data) >= 3 and data[0] == _IAC and data[1] in _TELNET_VERBS:
        return Identified("telnet", "greeting")
    if data.startswith(b"+OK"):
        return Identified("pop3", "greeting")
    if data.startswith(b"* OK") or data.startswith(b"* PREAUTH"):
        return Identified("imap", "greeting")
    m = _REPLY_CODE.match(data)
    if m is not None:
        return _numbered_greeting(data, int(m.group(1)))
    if len(data) >= 5 and data[4] == _MYSQL_HANDSHAKE and int.from_bytes(data[:3], "little") == len(data) - 4:
        return Identified("mysql", "greeting")
    return None


def _numbered_greeting(data: bytes, code: int) -> Identified | None:
    """FTP (RFC 959) and SMTP (RFC 5321) both greet with ``220``; SMTP servers name the protocol
    in the greeting ("ESMTP"/"SMTP"), FTP servers nearly always say "FTP" (vsftpd, ProFTPD,
    FileZilla, Microsoft FTP Service, Pure-FTPd). A bare 220 with neither is left unnamed."""
    first = data.split(b"\n", 1)[0].upper()
    if code not in (120, 220, 421):
        return None
    if b"SMTP" in first:
        return Identified("smtp", "greeting")
    if b"FTP" in first or code == 120:
        return Identified("ftp", "greeting")
    return None


def classify_rdp(reply: bytes) -> Identified | None:
    """An answer to an X.224 Connection Request: TPKT version 3, then an X.224 Connection Confirm
    (TPDU code 0xD0, ITU-T X.224 §13.4; [MS-RDPBCGR] 2.2.1.2)."""
    if len(reply) >= 6 and reply[0] == 3 and reply[1] == 0 and reply[5] & 0xF0 == 0xD0:
        return Identified("ms-wbt-server", "handshake")
    return None


def classify_redis(reply: bytes) -> Identified | None:
    """An answer to a RESP ``PING``: ``+PONG``, or an error a Redis server gives before AUTH
    (NOAUTH, protected mode's DENIED)."""
    if reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH") or reply.startswith(b"-DENIED"):
        return Identified("redis", "handshake")
    if reply.startswith(b"-ERR") and b"auth" in reply[:200].lower():
        return Identified("redis", "handshake")
    return None


def classify_tls(reply: bytes) -> Identified | None:
    """An answer to a TLS ClientHello: a handshake (22) or alert (21) record of a TLS/SSL 3 version
    (RFC 8446 §5.1). An alert still says the port speaks TLS."""
    if len(reply) >= 5 and reply[0] in (0x15, 0x16) and reply[1] == 3 and reply[2] <= 4:
        return Identified("ssl", "handshake", tunnel="ssl")
    return None


def classify_http(reply: bytes) -> Identified | None:
    """An answer to ``GET / HTTP/1.0``: a status line (RFC 9112 §4)."""
    if re.match(rb"^HTTP/1\.[01] \d{3}", reply):
        return Identified("http", "handshake")
    return None


def classify_netbios(reply: bytes) -> Identified | None:
    """An answer to a NetBIOS session request (RFC 1002 §4.3.2): positive (0x82), negative (0x83)
    or retarget (0x84) session response."""
    if len(reply) >= 4 and reply[0] in (0x82, 0x83, 0x84) and reply[1] in (0, 1):
        return Identified("netbios-ssn", "handshake")
    return None


def netbios_session_request(called: str = "*SMBSERVER", calling: str = "DUECARE") -> bytes:
    """RFC 1002 §4.3.2 SESSION REQUEST with first-level encoded names (§4.1): what an SMB client
    sends first on port 139. ``*SMBSERVER`` is the name Samba and Windows accept from clients that
    do not know the server's NetBIOS name."""

    def encode(name: str, suffix: int) -> bytes:
        raw = name.upper().encode("ascii")[:15].ljust(15, b" ") + bytes((suffix,))
        half = bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 0x0F)))
        return b"\x20" + half + b"\x00"

    body = encode(called, 0x20) + encode(calling, 0x00)
    return bytes((0x81, 0)) + len(body).to_bytes(2, "big") + body


#: What a client says before hanging up on a service it only identified (no probe of ours runs
#: on it): the protocol's own goodbye, so the server logs an orderly session, not an abort.
GOODBYE: dict[str, bytes] = {
    "ftp": b"QUIT\r\n",
    "smtp": b"QUIT\r\n",
    "pop3": b"QUIT\r\n",
    "imap": b"A1 LOGOUT\r\n",
    "redis": b"*1\r\n$4\r\nQUIT\r\n",
}

"""Pure FTP parsing: replies (RFC 959 §4.2), FEAT (RFC 2389), PASV, LIST lines, greeting products."""

from __future__ import annotations

import re
from dataclasses import dataclass

from duecare.probes.errors import ProtocolError
from duecare.probes.ftp.facts import MAX_ENTRIES, EntryKind, FtpEntry

#: A reply longer than this is garbage, not FTP (vsftpd's FEAT is ~120 bytes).
MAX_REPLY_BYTES = 16 * 1024
MAX_REPLY_LINES = 200

_FIRST = re.compile(rb"^([1-5][0-5][0-9])([ -])")


@dataclass(frozen=True, slots=True)
class FtpReply:
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The human text of the reply, codes stripped, one line per line."""
        out = []
        for i, line in enumerate(self.lines):
            if i == 0 or (i == len(self.lines) - 1 and line[:3] == str(self.code)):
                out.append(line[4:])
            else:
                out.append(line)
        return "\n".join(out).strip()

    @property
    def last_line(self) -> str:
        return self.lines[-1] if self.lines else ""


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace").replace("\x00", "").rstrip("\r")


def split_reply(buf: bytes) -> tuple[FtpReply, bytes] | None:
    """The first complete reply in ``buf`` and the bytes after it; None if more bytes are needed.

    RFC 959 §4.2: a multi-line reply starts ``ddd-`` and ends with a line starting ``ddd `` with the
    same code; lines between may say anything.
    """
    if not buf:
        return None
    head = _FIRST.match(buf[:4])
    if head is None:
        if len(buf) < 4 and buf.isdigit():
            return None
        raise ProtocolError(f"not an FTP reply: {buf[:16]!r}")
    code = head.group(1)
    multi = head.group(2) == b"-"
    lines: list[bytes] = []
    pos = 0
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if len(buf) > MAX_REPLY_BYTES:
                raise ProtocolError(f"FTP reply longer than {MAX_REPLY_BYTES} bytes")
            return None
        line = buf[pos:nl]
        lines.append(line)
        pos = nl + 1
        if len(lines) > MAX_REPLY_LINES or pos > MAX_REPLY_BYTES:
            raise ProtocolError("FTP reply has too many lines")
        if not multi or (len(lines) > 1 and line.startswith(code + b" ")):
            break
    return FtpReply(int(code), tuple(_decode(x) for x in lines)), buf[pos:]


_PRODUCTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bvsFTPd (\d+(?:\.\d+)+)", re.I), "vsftpd"),
    (re.compile(r"\bProFTPD (\d+(?:\.\d+)+\w*)", re.I), "ProFTPD"),
    (re.compile(r"\bPure-FTPd(?: (\d+(?:\.\d+)+))?", re.I), "Pure-FTPd"),
    (re.compile(r"\bFileZilla Server(?: version)?(?: (\d+(?:\.\d+)+))?", re.I), "FileZilla Server"),
    (re.compile(r"\bMicrosoft FTP Service()", re.I), "Microsoft FTP Service"),
    (re.compile(r"\bwu-(\d+(?:\.\d+)+[\w()-]*)", re.I), "wu-ftpd"),
)


def banner_product(banner: str) -> tuple[str | None, str | None]:
    """Product and version from a 220 greeting, when the server discloses them."""
    for pattern, product in _PRODUCTS:
        m = pattern.search(banner)
        if m:
            version = (m.group(1) or "").strip() or None
            return product, version
    return None, None


def features(reply: FtpReply) -> tuple[str, ...]:
    """FEAT lines (RFC 2389 §3.2): the lines between the 211- opening and the 211 closing line."""
    if reply.code != 211:
        return ()
    inner = reply.lines[1:-1] if len(reply.lines) > 1 else ()
    return tuple(line.strip()[:200] for line in inner if line.strip())[:64]


def tls_in_features(feats: tuple[str, ...]) -> bool:
    """RFC 4217 §6: a server that supports AUTH TLS lists ``AUTH TLS`` (IIS adds ``;TLS-C;SSL``)."""
    for feat in feats:
        name, _, args = feat.partition(" ")
        if name.upper() == "AUTH" and re.search(r"\b(TLS|SSL)", args, re.I):
            return True
    return False


_PASV = re.compile(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")


def pasv_port(reply: FtpReply) -> int:
    """The data port of a 227 reply. The address in it is ignored on purpose (see probe)."""
    if reply.code != 227:
        raise ProtocolError(f"PASV answered {reply.code}, not 227")
    m = _PASV.search(reply.lines[0])
    if m is None:
        raise ProtocolError("227 reply without h1,h2,h3,h4,p1,p2")
    nums = [int(g) for g in m.groups()]
    if any(n > 255 for n in nums):
        raise ProtocolError("227 reply with a number above 255")
    port = nums[4] * 256 + nums[5]
    if port == 0:
        raise ProtocolError("227 reply names port 0")
    return port


# Unix `ls -l` style, as most servers emit for LIST: mode, links, owner, group, size, date, name.
_UNIX = re.compile(
    r"^(?P<mode>[-dlbcps][-rwxsStTl]{9})[+.@]?\s+\d+\s+\S+\s+(?:\S+\s+)?\d+\s+"
    r"\w{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})\s(?P<name>.+)$"
)
# MS-DOS style (IIS default): 01-02-24  10:00AM       <DIR>          pub
_DOS = re.compile(r"^\d{2}-\d{2}-\d{2,4}\s+\d{1,2}:\d{2}(?:AM|PM)?\s+(?P<size><DIR>|\d+)\s+(?P<name>.+)$", re.I)


_KINDS: dict[str, EntryKind] = {"d": "dir", "-": "file", "l": "link"}


def list_entry(line: str) -> FtpEntry | None:
    """One LIST line → entry; None for blank or ``total N`` lines."""
    line = line.rstrip("\r\n")
    if not line.strip() or re.match(r"^total \d+$", line):
        return None
    m = _UNIX.match(line)
    if m:
        mode = m.group("mode")
        name = m.group("name")
        kind = _KINDS.get(mode[0], "other")
        if kind == "link":
            name = name.split(" -> ", 1)[0]
        return FtpEntry(name=name[:256], kind=kind, world_writable=mode[8] == "w")
    m = _DOS.match(line)
    if m:
        dos_kind: EntryKind = "dir" if m.group("size").upper() == "<DIR>" else "file"
        return FtpEntry(name=m.group("name")[:256], kind=dos_kind)
    return FtpEntry(name=line.strip()[:256], kind="other")


def parse_listing(data: bytes) -> tuple[tuple[FtpEntry, ...], int]:
    """LIST data → (first MAX_ENTRIES entries, total entries seen)."""
    entries: list[FtpEntry] = []
    total = 0
    for raw in data.split(b"\n"):
        entry = list_entry(_decode(raw))
        if entry is None:
            continue
        total += 1
        if len(entries) < MAX_ENTRIES:
            entries.append(entry)
    return tuple(entries), total

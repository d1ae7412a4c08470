"""Pure parsing of memcached's text-protocol ``stats`` reply (memcached doc/protocol.txt, "Statistics")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from duecare.probes.errors import ProtocolError

#: memcached 1.6 answers ``stats`` in ~2.2 KiB; 64 KiB is plenty and bounds a hostile peer.
MAX_STATS_BYTES = 64 * 1024
MAX_STATS = 300

_STAT = re.compile(rb"^STAT ([\x21-\x7e]{1,64}) ([^\r\n]{0,512})$")
_REFUSAL = re.compile(rb"^(ERROR|CLIENT_ERROR|SERVER_ERROR)\b[^\r\n]{0,300}$")


@dataclass(frozen=True, slots=True)
class StatsReply:
    stats: dict[str, str]
    #: The error line instead of stats (``ERROR``, ``CLIENT_ERROR …``, ``SERVER_ERROR …``).
    refusal: str | None = None


def parse_stats(buf: bytes) -> StatsReply | None:
    """A complete ``stats`` reply (``STAT k v`` lines up to ``END``); None if more bytes are needed."""
    stats: dict[str, str] = {}
    pos = 0
    while True:
        end = buf.find(b"\r\n", pos)
        if end < 0:
            if len(buf) > MAX_STATS_BYTES or len(buf) - pos > 1024:
                raise ProtocolError("memcached: stats reply too long or line without CRLF")
            return None
        line = buf[pos:end]
        pos = end + 2
        if line == b"END":
            return StatsReply(stats)
        if not stats and _REFUSAL.match(line):
            return StatsReply({}, refusal=line.decode("ascii", "replace"))
        m = _STAT.match(line)
        if m is None:
            raise ProtocolError(f"memcached: not a STAT line: {line[:40]!r}")
        if len(stats) >= MAX_STATS or pos > MAX_STATS_BYTES:
            raise ProtocolError("memcached: too many STAT lines")
        stats[m.group(1).decode("ascii")] = m.group(2).decode("utf-8", "replace")


def as_int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() and len(value) <= 20 else None

"""Pure RESP2 parsing (https://redis.io/docs/latest/develop/reference/protocol-spec/) and INFO fields."""

from __future__ import annotations

import re
from dataclasses import dataclass

from duecare.probes.errors import ProtocolError

#: INFO server is ~1.5 KiB; a bulk reply bigger than this is not an answer to our questions.
MAX_BULK = 256 * 1024
MAX_LINE = 16 * 1024
MAX_ARRAY = 64
MAX_DEPTH = 4


@dataclass(frozen=True, slots=True)
class RespError:
    """A ``-`` reply: the first word is the error kind (NOAUTH, NOPERM, ERR, DENIED…)."""

    message: str

    @property
    def kind(self) -> str:
        return self.message.split(" ", 1)[0].upper()


Resp = str | int | bytes | None | RespError | list["Resp"]


def _line(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    end = buf.find(b"\r\n", pos, pos + MAX_LINE + 2)
    if end < 0:
        if len(buf) - pos > MAX_LINE:
            raise ProtocolError(f"RESP line longer than {MAX_LINE} bytes")
        return None
    return buf[pos:end], end + 2


def _int(raw: bytes) -> int:
    if not re.fullmatch(rb"-?\d{1,19}", raw):
        raise ProtocolError(f"RESP: bad integer {raw[:20]!r}")
    return int(raw)


def _parse(buf: bytes, pos: int, depth: int) -> tuple[Resp, int] | None:
    if pos >= len(buf):
        return None
    kind = buf[pos : pos + 1]
    got = _line(buf, pos + 1)
    if got is None:
        if kind not in b"+-:$*":
            raise ProtocolError(f"RESP: unknown reply type {kind!r}")
        return None
    line, nxt = got
    if kind == b"+":
        return line.decode("utf-8", "replace"), nxt
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), nxt
    if kind == b":":
        return _int(line), nxt
    if kind == b"$":
        size = _int(line)
        if size == -1:
            return None, nxt
        if size < 0 or size > MAX_BULK:
            raise ProtocolError(f"RESP: bulk string of {size} bytes")
        if len(buf) < nxt + size + 2:
            return None
        if buf[nxt + size : nxt + size + 2] != b"\r\n":
            raise ProtocolError("RESP: bulk string not followed by CRLF")
        return buf[nxt : nxt + size], nxt + size + 2
    if kind == b"*":
        count = _int(line)
        if count == -1:
            return None, nxt
        if count < 0 or count > MAX_ARRAY or depth >= MAX_DEPTH:
            raise ProtocolError(f"RESP: array of {count} at depth {depth}")
        items: list[Resp] = []
        for _ in range(count):
            sub = _parse(buf, nxt, depth + 1)
            if sub is None:
                return None
            item, nxt = sub
            items.append(item)
        return items, nxt
    raise ProtocolError(f"RESP: unknown reply type {kind!r}")


def parse_reply(buf: bytes) -> tuple[Resp, bytes] | None:
    """The first complete reply and the bytes after it; None if more bytes are needed."""
    got = _parse(buf, 0, 0)
    if got is None:
        return None
    value, end = got
    return value, buf[end:]


def encode_command(*args: bytes) -> bytes:
    """A command as a RESP array of bulk strings, as every client sends it."""
    out = b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


def is_auth_error(err: RespError) -> bool:
    """``-NOAUTH`` (Redis ≥ 2.8), or the older ``-ERR operation not permitted`` / ``-ERR … AUTH …``."""
    if err.kind == "NOAUTH":
        return True
    return err.kind == "ERR" and bool(re.search(r"operation not permitted|\bauth", err.message, re.I))


def parse_info(body: bytes) -> dict[str, str]:
    """``INFO`` text: ``# Section`` headers and ``key:value`` lines; the first 200 keys are kept."""
    out: dict[str, str] = {}
    for raw in body.split(b"\n"):
        line = raw.decode("utf-8", "replace").strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        if len(out) < 200 and key not in out:
            out[key[:64]] = value[:200]
    return out

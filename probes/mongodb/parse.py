"""Pure MongoDB wire protocol: the BSON subset (bsonspec.org 1.1) and OP_MSG / OP_QUERY framing.

Wire format per the MongoDB manual, "Legacy Opcodes" and "OP_MSG" (reference/mongodb-wire-protocol).
Every length is checked against the bytes we hold before it is used.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from duecare.probes.errors import ProtocolError

OP_REPLY, OP_QUERY, OP_COMPRESSED, OP_MSG = 1, 2004, 2012, 2013
HEADER_LEN = 16
#: Our three replies are a few hundred bytes; a server's maximum (48 MB) is not for us to buffer.
MAX_REPLY = 1024 * 1024
MAX_DEPTH = 32
MAX_ELEMENTS = 10_000

BsonValue = Any  # float | str | dict | list | bytes | bool | int | None


# ── BSON encoding (only the types our commands use) ──────────────────────────────────────────


def _cstring(name: str) -> bytes:
    raw = name.encode()
    if b"\x00" in raw:
        raise ValueError("BSON names cannot contain NUL")
    return raw + b"\x00"


def _element(name: str, value: BsonValue) -> bytes:
    key = _cstring(name)
    if isinstance(value, bool):
        return b"\x08" + key + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"\x10" + key + struct.pack("<i", value)
        return b"\x12" + key + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + key + struct.pack("<d", value)
    if isinstance(value, str):
        raw = value.encode()
        return b"\x02" + key + struct.pack("<i", len(raw) + 1) + raw + b"\x00"
    if isinstance(value, dict):
        return b"\x03" + key + encode_document(value)
    if isinstance(value, list):
        return b"\x04" + key + encode_document({str(i): v for i, v in enumerate(value)})
    if value is None:
        return b"\x0a" + key
    if isinstance(value, bytes):
        return b"\x05" + key + struct.pack("<i", len(value)) + b"\x00" + value
    raise TypeError(f"cannot encode {type(value).__name__} as BSON")


def encode_document(doc: dict[str, BsonValue]) -> bytes:
    body = b"".join(_element(k, v) for k, v in doc.items())
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


# ── BSON decoding ────────────────────────────────────────────────────────────────────────────


class _Reader:
    """Walks one buffer; every read is bounds-checked and counted."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.elements = 0

    def take(self, pos: int, n: int, end: int) -> bytes:
        if n < 0 or pos + n > end:
            raise ProtocolError("BSON: value runs past its document")
        return self.data[pos : pos + n]

    def cstring(self, pos: int, end: int) -> tuple[str, int]:
        nul = self.data.find(b"\x00", pos, end)
        if nul < 0:
            raise ProtocolError("BSON: unterminated name")
        return self.data[pos:nul].decode("utf-8", "replace"), nul + 1

    def string(self, pos: int, end: int) -> tuple[str, int]:
        (n,) = struct.unpack("<i", self.take(pos, 4, end))
        raw = self.take(pos + 4, n, end)
        if n < 1 or raw[-1:] != b"\x00":
            raise ProtocolError("BSON: bad string length or terminator")
        return raw[:-1].decode("utf-8", "replace"), pos + 4 + n

    def document(self, pos: int, end: int, depth: int) -> tuple[dict[str, BsonValue], int]:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"BSON: nested deeper than {MAX_DEPTH}")
        (size,) = struct.unpack("<i", self.take(pos, 4, end))
        if size < 5 or pos + size > end:
            raise ProtocolError(f"BSON: document size {size} does not fit")
        stop = pos + size - 1
        if self.data[stop] != 0:
            raise ProtocolError("BSON: document not NUL-terminated")
        out: dict[str, BsonValue] = {}
        p = pos + 4
        while p < stop:
            self.elements += 1
            if self.elements > MAX_ELEMENTS:
                raise ProtocolError("BSON: too many elements")
            kind = self.data[p]
            name, p = self.cstring(p + 1, stop)
            out[name], p = self.value(kind, p, stop, depth)
        if p != stop:
            raise ProtocolError("BSON: element runs past the document end")
        return out, pos + size

    def value(self, kind: int, p: int, end: int, depth: int) -> tuple[BsonValue, int]:
        fixed = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}
        if kind in fixed:
            raw = self.take(p, fixed[kind], end)
            nxt = p + fixed[kind]
            if kind == 0x01:
                return struct.unpack("<d", raw)[0], nxt
            if kind == 0x08:
                if raw[0] > 1:
                    raise ProtocolError("BSON: boolean byte is not 0 or 1")
                return raw[0] == 1, nxt
            if kind == 0x10:
                return struct.unpack("<i", raw)[0], nxt
            if kind in (0x09, 0x12):
                return struct.unpack("<q", raw)[0], nxt
            if kind == 0x11:
                return struct.unpack("<Q", raw)[0], nxt
            return raw, nxt  # ObjectId, Decimal128: opaque bytes
        if kind in (0x02, 0x0D, 0x0E):  # string, JavaScript code, symbol
            return self.string(p, end)
        if kind in (0x03, 0x04):
            doc, nxt = self.document(p, end, depth + 1)
            return (list(doc.values()) if kind == 0x04 else doc), nxt
        if kind == 0x05:
            (n,) = struct.unpack("<i", self.take(p, 4, end))
            return self.take(p + 5, n, end), p + 5 + n
        if kind in (0x06, 0x0A, 0x7F, 0xFF):  # undefined, null, maxKey, minKey
            return None, p
        if kind == 0x0B:  # regex: pattern and options as two cstrings
            pattern, p = self.cstring(p, end)
            _opts, p = self.cstring(p, end)
            return pattern, p
        raise ProtocolError(f"BSON: unsupported element type 0x{kind:02x}")


def decode_document(data: bytes) -> dict[str, BsonValue]:
    """Exactly one document filling ``data``."""
    doc, end = _Reader(data).document(0, len(data), 0)
    if end != len(data):
        raise ProtocolError("BSON: bytes after the document")
    return doc


# ── messages ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    request_id: int
    response_to: int
    op_code: int


def parse_header(data: bytes) -> Header:
    if len(data) != HEADER_LEN:
        raise ProtocolError("MongoDB: short message header")
    length, request_id, response_to, op_code = struct.unpack("<iiii", data)
    if length <= HEADER_LEN or length > MAX_REPLY:
        raise ProtocolError(f"MongoDB: message length {length} out of bounds")
    return Header(length, request_id, response_to, op_code)


def _frame(request_id: int, op_code: int, body: bytes) -> bytes:
    return struct.pack("<iiii", HEADER_LEN + len(body), request_id, 0, op_code) + body


def encode_op_msg(request_id: int, command: dict[str, BsonValue]) -> bytes:
    """OP_MSG, flagBits 0 (no checksum, no moreToCome), one kind-0 body section."""
    return _frame(request_id, OP_MSG, struct.pack("<I", 0) + b"\x00" + encode_document(command))


def encode_op_query(request_id: int, command: dict[str, BsonValue]) -> bytes:
    """Legacy OP_QUERY of a command on ``admin.$cmd``, numberToReturn -1 (one document, no cursor)."""
    body = struct.pack("<i", 0) + b"admin.$cmd\x00" + struct.pack("<ii", 0, -1) + encode_document(command)
    return _frame(request_id, OP_QUERY, body)


def parse_op_msg(body: bytes) -> dict[str, BsonValue]:
    """The kind-0 body document of an OP_MSG reply (kind-1 sequences are skipped)."""
    if len(body) < 5:
        raise ProtocolError("OP_MSG: too short")
    (flags,) = struct.unpack("<I", body[:4])
    end = len(body) - 4 if flags & 0x1 else len(body)  # checksumPresent: CRC-32C trails
    if flags & 0xFFFC:  # bits 0-15 are "required": an unknown one must be an error (spec)
        raise ProtocolError(f"OP_MSG: unknown required flag bits 0x{flags:08x}")
    reader = _Reader(body)
    p = 4
    result: dict[str, BsonValue] | None = None
    while p < end:
        kind = body[p]
        if kind == 0:
            if result is not None:
                raise ProtocolError("OP_MSG: two body sections")
            result, p = reader.document(p + 1, end, 0)
        elif kind == 1:
            (size,) = struct.unpack("<i", reader.take(p + 1, 4, end))
            if size < 4 or p + 1 + size > end:
                raise ProtocolError("OP_MSG: bad document-sequence size")
            p += 1 + size
        else:
            raise ProtocolError(f"OP_MSG: unknown section kind {kind}")
    if result is None:
        raise ProtocolError("OP_MSG: no body section")
    return result


def parse_op_reply(body: bytes) -> dict[str, BsonValue]:
    """The first document of a legacy OP_REPLY."""
    if len(body) < 20:
        raise ProtocolError("OP_REPLY: too short")
    flags, _cursor, _start, returned = struct.unpack("<iqii", body[:20])
    if flags & 0x2:
        raise ProtocolError("OP_REPLY: QueryFailure flag set")
    if returned < 1:
        raise ProtocolError("OP_REPLY: no document returned")
    doc, _end = _Reader(body).document(20, len(body), 0)
    return doc


def command_ok(doc: dict[str, BsonValue]) -> bool:
    """``ok`` is 1 / 1.0 / true on success, whatever numeric type the server chose."""
    ok = doc.get("ok")
    return ok is True or (isinstance(ok, int | float) and not isinstance(ok, bool) and ok == 1)


def error_of(doc: dict[str, BsonValue]) -> str:
    code = doc.get("codeName") or doc.get("code") or "error"
    return f"{code}: {doc.get('errmsg', '')}"[:300]

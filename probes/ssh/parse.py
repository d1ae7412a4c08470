"""SSH transport up to the server's host key (RFC 4253 §4.2, §6, §7; RFC 5656 §4; RFC 8731). Pure.

Before SSH_MSG_NEWKEYS every packet is in the clear with no MAC (§6, "none" until keys are taken
into use), so the identification, both KEXINITs, the ECDH init and reply, and our DISCONNECT are
plain binary packets: length, padding length, payload, padding.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from duecare.probes.errors import ProtocolError
from duecare.probes.ssh.facts import SshFacts

MSG_DISCONNECT = 1
MSG_IGNORE = 2
MSG_UNIMPLEMENTED = 3
MSG_DEBUG = 4
MSG_KEXINIT = 20
MSG_KEX_ECDH_INIT = 30
MSG_KEX_ECDH_REPLY = 31
#: RFC 4253 §11.1: SSH_DISCONNECT_BY_APPLICATION.
DISCONNECT_BY_APPLICATION = 11
#: §4.2: the identification line is at most 255 characters, CR LF included.
MAX_IDENT = 255
#: §6.1: implementations must accept packets of 35000 bytes; we refuse anything longer.
MAX_PACKET = 35000
_BLOCK = 8
#: Key exchanges we run, in our order of preference (curve25519 first, RFC 8731; NIST P-256, RFC 5656).
OUR_KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256")
#: Host key algorithms we accept, in order; the server sends the key of the first it also has.
OUR_HOST_KEYS = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-dss",
)
#: Ciphers, MACs and compression an ordinary client offers: never used (we leave before NEWKEYS),
#: but a server disconnects at once when the lists share no name.
OUR_CIPHERS = (
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-cbc",
    "aes256-cbc",
    "3des-cbc",
)
OUR_MACS = (
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
)
OUR_COMPRESSION = ("none",)
#: What we say we are: RFC 4253 §4.2's form, no comments.
CLIENT_IDENT = b"SSH-2.0-duecare_1.0"


@dataclass(frozen=True, slots=True)
class Identification:
    line: str
    proto_version: str
    software: str
    comments: str
    pre_lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KexInit:
    cookie: bytes
    kex_algorithms: tuple[str, ...]
    host_key_algorithms: tuple[str, ...]
    ciphers_c2s: tuple[str, ...]
    ciphers_s2c: tuple[str, ...]
    macs_c2s: tuple[str, ...]
    macs_s2c: tuple[str, ...]
    compression_c2s: tuple[str, ...]
    compression_s2c: tuple[str, ...]
    first_kex_follows: bool


@dataclass(frozen=True, slots=True)
class EcdhReply:
    host_key: bytes
    server_public: bytes
    signature: bytes


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\x00", "")


def split_identification(data: bytes) -> tuple[Identification, bytes] | None:
    """The server's identification and the bytes after it; None while the line is incomplete.

    §4.2: a server may send other lines first; the identification is the first line beginning with
    "SSH-". Versions "2.0" and "1.99" (§5.1, a server that also speaks SSH 1) are SSH 2.
    """
    pre: list[str] = []
    rest = data
    while True:
        end = rest.find(b"\n")
        if end < 0:
            limit = MAX_IDENT if rest.startswith(b"SSH-") else 1024
            if len(rest) > limit or len(pre) >= 32:
                raise ProtocolError("SSH identification line too long or never sent")
            return None
        line, rest = rest[:end].rstrip(b"\r"), rest[end + 1 :]
        if line.startswith(b"SSH-"):
            break
        if len(pre) >= 32 or len(line) > 1024:
            raise ProtocolError("more than 32 lines before the SSH identification")
        pre.append(_text(line)[:255])
    if len(line) + 2 > MAX_IDENT:
        raise ProtocolError(f"SSH identification of {len(line)} bytes, over the 253 of RFC 4253 §4.2")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError("SSH identification is not US-ASCII") from exc
    proto, sep, tail = text[4:].partition("-")
    if not sep or not tail:
        raise ProtocolError(f"malformed SSH identification {text[:80]!r}")
    if proto not in ("2.0", "1.99"):
        raise ProtocolError(f"SSH protocol version {proto[:16]!r}: only SSH 2 is spoken here")
    software, _, comments = tail.partition(" ")
    return Identification(text, proto, software, comments, tuple(pre)), rest


def build_packet(payload: bytes, random: Callable[[int], bytes]) -> bytes:
    """One unencrypted binary packet (§6): at least 4 bytes of random padding, total a multiple of 8."""
    pad = _BLOCK - (5 + len(payload)) % _BLOCK
    if pad < 4:
        pad += _BLOCK
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + random(pad)


def split_packet(data: bytes) -> tuple[bytes, bytes] | None:
    """(payload, rest) of the first unencrypted packet in ``data``; None while it is incomplete."""
    if len(data) < 5:
        return None
    length, pad = struct.unpack_from("!IB", data)
    if length > MAX_PACKET or length < 5:
        raise ProtocolError(f"SSH packet length {length} out of bounds")
    if pad >= length or pad < 4:
        raise ProtocolError(f"SSH padding length {pad} invalid for packet length {length}")
    if len(data) < 4 + length:
        return None
    return data[5 : 4 + length - pad], data[4 + length :]


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.at, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise ProtocolError(f"{self.what} truncated")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def uint32(self) -> int:
        value: int = struct.unpack("!I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.uint32())

    def name_list(self) -> tuple[str, ...]:
        raw = self.string()
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{self.what}: name-list is not US-ASCII") from exc
        return tuple(n for n in text.split(",") if n)[:64] if text else ()


def _string(value: bytes) -> bytes:
    return struct.pack("!I", len(value)) + value


def _name_list(names: Sequence[str]) -> bytes:
    return _string(",".join(names).encode("ascii"))


def parse_kexinit(payload: bytes) -> KexInit:
    """SSH_MSG_KEXINIT (§7.1): cookie, ten name-lists, first_kex_packet_follows, reserved."""
    r = _Reader(payload, "SSH_MSG_KEXINIT")
    if r.byte() != MSG_KEXINIT:
        raise ProtocolError(f"expected SSH_MSG_KEXINIT (20), got message {payload[0]}")
    cookie = r.take(16)
    lists = [r.name_list() for _ in range(10)]
    follows = r.byte() != 0
    r.uint32()
    kex, keys, c_cs, c_sc, m_cs, m_sc, z_cs, z_sc = lists[:8]  # the two language lists are ignored
    return KexInit(cookie, kex, keys, c_cs, c_sc, m_cs, m_sc, z_cs, z_sc, follows)


def build_kexinit(cookie: bytes, kex: Sequence[str], host_keys: Sequence[str]) -> bytes:
    if len(cookie) != 16:
        raise ValueError("the KEXINIT cookie is 16 bytes")
    lists = (kex, host_keys, OUR_CIPHERS, OUR_CIPHERS, OUR_MACS, OUR_MACS, OUR_COMPRESSION, OUR_COMPRESSION, (), ())
    return bytes((MSG_KEXINIT,)) + cookie + b"".join(_name_list(n) for n in lists) + b"\x00" + bytes(4)


def choose(ours: Sequence[str], theirs: Sequence[str]) -> str | None:
    """§7.1: the first algorithm of the client's list that the server also supports."""
    return next((a for a in ours if a in theirs), None)


def ecdh_init(client_public: bytes) -> bytes:
    """SSH_MSG_KEX_ECDH_INIT (RFC 5656 §4): the client's ephemeral public key Q_C as a string."""
    return bytes((MSG_KEX_ECDH_INIT,)) + _string(client_public)


def parse_ecdh_reply(payload: bytes) -> EcdhReply:
    """SSH_MSG_KEX_ECDH_REPLY (RFC 5656 §4): K_S (host key blob), Q_S, signature of H."""
    r = _Reader(payload, "SSH_MSG_KEX_ECDH_REPLY")
    kind = r.byte()
    if kind != MSG_KEX_ECDH_REPLY:
        raise ProtocolError(f"expected SSH_MSG_KEX_ECDH_REPLY (31), got message {kind}")
    host_key, server_public, signature = r.string(), r.string(), r.string()
    if not host_key:
        raise ProtocolError("SSH_MSG_KEX_ECDH_REPLY carries an empty host key")
    return EcdhReply(host_key, server_public, signature)


def host_key_type(blob: bytes) -> str:
    """The key's own name, the first string of its public key blob (RFC 4253 §6.6)."""
    name = _Reader(blob, "host key blob").string()
    try:
        text = name.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError("host key type is not US-ASCII") from exc
    if not text or len(text) > 64 or not text.isprintable():
        raise ProtocolError("host key blob has no usable type name")
    return text


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA-256 fingerprint (ssh-keygen -l, ssh-keyscan): base64 of the blob's digest, unpadded."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def parse_disconnect(payload: bytes) -> tuple[int, str]:
    """SSH_MSG_DISCONNECT (§11.1): reason code and description."""
    r = _Reader(payload, "SSH_MSG_DISCONNECT")
    r.byte()
    return r.uint32(), _text(r.string())[:200]


def disconnect(reason: int = DISCONNECT_BY_APPLICATION, description: str = "") -> bytes:
    """SSH_MSG_DISCONNECT payload (§11.1), language tag empty."""
    return bytes((MSG_DISCONNECT,)) + struct.pack("!I", reason) + _string(description.encode()) + _string(b"")


def ssh_facts(ident: Identification, offer: KexInit, kex: str | None, blob: bytes | None) -> SshFacts:
    """The facts of one conversation; without a host key (no common exchange) the key fields stay None."""
    return SshFacts(
        identification=ident.line,
        proto_version=ident.proto_version,
        software=ident.software,
        comments=ident.comments,
        pre_lines=ident.pre_lines,
        kex_algorithms=offer.kex_algorithms,
        host_key_algorithms=offer.host_key_algorithms,
        ciphers=offer.ciphers_s2c,
        macs=offer.macs_s2c,
        compression=offer.compression_s2c,
        kex_used=kex,
        host_key_type=host_key_type(blob) if blob else None,
        host_key_fingerprint=fingerprint(blob) if blob else None,
        host_key_sha256=hashlib.sha256(blob).hexdigest() if blob else None,
    )

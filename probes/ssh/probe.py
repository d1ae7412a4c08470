"""SSH: identification, key exchange up to the host key, then an unencrypted DISCONNECT.

We send our identification and a KEXINIT that offers only a key exchange the server listed, one
ECDH init, and read the reply that carries the host key (K_S). We stop before SSH_MSG_NEWKEYS: no
keys are taken into use, no user name is ever sent, so no authentication is attempted or logged as
failed. The DISCONNECT (reason 11, "by application") tells the server the client left on purpose.
"""

from __future__ import annotations

import contextlib
import os
from typing import ClassVar

from duecare.probes._net import Stream
from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProtocolError
from duecare.probes.ssh.facts import SshFacts
from duecare.probes.ssh.parse import (
    CLIENT_IDENT,
    MSG_DEBUG,
    MSG_DISCONNECT,
    MSG_IGNORE,
    MSG_KEX_ECDH_REPLY,
    MSG_KEXINIT,
    MSG_UNIMPLEMENTED,
    OUR_HOST_KEYS,
    OUR_KEX,
    Identification,
    build_kexinit,
    build_packet,
    choose,
    disconnect,
    ecdh_init,
    parse_disconnect,
    parse_ecdh_reply,
    parse_kexinit,
    split_identification,
    split_packet,
    ssh_facts,
)
from duecare.wire import EvidenceKind

#: Packets we read while waiting for one message (IGNORE and DEBUG are skipped, §11.2-3).
_MAX_PACKETS = 16


def client_public(kex: str) -> bytes:
    """A fresh ephemeral public key for the chosen exchange; the private half is never needed, as
    we never derive keys. cryptography is imported here, when an SSH server answers, so a scan
    without one never loads it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, x25519

    if kex.startswith("curve25519"):
        return (
            x25519.X25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


class _Conversation:
    def __init__(self, s: Stream) -> None:
        self.s = s
        self.buf = b""

    async def identification(self) -> Identification:
        while True:
            got = split_identification(self.buf)
            if got is not None:
                ident, self.buf = got
                return ident
            chunk = await self.s.read_some(1024, "SSH identification")
            if not chunk:
                raise ProtocolError("connection closed before an SSH identification")
            self.buf += chunk

    async def message(self, want: int, what: str) -> bytes:
        for _ in range(_MAX_PACKETS):
            got = split_packet(self.buf)
            while got is None:
                chunk = await self.s.read_some(8192, what)
                if not chunk:
                    raise ProtocolError(f"connection closed before {what}")
                self.buf += chunk
                got = split_packet(self.buf)
            payload, self.buf = got
            if not payload:
                raise ProtocolError(f"empty SSH packet instead of {what}")
            kind = payload[0]
            if kind in (MSG_IGNORE, MSG_DEBUG, MSG_UNIMPLEMENTED):
                continue
            if kind == MSG_DISCONNECT:
                code, text = parse_disconnect(payload)
                raise ProtocolError(f"server disconnected before {what}: reason {code} {text!r}")
            if kind != want:
                raise ProtocolError(f"SSH message {kind} instead of {what}")
            return payload
        raise ProtocolError(f"more than {_MAX_PACKETS} packets without {what}")


class SshProbe(ServiceProbe):
    id: ClassVar[str] = "ssh"
    ports: ClassVar[frozenset[int]] = frozenset({22})
    services: ClassVar[frozenset[str]] = frozenset({"ssh"})
    facts_model: ClassVar[type[Facts]] = SshFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[SshFacts]:
        assert target.port is not None
        async with await ctx.connect(target.host, target.port) as s:
            talk = _Conversation(s)
            await s.write(CLIENT_IDENT + b"\r\n")
            ident = await talk.identification()
            try:
                offer = parse_kexinit(await talk.message(MSG_KEXINIT, "SSH_MSG_KEXINIT"))
                kex = choose(OUR_KEX, offer.kex_algorithms)
                blob: bytes | None = None
                if kex is not None and choose(OUR_HOST_KEYS, offer.host_key_algorithms) is not None:
                    ours = build_kexinit(os.urandom(16), (kex,), OUR_HOST_KEYS)
                    init = ecdh_init(client_public(kex))
                    await s.write(build_packet(ours, os.urandom) + build_packet(init, os.urandom))
                    reply = await talk.message(MSG_KEX_ECDH_REPLY, "SSH_MSG_KEX_ECDH_REPLY")
                    blob = parse_ecdh_reply(reply).host_key
                else:
                    kex = None
            finally:
                # Once it spoke SSH, the server hears why we leave, whatever went wrong after; it may
                # already have hung up.
                with contextlib.suppress(ProbeError):
                    await s.write(build_packet(disconnect(), os.urandom))
        facts = ssh_facts(ident, offer, kex, blob)
        where = f"{target.host}:{target.port}"
        key = f"{facts.host_key_type} {facts.host_key_fingerprint}" if blob else "no host key (no common key exchange)"
        summary = f"SSH server on {where}: {facts.software}, host key {key}"
        excerpt = f"{ident.line}\nhost key: {key}\nkex: {','.join(offer.kex_algorithms)}"
        return Observation(facts, (evidence(self.id, EvidenceKind.HANDSHAKE, summary, excerpt),))

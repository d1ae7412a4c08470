"""The SSH probe against a loopback peer replaying OpenSSH 9.2's recorded bytes (fixtures/README.md):
what it sends, and that it always leaves with an unencrypted DISCONNECT before NEWKEYS."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from duecare.probes.runner import ProbeOutcome
from duecare.probes.ssh.parse import (
    MSG_DISCONNECT,
    MSG_KEX_ECDH_INIT,
    MSG_KEXINIT,
    OUR_HOST_KEYS,
    build_kexinit,
    build_packet,
    disconnect,
    parse_disconnect,
    parse_kexinit,
    split_identification,
    split_packet,
)
from duecare.probes.ssh.probe import SshProbe
from duecare.wire import ProbeStatus
from tests.probes.fake_tcp import Handler, outcome
from tests.probes.ssh.test_parse import KEYGEN

FIX = Path(__file__).parent / "fixtures"


def _recorded(kex: str) -> tuple[bytes, bytes]:
    """(identification + KEXINIT, ECDH reply + NEWKEYS) as OpenSSH sent them."""
    data = (FIX / f"openssh92_{kex}.bin").read_bytes()
    got = split_identification(data)
    assert got is not None
    p = split_packet(got[1])
    assert p is not None
    cut = len(data) - len(p[1])
    return data[:cut], data[cut:]


def _client_packets(data: bytes) -> list[bytes]:
    assert data.startswith(b"SSH-2.0-duecare_1.0\r\n")
    rest, out = data.split(b"\r\n", 1)[1], []
    while (p := split_packet(rest)) is not None:
        out.append(p[0])
        rest = p[1]
    assert rest == b""
    return out


def _client_packets_so_far(data: bytes) -> list[bytes]:
    if b"\r\n" not in data:
        return []
    rest, out = data.split(b"\r\n", 1)[1], []
    while (p := split_packet(rest)) is not None:
        out.append(p[0])
        rest = p[1]
    return out


def _server(first: bytes, reply: bytes, heard: bytearray) -> Handler:
    """Sends ``first``; once the client sent its KEXINIT and ECDH init, sends ``reply``; records all
    the client sent until it hangs up. A client that disconnects early gets no reply."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(first)
        await writer.drain()
        while True:
            sent = _client_packets_so_far(bytes(heard))
            if len(sent) >= 2 or any(p[:1] == bytes((MSG_DISCONNECT,)) for p in sent):
                break
            chunk = await reader.read(4096)
            if not chunk:
                return
            heard.extend(chunk)
        if not any(p[:1] == bytes((MSG_DISCONNECT,)) for p in sent):
            writer.write(reply)
            await writer.drain()
        heard.extend(await reader.read())

    return handle


def _run(first: bytes, reply: bytes) -> tuple[ProbeOutcome, list[bytes]]:
    heard = bytearray()
    result = outcome(SshProbe(), _server(first, reply, heard))
    return result, _client_packets(bytes(heard))


def test_reads_the_host_key_and_leaves_before_newkeys() -> None:
    result, sent = _run(*_recorded("curve25519-sha256"))
    assert result.attempt.status is ProbeStatus.COMPLETED, result.attempt.error
    facts = result.attempt.facts
    assert facts is not None
    assert facts["software"] == "OpenSSH_9.2p1" and facts["identification"].endswith("deb12u10")
    assert (facts["kex_used"], facts["host_key_type"]) == ("curve25519-sha256", "ssh-ed25519")
    assert facts["host_key_fingerprint"] == KEYGEN
    assert len(facts["host_key_sha256"]) == 64 and "ssh-ed25519" in facts["host_key_algorithms"]
    kexinit, init, bye = sent
    assert kexinit[0] == MSG_KEXINIT and parse_kexinit(kexinit).kex_algorithms == ("curve25519-sha256",)
    assert init[0] == MSG_KEX_ECDH_INIT and len(init) == 1 + 4 + 32
    assert bye[0] == MSG_DISCONNECT and parse_disconnect(bye) == (11, "")


def test_falls_back_to_nistp256_when_the_server_lacks_curve25519() -> None:
    first, reply = _recorded("ecdh-sha2-nistp256")
    ident = first.split(b"\r\n", 1)[0] + b"\r\n"
    offer = build_kexinit(os.urandom(16), ("diffie-hellman-group14-sha256", "ecdh-sha2-nistp256"), ("ssh-ed25519",))
    result, sent = _run(ident + build_packet(offer, os.urandom), reply)
    assert result.attempt.status is ProbeStatus.COMPLETED, result.attempt.error
    assert result.attempt.facts is not None
    assert result.attempt.facts["kex_used"] == "ecdh-sha2-nistp256"
    assert result.attempt.facts["host_key_fingerprint"] == KEYGEN
    assert parse_kexinit(sent[0]).kex_algorithms == ("ecdh-sha2-nistp256",)
    assert len(sent[1]) == 1 + 4 + 65  # an uncompressed P-256 point


def test_no_common_exchange_still_reports_and_disconnects() -> None:
    first, _ = _recorded("curve25519-sha256")
    ident = first.split(b"\r\n", 1)[0] + b"\r\n"
    offer = build_kexinit(os.urandom(16), ("diffie-hellman-group1-sha1",), OUR_HOST_KEYS)
    result, sent = _run(ident + build_packet(offer, os.urandom), b"")
    assert result.attempt.status is ProbeStatus.COMPLETED, result.attempt.error
    facts = result.attempt.facts
    assert facts is not None
    assert facts["kex_used"] is None and facts["host_key_fingerprint"] is None
    assert facts["kex_algorithms"] == ["diffie-hellman-group1-sha1"]
    assert [p[0] for p in sent] == [MSG_DISCONNECT]


def test_server_disconnect_is_a_protocol_error() -> None:
    first = b"SSH-2.0-OpenSSH_9.2\r\n" + build_packet(disconnect(7, "too many connections"), os.urandom)
    result = outcome(SshProbe(), _server(first, b"", bytearray()))
    assert result.attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert "too many connections" in (result.attempt.error or "")


def test_not_ssh_is_a_protocol_error() -> None:
    result = outcome(SshProbe(), _server(b"220 ftp ready\r\n" * 40, b"", bytearray()))
    assert result.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_an_ssh_server_that_goes_wrong_still_hears_the_disconnect() -> None:
    heard = bytearray()
    first = b"SSH-2.0-OpenSSH_9.2\r\n" + build_packet(b"\x1f" + bytes(12), os.urandom)  # a reply before KEXINIT
    result = outcome(SshProbe(), _server(first, b"", heard))
    assert result.attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert "instead of SSH_MSG_KEXINIT" in (result.attempt.error or "")
    assert [p[0] for p in _client_packets(bytes(heard))] == [MSG_DISCONNECT]

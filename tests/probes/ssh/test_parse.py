"""SSH transport parsing on bytes OpenSSH 9.2 sent (fixtures/README.md), builders, and fuzzing."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.ssh.parse import (
    MSG_KEX_ECDH_INIT,
    OUR_HOST_KEYS,
    OUR_KEX,
    build_kexinit,
    build_packet,
    choose,
    disconnect,
    ecdh_init,
    fingerprint,
    host_key_type,
    parse_disconnect,
    parse_ecdh_reply,
    parse_kexinit,
    split_identification,
    split_packet,
)

FIX = Path(__file__).parent / "fixtures"
#: What ssh-keygen -lf printed for the recorded server's key (fixtures/README.md).
KEYGEN = "SHA256:87NdqEoei5aP7Inv0BmpBRInFdZxAEsi7UEopN+ZwbY"


def _conversation(kex: str) -> list[bytes]:
    got = split_identification((FIX / f"openssh92_{kex}.bin").read_bytes())
    assert got is not None
    rest, payloads = got[1], []
    while (p := split_packet(rest)) is not None:
        payloads.append(p[0])
        rest = p[1]
    assert rest == b""
    return payloads


def test_real_identification() -> None:
    got = split_identification((FIX / "openssh92_curve25519-sha256.bin").read_bytes())
    assert got is not None
    ident = got[0]
    assert ident.line == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"
    assert (ident.proto_version, ident.software, ident.comments) == ("2.0", "OpenSSH_9.2p1", "Debian-2+deb12u10")
    assert ident.pre_lines == ()


@pytest.mark.parametrize("kex", ["curve25519-sha256", "ecdh-sha2-nistp256"])
def test_real_exchange_gives_the_keygen_fingerprint(kex: str) -> None:
    kexinit, reply, newkeys = _conversation(kex)
    offer = parse_kexinit(kexinit)
    assert offer.host_key_algorithms == ("ssh-ed25519",)
    assert "curve25519-sha256" in offer.kex_algorithms and "ecdh-sha2-nistp256" in offer.kex_algorithms
    assert offer.ciphers_s2c[0] == "chacha20-poly1305@openssh.com" and "none" in offer.compression_s2c
    assert choose(OUR_KEX, offer.kex_algorithms) == "curve25519-sha256"
    parsed = parse_ecdh_reply(reply)
    assert len(parsed.server_public) == (32 if kex.startswith("curve") else 65)
    assert host_key_type(parsed.host_key) == "ssh-ed25519"
    assert fingerprint(parsed.host_key) == KEYGEN
    assert newkeys == b"\x15"  # SSH_MSG_NEWKEYS: where we had already left


def test_choose_falls_back_to_nistp256() -> None:
    assert choose(OUR_KEX, ("diffie-hellman-group14-sha256", "ecdh-sha2-nistp256")) == "ecdh-sha2-nistp256"
    assert choose(OUR_KEX, ("diffie-hellman-group14-sha1",)) is None


def test_our_kexinit_parses_back() -> None:
    cookie = bytes(range(16))
    ours = parse_kexinit(build_kexinit(cookie, ("curve25519-sha256",), OUR_HOST_KEYS))
    assert ours.cookie == cookie and ours.kex_algorithms == ("curve25519-sha256",)
    assert ours.host_key_algorithms == OUR_HOST_KEYS and not ours.first_kex_follows
    with pytest.raises(ValueError, match="16 bytes"):
        build_kexinit(b"", ("curve25519-sha256",), OUR_HOST_KEYS)


def test_packets_are_block_aligned_and_padded() -> None:
    for n in range(0, 40):
        packet = build_packet(bytes(n), os.urandom)
        assert len(packet) % 8 == 0 and packet[4] >= 4
        assert split_packet(packet) == (bytes(n), b"")
    assert split_packet(build_packet(b"x", os.urandom)[:-1]) is None


def test_disconnect_is_reason_11_by_application() -> None:
    assert parse_disconnect(disconnect()) == (11, "")
    assert disconnect()[:5] == b"\x01\x00\x00\x00\x0b"


def test_ecdh_init_carries_the_key_as_a_string() -> None:
    assert ecdh_init(b"k" * 32) == bytes((MSG_KEX_ECDH_INIT,)) + struct.pack("!I", 32) + b"k" * 32


def test_lines_before_identification_and_incomplete_input() -> None:
    got = split_identification(b"Welcome\r\nauthorised use only\nSSH-1.99-Cisco-1.25\r\nrest")
    assert got is not None
    ident, rest = got
    assert ident.pre_lines == ("Welcome", "authorised use only")
    assert (ident.proto_version, ident.software, rest) == ("1.99", "Cisco-1.25", b"rest")
    assert split_identification(b"SSH-2.0-Open") is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"SSH-1.5-old\r\n", "only SSH 2"),
        (b"SSH-2.0\r\n", "malformed"),
        (b"SSH-2.0-" + b"x" * 300 + b"\r\n", "over the 253"),
        (b"SSH-2.0-" + b"x" * 300, "too long"),
        (b"SSH-2.0-\xff\r\n", "US-ASCII"),
        (b"hello\n" * 40, "more than 32"),
    ],
)
def test_bad_identifications(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        split_identification(data)


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"\xff\xff\xff\xff\x04", "out of bounds"), (b"\x00\x00\x00\x08\x09" + bytes(8), "padding length")],
)
def test_bad_packets(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        split_packet(data)


def test_wrong_messages() -> None:
    with pytest.raises(ProtocolError, match="expected SSH_MSG_KEXINIT"):
        parse_kexinit(b"\x1f" + bytes(40))
    with pytest.raises(ProtocolError, match="truncated"):
        parse_kexinit(b"\x14" + bytes(10))
    with pytest.raises(ProtocolError, match="expected SSH_MSG_KEX_ECDH_REPLY"):
        parse_ecdh_reply(b"\x14")
    with pytest.raises(ProtocolError, match="empty host key"):
        parse_ecdh_reply(b"\x1f" + bytes(12))
    with pytest.raises(ProtocolError, match="no usable type"):
        host_key_type(struct.pack("!I", 0))


def _only_protocol_errors(fn: object, data: bytes) -> None:
    try:
        fn(data)  # type: ignore[operator]
    except ProtocolError:
        pass


@given(st.binary(max_size=600))
def test_hostile_bytes_only_raise_protocol_error(data: bytes) -> None:
    for fn in (split_identification, split_packet, parse_kexinit, parse_ecdh_reply, host_key_type, parse_disconnect):
        _only_protocol_errors(fn, data)
        _only_protocol_errors(fn, b"\x14" + data)
        _only_protocol_errors(fn, b"\x1f" + data)


@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-@.", min_size=1, max_size=30), max_size=8))
def test_kexinit_round_trip(names: list[str]) -> None:
    assert parse_kexinit(build_kexinit(bytes(16), names, names)).kex_algorithms == tuple(names)


@given(st.binary(max_size=2000))
def test_packet_round_trip(payload: bytes) -> None:
    assert split_packet(build_packet(payload, os.urandom) + b"tail") == (payload, b"tail")

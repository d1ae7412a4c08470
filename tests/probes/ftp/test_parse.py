"""FTP parsing on real vsftpd replies, plus fuzzing: bad input raises ProtocolError, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.ftp.parse import (
    MAX_REPLY_BYTES,
    FtpReply,
    banner_product,
    features,
    parse_listing,
    pasv_port,
    split_reply,
    tls_in_features,
)

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


def reply(name: str) -> FtpReply:
    done = split_reply(raw(name))
    assert done is not None
    got, rest = done
    assert rest == b""
    return got


def test_greeting_discloses_vsftpd_version() -> None:
    greeting = reply("vsftpd_anon_greeting")
    assert greeting.code == 220
    assert greeting.text == "(vsFTPd 3.0.3)"
    assert banner_product(greeting.text) == ("vsftpd", "3.0.3")


def test_feat_without_and_with_auth_tls() -> None:
    plain = features(reply("vsftpd_anon_feat"))
    assert plain == ("EPRT", "EPSV", "MDTM", "PASV", "REST STREAM", "SIZE", "TVFS")
    assert tls_in_features(plain) is False
    tls = features(reply("vsftpd_tls_feat"))
    assert "AUTH TLS" in tls and "PROT" in tls
    assert tls_in_features(tls) is True


def test_login_replies() -> None:
    assert reply("vsftpd_anon_user").code == 331
    assert reply("vsftpd_anon_pass").code == 230
    assert reply("vsftpd_noanon_pass").last_line == "530 Login incorrect."
    assert reply("vsftpd_noanon_auth_tls").code == 530


def test_pasv_port_from_real_227() -> None:
    assert pasv_port(reply("vsftpd_anon_pasv")) == 156 * 256 + 114


def test_real_listing() -> None:
    entries, total = parse_listing(raw("vsftpd_anon_list_data"))
    assert total == 3
    assert [(e.name, e.kind, e.world_writable) for e in entries] == [
        ("incoming", "dir", True),
        ("pub", "dir", False),
        ("readme.txt", "file", False),
    ]


def test_listing_keeps_twenty_and_counts_all() -> None:
    line = b"-rw-r--r--    1 0        0               6 Nov 30 04:08 file%d.txt\r\n"
    entries, total = parse_listing(b"".join(line % i for i in range(57)))
    assert total == 57
    assert len(entries) == 20
    assert entries[-1].name == "file19.txt"


def test_other_listing_formats() -> None:
    # Shapes from RFC 959 practice (not captured): a symlink, an MS-DOS style line, a bare name.
    entries, _ = parse_listing(
        b"total 8\r\nlrwxrwxrwx 1 0 0 4 Jan 01  2020 latest -> pub\r\n"
        b"01-02-24  10:00AM       <DIR>          Reports\r\nodd line\r\n"
    )
    assert [(e.name, e.kind) for e in entries] == [("latest", "link"), ("Reports", "dir"), ("odd line", "other")]


def test_multiline_reply_needs_its_last_line() -> None:
    feat = raw("vsftpd_tls_feat")
    for cut in range(len(feat)):
        assert split_reply(feat[:cut]) is None
    two = raw("vsftpd_anon_user") + raw("vsftpd_anon_pass")
    first = split_reply(two)
    assert first is not None
    assert first[0].code == 331 and first[1] == raw("vsftpd_anon_pass")


@pytest.mark.parametrize(
    "data",
    [b"HTTP/1.1 400 Bad Request\r\n", b"SSH-2.0-OpenSSH_9.2\r\n", b"\x16\x03\x01\x00", b"999 nope\r\n", b"2x"],
)
def test_non_ftp_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        split_reply(data)


def test_endless_reply_is_refused() -> None:
    with pytest.raises(ProtocolError):
        split_reply(b"220-" + b"x" * (MAX_REPLY_BYTES + 10))
    with pytest.raises(ProtocolError):
        split_reply(b"211-Features:\r\n" + b" EPSV\r\n" * 500)


@pytest.mark.parametrize("line", ["227 Entering Passive Mode (1,2,3,4,5).", "227 (1,2,3,4,300,1)", "227 (1,2,3,4,0,0)"])
def test_bad_pasv(line: str) -> None:
    got = split_reply(line.encode() + b"\r\n")
    assert got is not None
    with pytest.raises(ProtocolError):
        pasv_port(got[0])


@given(st.binary(max_size=2048))
def test_fuzz_split_reply(data: bytes) -> None:
    try:
        got = split_reply(data)
    except ProtocolError:
        return
    if got is not None:
        assert 100 <= got[0].code <= 559
        assert len(got[1]) < len(data)


@given(st.binary(max_size=4096))
def test_fuzz_listing(data: bytes) -> None:
    entries, total = parse_listing(data)
    assert len(entries) <= 20 and total >= len(entries)


@given(st.text(max_size=300))
def test_fuzz_pasv_and_banner(text: str) -> None:
    banner_product(text)
    got = None
    try:
        got = split_reply(f"227 {text}".replace("\n", " ").encode() + b"\r\n")
    except ProtocolError:
        return
    if got is not None:
        try:
            assert 0 < pasv_port(got[0]) < 65536
        except ProtocolError:
            pass


@given(st.integers(0, 400), st.binary(max_size=64))
def test_fuzz_truncated_and_mutated_real_replies(cut: int, tail: bytes) -> None:
    for name in ("vsftpd_tls_feat", "vsftpd_anon_pasv", "vsftpd_anon_greeting"):
        data = raw(name)[:cut] + tail
        try:
            split_reply(data)
        except ProtocolError:
            pass

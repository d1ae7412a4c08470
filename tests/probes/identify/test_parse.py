"""Identification from first bytes: real captured greetings and answers, and arbitrary bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.identify.parse import (
    classify_greeting,
    classify_http,
    classify_netbios,
    classify_rdp,
    classify_redis,
    classify_tls,
    netbios_session_request,
)

FIX = Path(__file__).parent / "fixtures"
CLASSIFIERS = (classify_greeting, classify_rdp, classify_redis, classify_tls, classify_http, classify_netbios)


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


@pytest.mark.parametrize(
    ("fixture", "service"),
    [
        ("vsftpd-greeting", "ftp"),
        ("telnetd-greeting", "telnet"),
        ("openssh-greeting", "ssh"),
        ("tigervnc-greeting", "vnc"),
    ],
)
def test_greetings_name_their_protocol(fixture: str, service: str) -> None:
    found = classify_greeting(raw(fixture))
    assert found is not None
    assert (found.service, found.how) == (service, "greeting")


def test_greeting_keeps_the_product_line() -> None:
    ssh = classify_greeting(raw("openssh-greeting"))
    vnc = classify_greeting(raw("tigervnc-greeting"))
    assert ssh is not None and ssh.product == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"
    assert vnc is not None and vnc.product == "RFB 003.008"


@pytest.mark.parametrize(
    ("classify", "fixture", "service"),
    [
        (classify_rdp, "xrdp-connection-confirm", "ms-wbt-server"),
        (classify_redis, "redis-pong", "redis"),
        (classify_redis, "redis-noauth", "redis"),
        (classify_tls, "nginx-server-hello", "ssl"),
        (classify_netbios, "samba-netbios-session-response", "netbios-ssn"),
        (classify_http, "nginx-http-response", "http"),
    ],
)
def test_answers_to_a_hello_name_their_protocol(classify: object, fixture: str, service: str) -> None:
    found = classify(raw(fixture))  # type: ignore[operator]
    assert found is not None
    assert (found.service, found.how) == (service, "handshake")


def test_no_classifier_claims_another_protocols_bytes() -> None:
    """Each capture is named by exactly the classifier of its own protocol, never by another."""
    own = {
        "xrdp-connection-confirm": classify_rdp,
        "redis-pong": classify_redis,
        "redis-noauth": classify_redis,
        "nginx-server-hello": classify_tls,
        "samba-netbios-session-response": classify_netbios,
        "nginx-http-response": classify_http,
    }
    greetings = ("vsftpd-greeting", "telnetd-greeting", "openssh-greeting", "tigervnc-greeting")
    for path in sorted(FIX.glob("*.bin")):
        for classify in CLASSIFIERS:
            mine = own.get(path.stem) is classify or (classify is classify_greeting and path.stem in greetings)
            assert (classify(path.read_bytes()) is not None) == mine, (path.stem, classify.__name__)


@pytest.mark.parametrize(
    ("data", "service"),
    [
        (b"220 mail.example.org ESMTP Postfix\r\n", "smtp"),
        (b"220-FileZilla Server 1.8.0\r\n220 Please visit https://filezilla-project.org/\r\n", None),
        (b"220 Microsoft FTP Service\r\n", "ftp"),
        (b"+OK Dovecot ready.\r\n", "pop3"),
        (b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", "imap"),
        (b"220 ready\r\n", None),
        (b"\xff\xfd\x18", "telnet"),
        (b"\xff", None),
        (b"RFB 003.00", None),
    ],
)
def test_written_greetings(data: bytes, service: str | None) -> None:
    found = classify_greeting(data)
    assert (None if found is None else found.service) == service


def test_netbios_session_request_is_rfc1002() -> None:
    msg = netbios_session_request()
    assert msg[0] == 0x81 and int.from_bytes(msg[2:4], "big") == len(msg) - 4 == 68
    # "*SMBSERVER" first-level encoded (RFC 1002 §4.1): '*' = 0x2A -> "CK", 'S' = 0x53 -> "FD".
    assert msg[4] == 0x20 and msg[5:9] == b"CKFD" and msg[37] == 0


@given(st.binary(max_size=600))
def test_classifiers_never_raise(data: bytes) -> None:
    for classify in CLASSIFIERS:
        found = classify(data)
        assert found is None or found.service

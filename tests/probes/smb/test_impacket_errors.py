"""probes.smb._impacket: impacket's exceptions map once, by type, onto probes.errors.

First each exception type as impacket constructs it, then the same paths provoked for real with
impacket talking to a scripted loopback peer (refused, silent, closed, reset).
"""

from __future__ import annotations

import errno
import gc
import struct
from pathlib import Path

import pytest
from impacket import nmb, smb, smb3
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smbconnection import SessionError as SmbSessionError

from duecare.probes.errors import ProbeError, ProbeTimeout, ProtocolError, Unreachable
from duecare.probes.smb._impacket import empty_password_session, nt_status, translate, translated
from duecare.probes.smb.errors import ConnectionDropped, Hangup
from tests.probes.smb.loopback import CLOSE, RESET, SILENT, closed_port, scripted_peer

FIXTURES = Path(__file__).parent / "fixtures"


def _wrapped_connect_error(inner: OSError) -> OSError:
    """What impacket's NetBIOSTCPSession._setup_connection raises."""
    return OSError("Connection error (198.18.0.20:445)", inner)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (nmb.NetBIOSTimeout(), ProbeTimeout),
        (TimeoutError("timed out"), ProbeTimeout),
        (_wrapped_connect_error(TimeoutError("timed out")), ProbeTimeout),
        (_wrapped_connect_error(ConnectionRefusedError(errno.ECONNREFUSED, "refused")), Unreachable),
        (_wrapped_connect_error(OSError(errno.EHOSTUNREACH, "No route to host")), Unreachable),
        (_wrapped_connect_error(OSError(errno.EACCES, "Permission denied")), Unreachable),
        (nmb.NetBIOSError("read", nmb.ERRCLASS_OS, errno.EBADF), ProtocolError),
        (OSError(errno.EBADF, "Bad file descriptor"), ProtocolError),
        (SmbSessionError(0xC0000022), ProtocolError),
        (smb3.SessionError(0xC000006D), ProtocolError),
        (smb.SessionError("SMB Library Error", 0x22, 0xC000, True), ProtocolError),
        (smb.UnsupportedFeature("no NT LM 0.12"), ProtocolError),
        (DCERPCException(error_code=5), ProtocolError),
        (struct.error("unpack requires a buffer of 4 bytes"), ProtocolError),
        (IndexError("index out of range"), ProtocolError),
        (KeyError("Data"), ProtocolError),
    ],
)
def test_translate_by_type(exc: BaseException, expected: type[ProbeError]) -> None:
    mapped = translate(exc)
    assert type(mapped) is expected


@pytest.mark.parametrize(
    ("exc", "how"),
    [
        (nmb.NetBIOSError("read", nmb.ERRCLASS_OS, errno.ECONNRESET), Hangup.RESET),
        (nmb.NetBIOSError("read", nmb.ERRCLASS_OS, None), Hangup.CLOSED),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), Hangup.RESET),
        (ConnectionResetError(errno.ECONNRESET, "reset"), Hangup.RESET),
    ],
)
def test_hangups_are_typed(exc: BaseException, how: Hangup) -> None:
    mapped = translate(exc)
    assert isinstance(mapped, ConnectionDropped)
    assert isinstance(mapped, ProtocolError)  # the runner still records protocol_error
    assert mapped.how is how


def test_nt_status_of_each_session_error() -> None:
    assert nt_status(SmbSessionError(0xC0000022)) == 0xC0000022
    assert nt_status(smb3.SessionError(0xC000006D)) == 0xC000006D
    # SMB1 with FLAGS2_NT_STATUS: impacket rebuilds the LE32 status from class and code.
    assert nt_status(smb.SessionError("x", 0x0022, 0xC000, True)) == 0xC0000022
    assert nt_status(ValueError()) is None


def test_foreign_non_impacket_error_is_refused() -> None:
    with pytest.raises(TypeError):
        translate(RuntimeError("not from impacket"))


def test_translated_keeps_the_cause() -> None:
    original = nmb.NetBIOSTimeout()
    with pytest.raises(ProbeTimeout) as info, translated():
        raise original
    assert info.value.__cause__ is original


def test_translated_lets_our_errors_through() -> None:
    with pytest.raises(Unreachable), translated():
        raise Unreachable("ours already")


# -- the same paths, provoked for real -----------------------------------------------------------


def _session(port: int, timeout: float = 1.0) -> object:
    return empty_password_session("127.0.0.1", port, user="", dialect=0x0210, list_shares=True, timeout=timeout)


def test_refused_connect_is_unreachable() -> None:
    with pytest.raises(Unreachable):
        _session(closed_port())
    gc.collect()  # impacket's abandoned socket was closed by the adapter: no ResourceWarning here


def test_silent_peer_is_timeout() -> None:
    with scripted_peer(lambda _req: SILENT) as (port, seen), pytest.raises(ProbeTimeout):
        _session(port, timeout=0.5)
    assert seen and seen[0][4:8] == b"\xfeSMB"


@pytest.mark.parametrize(("action", "how"), [(CLOSE, Hangup.CLOSED), (RESET, Hangup.RESET)])
def test_hangup_during_negotiate(action: str, how: Hangup) -> None:
    with scripted_peer(lambda _req: action) as (port, _seen), pytest.raises(ConnectionDropped) as info:
        _session(port)
    assert info.value.how is how


def test_refused_negotiate_is_protocol_error() -> None:
    """impacket offering 2.1 alone to the SMB3-only Samba: the captured STATUS_NOT_SUPPORTED."""
    reply = (FIXTURES / "samba417_smb3only_smb2_negotiate_300.bin").read_bytes()
    with scripted_peer(lambda _req: reply) as (port, _seen), pytest.raises(ProtocolError) as info:
        _session(port)
    assert not isinstance(info.value, ConnectionDropped)


def test_garbage_reply_is_protocol_error() -> None:
    garbage = b"\x00\x00\x00\x10" + b"\xfeSMB" + b"\x07" * 12
    with scripted_peer(lambda _req: garbage) as (port, _seen), pytest.raises(ProtocolError):
        _session(port)

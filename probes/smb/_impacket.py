"""The only module that imports impacket. Its exceptions are translated here, once, by type.

Everything in here blocks: callers run it through ``ctx.run_blocking`` and pass impacket a short
socket timeout of its own (a thread cannot be killed; the timeout frees it).

impacket raises, by layer:
* connect: ``socket.error("Connection error (host:port)", original)`` wrapping the real OSError;
* reads: ``nmb.NetBIOSTimeout`` on silence, ``nmb.NetBIOSError`` with ``error_code`` = errno on a
  socket error (ECONNRESET on reset) or None when the peer closed;
* writes: the raw OSError from ``sendall``;
* SMB replies with an error status: ``smbconnection.SessionError`` (or the smb/smb3 ones below it);
* DCE/RPC: ``DCERPCException``; malformed replies: ``struct.error``, ValueError, IndexError, KeyError.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from impacket import nmb, smb, smb3
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smbconnection import SessionError as SmbSessionError
from impacket.smbconnection import SMBConnection

from duecare.probes.errors import ProbeError, ProbeTimeout, ProtocolError, Unreachable
from duecare.probes.ntlm import NtlmVersion
from duecare.probes.smb.errors import ConnectionDropped, Hangup
from duecare.probes.smb.facts import (
    MAX_SHARES,
    SHARE_NAME_CAP,
    Ms17010Facts,
    Ms17010Outcome,
    SessionOutcome,
    SmbHostInfo,
    SmbSession,
)
from duecare.probes.smb.packets import IMPACKET_DIALECTS
from duecare.probes.smb.parse import dialect_name, parse_ms17_010_reply

_SESSION_ERRORS = (SmbSessionError, smb.SessionError, smb3.SessionError)
_PARSE_ERRORS = (struct.error, ValueError, IndexError, KeyError)
_FOREIGN = (
    OSError,
    nmb.NetBIOSTimeout,
    nmb.NetBIOSError,
    *_SESSION_ERRORS,
    smb.UnsupportedFeature,
    DCERPCException,
    *_PARSE_ERRORS,
)
_UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})
_NAME_CAP = 256


def nt_status(exc: BaseException) -> int | None:
    """The NT status carried by an impacket SMB error, if any."""
    if isinstance(exc, SmbSessionError):
        code = exc.getErrorCode()
    elif isinstance(exc, smb.SessionError | smb3.SessionError):
        code = exc.get_error_code()
    else:
        return None
    return code if isinstance(code, int) and 0 <= code <= 0xFFFFFFFF else None


def _wrapped_os_error(exc: OSError) -> OSError | None:
    """impacket's connect wraps the real error as the second argument of a plain socket.error."""
    for arg in exc.args:
        if isinstance(arg, OSError):
            return arg
    return None


def _translate_os_error(exc: OSError) -> ProbeError:
    inner = _wrapped_os_error(exc)
    if inner is not None:  # failed while connecting
        if isinstance(inner, TimeoutError):
            return ProbeTimeout("SMB connect timed out")
        if isinstance(inner, ConnectionRefusedError) or inner.errno in _UNREACHABLE_ERRNOS:
            return Unreachable(f"SMB connect failed: {inner.strerror or type(inner).__name__}")
        return Unreachable(f"SMB connect failed: {type(inner).__name__}")
    if isinstance(exc, TimeoutError):
        return ProbeTimeout("SMB peer went silent")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ConnectionDropped(Hangup.RESET, "while impacket was sending")
    return ProtocolError(f"SMB socket error: {exc.strerror or type(exc).__name__}")


def translate(exc: BaseException) -> ProbeError:
    """Map one impacket (or socket) exception to our error tree. Types only, never messages."""
    if isinstance(exc, nmb.NetBIOSTimeout):
        return ProbeTimeout("SMB peer went silent (impacket timeout)")
    if isinstance(exc, nmb.NetBIOSError):
        if exc.error_code is None:
            return ConnectionDropped(Hangup.CLOSED, "during an impacket read")
        if exc.error_code == errno.ECONNRESET:
            return ConnectionDropped(Hangup.RESET, "during an impacket read")
        return ProtocolError(f"SMB transport error (errno {exc.error_code})")
    if isinstance(exc, OSError):
        return _translate_os_error(exc)
    if isinstance(exc, _SESSION_ERRORS):
        status = nt_status(exc)
        return ProtocolError("SMB error status " + ("unknown" if status is None else f"0x{status:08x}"))
    if isinstance(exc, smb.UnsupportedFeature):
        return ProtocolError("SMB server lacks a feature impacket needs")
    if isinstance(exc, DCERPCException):
        return ProtocolError(f"DCE/RPC error {exc.get_error_code()!r}")
    if isinstance(exc, _PARSE_ERRORS):
        return ProtocolError(f"impacket could not parse the SMB reply ({type(exc).__name__})")
    raise TypeError(f"not an impacket error: {type(exc).__name__}") from exc


def _close_abandoned_sockets(tb: TracebackType | None) -> None:
    """impacket opens its socket inside the ``SMB``/``SMB3`` constructors and, when the negotiate then
    fails, raises without closing it: we never get the object to close. The frames of the traceback
    still hold it (``self._sock`` of the NetBIOS session): close every socket found there, so a peer
    that breaks the negotiate costs no file descriptor until the garbage collector runs."""
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            for candidate in (value, getattr(value, "_sock", None), getattr(value, "_NetBIOSSession", None)):
                sock = getattr(candidate, "_sock", candidate)
                if isinstance(sock, socket.socket):
                    sock.close()
        tb = tb.tb_next


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except _FOREIGN as exc:
        _close_abandoned_sockets(exc.__traceback__)
        raise translate(exc) from exc


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:_NAME_CAP] or None


def _int(value: object, top: int) -> int | None:
    return value if isinstance(value, int) and 0 <= value <= top else None


def host_info(conn: SMBConnection) -> SmbHostInfo | None:
    """What impacket parsed from the NTLM CHALLENGE (set even when the login itself failed, §3.3)."""
    major, minor = _int(conn.getServerOSMajor(), 255), _int(conn.getServerOSMinor(), 255)
    build = _int(conn.getServerOSBuild(), 0xFFFF)
    version = (
        NtlmVersion(major=major, minor=minor, build=build)
        if major is not None and minor is not None and build is not None
        else None
    )
    info = SmbHostInfo(
        netbios_name=_text(conn.getServerName()),
        netbios_domain=_text(conn.getServerDomain()),
        dns_hostname=_text(conn.getServerDNSHostName()),
        dns_domain=_text(conn.getServerDNSDomainName()),
        os=_text(conn.getServerOS()),
        os_version=version,
    )
    return None if info == SmbHostInfo() else info


def _share_name(entry: Any) -> str:
    return str(entry["shi1_netname"]).replace("\x00", "")[:SHARE_NAME_CAP]


def _list_shares(conn: SMBConnection) -> tuple[tuple[str, ...] | None, int | None]:
    """NetrShareEnum over IPC$: a refusal is an answer (its code), not an error."""
    try:
        entries = conn.listShares()
    except SmbSessionError as exc:
        return None, nt_status(exc)
    except DCERPCException as exc:
        return None, _int(exc.get_error_code(), 0xFFFFFFFF)
    return tuple(_share_name(e) for e in list(entries)[:MAX_SHARES]), None


def _dialect_of(conn: SMBConnection) -> str:
    dialect = conn.getDialect()
    return dialect_name(dialect) if isinstance(dialect, int) else "NT LM 0.12"


def _preferred(dialect: int | None) -> int | str:
    """impacket's ``preferredDialect``; always set, so impacket never takes its multi-protocol path
    (which ends in a bare ``Exception('No answer!')`` we could not map by type)."""
    if dialect is None:
        return str(smb.SMB_DIALECT)
    if dialect not in IMPACKET_DIALECTS:
        raise ValueError(f"impacket cannot offer dialect 0x{dialect:04x} alone")
    return dialect


def _connect(host: str, port: int, preferred: int | str, timeout: float) -> SMBConnection:
    return SMBConnection(host, host, sess_port=port, timeout=timeout, preferredDialect=preferred)


def _hang_up(conn: SMBConnection, *, logged_on: bool) -> None:
    """LOGOFF when a session exists, then close the socket; a failing goodbye changes no result.

    Not ``SMBConnection.close()``: it sends LOGOFF again even after ours or after a failed login.
    """
    try:
        if logged_on:
            conn.logoff()
    except _FOREIGN:
        pass  # e.g. a 3.1.1 guest session cannot sign its LOGOFF; the socket close ends it
    finally:
        conn.getSMBServer().close_session()


@dataclass(frozen=True, slots=True)
class SessionReport:
    session: SmbSession
    host: SmbHostInfo | None


def empty_password_session(
    host: str, port: int, *, user: str, dialect: int | None, list_shares: bool, timeout: float
) -> SessionReport:
    """Session setup as ``user`` with an empty password ("" = null session); list shares if it works.

    ``dialect`` None means SMB1 (NT LM 0.12); otherwise one SMB2/3 dialect from IMPACKET_DIALECTS.
    """
    preferred = _preferred(dialect)
    with translated():
        conn = _connect(host, port, preferred, timeout)
        logged_on = False
        try:
            try:
                conn.login(user, "")
            except SmbSessionError as exc:
                refused = SmbSession(
                    user=user,
                    outcome=SessionOutcome.DENIED,
                    nt_status=nt_status(exc),
                    dialect=_dialect_of(conn),
                )
                return SessionReport(refused, host_info(conn))
            logged_on = True
            shares, share_error = _list_shares(conn) if list_shares else (None, None)
            accepted = SmbSession(
                user=user,
                outcome=SessionOutcome.ACCEPTED,
                is_guest=bool(conn.isGuestSession()),
                dialect=_dialect_of(conn),
                shares=shares,
                share_listing_error=share_error,
            )
            return SessionReport(accepted, host_info(conn))
        finally:
            _hang_up(conn, logged_on=logged_on)


def _peek_named_pipe_fid0(server: smb.SMB, tid: int) -> bytes:
    """SMB_COM_TRANSACTION PeekNamedPipe on FID 0, as nmap smb-vuln-ms17-010.nse sends it."""
    packet = smb.NewSMBPacket()
    packet["Tid"] = tid
    command = smb.SMBCommand(smb.SMB.SMB_COM_TRANSACTION)
    params = smb.SMBTransaction_Parameters()
    params["Setup"] = struct.pack("<HH", 0x0023, 0)  # TRANS_PEEK_NMPIPE, FID 0
    params["TotalParameterCount"] = params["TotalDataCount"] = 0
    params["MaxParameterCount"] = params["MaxDataCount"] = 0xFFFF
    params["ParameterCount"] = params["DataCount"] = 0
    params["ParameterOffset"] = params["DataOffset"] = 0x4A
    data = smb.SMBTransaction_Data()
    data["Name"] = b"\\PIPE\\\x00"
    data["Trans_Parameters"] = data["Trans_Data"] = b""
    command["Parameters"], command["Data"] = params, data
    packet.addCommand(command)
    server.sendSMB(packet)
    reply: bytes = server.recvSMB().getData()
    return reply


def ms17_010_exchange(host: str, port: int, *, user: str, timeout: float) -> Ms17010Facts:
    """SMB1 session as ``user`` (empty password), tree connect IPC$, the TRANS check, goodbye."""
    preferred = _preferred(None)
    with translated():
        conn = _connect(host, port, preferred, timeout)
        logged_on = False
        try:
            try:
                conn.login(user, "")
            except SmbSessionError as exc:
                return Ms17010Facts(outcome=Ms17010Outcome.NO_SESSION, nt_status=nt_status(exc))
            logged_on = True
            try:
                tid = conn.connectTree("IPC$")
            except SmbSessionError as exc:
                return Ms17010Facts(outcome=Ms17010Outcome.IPC_REFUSED, nt_status=nt_status(exc), session_user=user)
            outcome, status = parse_ms17_010_reply(_peek_named_pipe_fid0(conn.getSMBServer(), tid))
            with suppress(*_FOREIGN):  # the verdict is in; LOGOFF below releases the tree anyway
                conn.disconnectTree(tid)
            return Ms17010Facts(outcome=outcome, nt_status=status, session_user=user)
        finally:
            _hang_up(conn, logged_on=logged_on)

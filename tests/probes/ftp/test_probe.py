"""FTP probe against a loopback peer replaying real vsftpd replies, and against hostile peers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from duecare.probes.ftp.probe import ANON_PASSWORD, FtpProbe
from duecare.wire import ProbeStatus
from tests.probes.fake_tcp import FAST, RecordingContext, flood, outcome, sends, silent

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


@dataclass
class FakeFtp:
    """Answers each command line from a table of real replies; PASV opens a real data listener."""

    replies: dict[str, bytes]
    greeting: bytes
    listing: bytes = b""
    pasv_host: str = "127,0,0,1"
    #: Keep the data connection open after the listing (a stalled transfer: data, but never EOF).
    stall_data: bool = False
    commands: list[str] = field(default_factory=list)
    data_peers: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        await writer.drain()
        data_server: asyncio.Server | None = None
        data_conn: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()
        while line := await reader.readline():
            cmd = line.decode().strip()
            self.commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "PASV":

                async def on_data(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                    self.data_peers.append(w.get_extra_info("peername")[0])
                    data_conn.set_result(w)

                data_server = await asyncio.start_server(on_data, "127.0.0.1", 0)
                port = data_server.sockets[0].getsockname()[1]
                writer.write(f"227 Entering Passive Mode ({self.pasv_host},{port >> 8},{port & 255}).\r\n".encode())
            elif verb == "LIST":
                writer.write(raw("vsftpd_anon_list_150"))
                await writer.drain()
                dw = await data_conn
                dw.write(self.listing)
                await dw.drain()
                if self.stall_data:
                    continue
                dw.close()
                writer.write(raw("vsftpd_anon_list_226"))
            else:
                writer.write(self.replies.get(verb, b"500 Unknown command.\r\n"))
            await writer.drain()
            if verb == "QUIT":
                break
        if data_conn.done():
            data_conn.result().close()  # the stalled data connection too: no writer outlives the loop
        if data_server is not None:
            data_server.close()


def anon_server(**kw: Any) -> FakeFtp:
    names = {"FEAT": "feat", "USER": "user", "PASS": "pass", "QUIT": "quit"}
    return FakeFtp(
        {verb: raw(f"vsftpd_anon_{name}") for verb, name in names.items()},
        raw("vsftpd_anon_greeting"),
        raw("vsftpd_anon_list_data"),
        **kw,
    )


def test_anonymous_server_is_listed_and_left_with_quit() -> None:
    fake = anon_server()

    out = outcome(FtpProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert facts["product"] == "vsftpd" and facts["version"] == "3.0.3"
    assert facts["anonymous_login"] is True
    assert facts["tls_available"] is False and facts["tls_evidence"] == "feat"
    assert [e["name"] for e in facts["listing"]] == ["incoming", "pub", "readme.txt"]
    assert fake.commands == ["FEAT", "USER anonymous", f"PASS {ANON_PASSWORD.decode()}", "PASV", "LIST", "QUIT"]
    assert out.observation is not None
    kinds = [e.kind.value for e in out.observation.evidence]
    assert kinds == ["banner", "handshake", "listing", "handshake"]
    assert all(ANON_PASSWORD.decode() not in e.excerpt for e in out.observation.evidence)


def test_data_connection_goes_to_the_target_not_to_the_227_address() -> None:
    fake = anon_server(pasv_host="10,66,66,66")

    out = outcome(FtpProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert fake.data_peers == ["127.0.0.1"]
    assert out.attempt.facts is not None and out.attempt.facts["listing_total"] == 3


def test_refusing_server_gets_auth_tls_asked_only_without_feat() -> None:
    names = {"USER": "user", "PASS": "pass", "AUTH": "auth_tls", "QUIT": "quit"}
    replies = {verb: raw(f"vsftpd_noanon_{name}") for verb, name in names.items()}
    fake = FakeFtp({**replies, "FEAT": b"502 Command not implemented.\r\n"}, raw("vsftpd_noanon_greeting"))

    out = outcome(FtpProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert facts["anonymous_login"] is False
    assert facts["tls_available"] is False and facts["tls_evidence"] == "auth-reply"
    assert fake.commands[-2:] == ["AUTH TLS", "QUIT"]
    assert "PASV" not in fake.commands


def test_busy_server_421_decides_nothing() -> None:
    out = outcome(FtpProbe(), sends(b"421 Too many connections (8) from this IP\r\n"))
    assert out.attempt.status is ProbeStatus.COMPLETED
    assert out.attempt.facts is not None
    assert out.attempt.facts["anonymous_login"] is None and out.attempt.facts["tls_available"] is None


def test_silence_times_out() -> None:
    assert outcome(FtpProbe(), silent()).attempt.status is ProbeStatus.TIMED_OUT


def test_garbage_is_a_protocol_error() -> None:
    assert outcome(FtpProbe(), sends(b"HTTP/1.1 400 Bad Request\r\n\r\n")).attempt.status is ProbeStatus.PROTOCOL_ERROR


@pytest.mark.parametrize("junk", [b"A" * 1024, b"220-" + b"x" * 1020], ids=["not-ftp", "endless-greeting"])
def test_100kb_of_junk_is_refused_without_buffering_it(junk: bytes) -> None:
    ctx = RecordingContext(timeouts=FAST)
    assert outcome(FtpProbe(), flood(chunk=junk), ctx=ctx).attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert ctx.received < 24 * 1024


class TlsOnlyFtp(FakeFtp):
    """No FEAT, anonymous refused, AUTH TLS → 234, then no TLS handshake at all (hang up or stall)."""

    def __init__(self, *, hang_up: bool) -> None:
        super().__init__(
            {"FEAT": b"500 Unknown command.\r\n", "USER": b"530 Anonymous access denied.\r\n"},
            b"220 FTP server ready.\r\n",
        )
        self.hang_up = hang_up

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        while line := await reader.readline():
            cmd = line.decode(errors="replace").strip()
            self.commands.append(cmd)
            if cmd == "AUTH TLS":
                writer.write(b"234 Proceed with negotiation.\r\n")
                await writer.drain()
                if not self.hang_up:
                    await reader.read()
                return
            writer.write(self.replies.get(cmd.split(" ", 1)[0], b"500 ?\r\n"))
            await writer.drain()


@pytest.mark.parametrize("hang_up", [True, False], ids=["server-hangs-up", "server-stalls"])
def test_auth_tls_234_is_tls_available_even_if_the_handshake_fails(hang_up: bool) -> None:
    fake = TlsOnlyFtp(hang_up=hang_up)
    out = outcome(FtpProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert (facts["tls_available"], facts["tls_evidence"], facts["anonymous_login"]) == (True, "auth-reply", False)
    assert fake.commands == ["FEAT", "USER anonymous", "AUTH TLS"]


def test_stalled_listing_keeps_the_anonymous_finding() -> None:
    fake = anon_server(stall_data=True)
    fake.listing = b"drwxr-xr-x    2 0        0            4096 Nov 30 04:08 pub\r\n"
    out = outcome(FtpProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert facts["anonymous_login"] is True and facts["listing_total"] == 1
    assert facts["listing_error"].startswith("listing cut short")

"""RdpProbe end to end against replay servers on 127.0.0.1 that answer with captured bytes.

The replay server plays back what xrdp / FreeRDP really sent (fixtures/), including the TLS upgrade
and the CredSSP TSRequest, so the probe's I/O path (framing, TLS, politeness budget) is exercised
without the lab. The lab test (test_lab.py) runs the same probe against the real daemons.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.errors import ProbeTimeout, ProtocolError
from duecare.probes.rdp.credssp import ts_request
from duecare.probes.rdp.facts import EncryptionStatus, NtlmStep, RdpFacts, SecurityProtocol
from duecare.probes.rdp.parse import tpkt_length
from duecare.probes.rdp.probe import RdpProbe
from duecare.wire import Proto
from tests.probes.fake_tcp import tcp_server
from tests.probes.ntlm_samples import build_challenge

FIX = Path(__file__).parent / "fixtures"


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


@dataclass
class Script:
    """How the replay server answers: CC per requested mask, TLS for some, TSRequest / MCS replies."""

    cc: Callable[[int | None], bytes]
    tls_for: frozenset[int | None] = frozenset()
    ts_reply: bytes | None = None
    mcs_reply: bytes | None = None
    silent: bool = False
    #: Answer this many connections, then accept and stay silent (a rate-limiting host).
    answer_first: int | None = None
    raw_greeting: bytes | None = None
    seen: list[int | None] = field(default_factory=list)
    connections: int = 0
    sent_after_tls: list[bytes] = field(default_factory=list)


def _server_tls(tmp: Path) -> ssl.SSLContext:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WIN-REPLAY.lab.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "k.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    return ctx


async def _read_tpkt(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    return head + await reader.readexactly(tpkt_length(head) - 4)


def _handler(script: Script, tls: ssl.SSLContext) -> Callable[..., Coroutine[Any, Any, None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            script.connections += 1
            if script.silent or (script.answer_first is not None and script.connections > script.answer_first):
                await asyncio.sleep(5)
                return
            if script.raw_greeting is not None:
                writer.write(script.raw_greeting)
                await writer.drain()
                return
            cr = await _read_tpkt(reader)
            mask = int.from_bytes(cr[-4:], "little") if cr[-8] == 1 else None
            script.seen.append(mask)
            writer.write(script.cc(mask))
            await writer.drain()
            if mask in script.tls_for:
                await writer.start_tls(tls)
                data = await asyncio.wait_for(reader.read(4096), 2)
                script.sent_after_tls.append(data)
                if data and script.ts_reply is not None:
                    writer.write(script.ts_reply)
                    await writer.drain()
                await asyncio.wait_for(reader.read(4096), 2)
            elif script.mcs_reply is not None:
                data = await asyncio.wait_for(reader.read(4096), 2)
                if data[7:9] == b"\x7f\x65":
                    writer.write(script.mcs_reply)
                    await writer.drain()
                await asyncio.wait_for(reader.read(4096), 2)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return handle


def run_against(script: Script, tmp: Path, read: float = 2.0) -> RdpFacts:
    """Start a replay server for ``script`` on 127.0.0.1, run the probe against it, stop it."""

    async def scenario() -> RdpFacts:
        async with tcp_server(_handler(script, _server_tls(tmp))) as port:
            return await _run(port, read)

    return asyncio.run(scenario())


async def _run(port: int, read: float = 2.0) -> RdpFacts:
    ctx = ProbeContext(timeouts=Timeouts(connect=2.0, read=read, probe=20.0))
    try:
        obs = await RdpProbe().run(Target(IPv4Address("127.0.0.1"), port, Proto.TCP), ctx)
    finally:
        await ctx.aclose()
    assert isinstance(obs.facts, RdpFacts)
    return obs.facts


def _by_mask(prefix: str) -> Callable[[int | None], bytes]:
    return lambda mask: fx(f"{prefix}_cc_req{'legacy' if mask is None else mask}.bin")


def test_xrdp_rdp_replay_uses_five_connections(tmp_path: Path) -> None:
    script = Script(cc=_by_mask("xrdp_rdp"), mcs_reply=fx("xrdp_rdp_mcs_connect_response.bin"))
    f = run_against(script, tmp_path)
    assert script.seen == [0, 1, 3, 11, 0]
    assert f.connections == 5
    assert f.accepted_protocols == (SecurityProtocol.RDP,)
    assert f.standard_security_allowed is True
    assert f.nla_required is False
    assert f.standard_security.status is EncryptionStatus.DETERMINED
    assert f.standard_security.encryption_level == "High"
    assert f.tls is None
    assert f.ntlm_step is NtlmStep.HYBRID_NOT_OFFERED


def test_freerdp_nla_replay_reads_challenge_and_never_authenticates(tmp_path: Path) -> None:
    script = Script(
        cc=_by_mask("freerdp_nla"),
        tls_for=frozenset({3}),
        ts_reply=fx("freerdp_nla_tsrequest_challenge.bin"),
    )
    f = run_against(script, tmp_path)
    assert script.seen == [0, 1, 3, 11]
    assert f.connections == 4
    assert f.nla_required is True
    assert f.ntlm_step is NtlmStep.COLLECTED
    assert f.ntlm is not None
    assert str(f.ntlm.product_version) == "6.1.7601"
    assert f.tls is not None
    assert f.tls.certificate is not None
    assert f.tls.certificate.subject_cn == "WIN-REPLAY.lab.local"
    assert f.tls.certificate.self_signed is True
    # Exactly one TSRequest (the NEGOTIATE) went out after TLS; no AUTHENTICATE (type 3).
    assert len(script.sent_after_tls) == 1
    assert b"NTLMSSP\x00\x01\x00\x00\x00" in script.sent_after_tls[0]
    assert b"NTLMSSP\x00\x03" not in b"".join(script.sent_after_tls)


def test_windows7_without_nla_replay(tmp_path: Path) -> None:
    """Synthetic Windows 7 host (no Windows in the lab): RDP and HYBRID both accepted."""

    def cc(mask: int | None) -> bytes:
        selected = {0: "00", 1: "01"}.get(mask or 0, "02")  # RDP, SSL, else HYBRID
        return bytes.fromhex(f"030000130ed0000012340002010800{selected}000000")

    script = Script(
        cc=cc,
        tls_for=frozenset({1, 3}),
        ts_reply=ts_request(build_challenge(version=(6, 1, 7601))),
        mcs_reply=fx("xrdp_rdp_mcs_connect_response.bin"),
    )
    f = run_against(script, tmp_path)
    assert f.nla_required is False
    assert f.nla_supported is True
    assert f.ntlm is not None
    assert f.ntlm.dns_computer_name == "win7-pc.contoso.local"
    assert f.connections == 5


def test_legacy_server_stops_after_first_confirm(tmp_path: Path) -> None:
    script = Script(cc=lambda _m: fx("xrdp_rdp_cc_reqlegacy.bin"), mcs_reply=fx("xrdp_rdp_mcs_connect_response.bin"))
    f = run_against(script, tmp_path)
    assert f.legacy_server is True
    assert script.seen == [0, 0]  # one negotiation, one MCS connection
    assert f.connections == 2
    assert f.nla_required is False


def test_tarpit_times_out(tmp_path: Path) -> None:
    with pytest.raises(ProbeTimeout):
        run_against(Script(cc=_by_mask("xrdp_tls"), silent=True), tmp_path, read=0.3)


def test_not_rdp_is_protocol_error(tmp_path: Path) -> None:
    ssh = Script(cc=_by_mask("xrdp_tls"), raw_greeting=b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n")
    with pytest.raises(ProtocolError, match="not TPKT"):
        run_against(ssh, tmp_path)


def test_host_that_stalls_after_one_answer_keeps_what_was_learned(tmp_path: Path) -> None:
    """A silent second connection ends the sequence: no further connections, facts still returned."""
    script = Script(cc=_by_mask("xrdp_tls"), answer_first=1)
    f = run_against(script, tmp_path, read=0.3)
    assert f.connections == 2
    assert script.connections == 2
    assert f.negotiations[0].failure is not None
    assert f.negotiations[1].outcome.value == "error"
    assert f.standard_security_allowed is False
    assert f.tls_allowed is None

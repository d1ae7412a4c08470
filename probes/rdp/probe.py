"""RDP: one X.224 negotiation per protocol set, TLS certificate, NTLM info via CredSSP, MCS level.

At most five TCP connections, 0.2 s apart (nmap ``rdp-enum-encryption.nse``: the pause "improves
reliability"; RDP listeners rate-limit rapid reconnects). Every connection ends right after the
answer we need: no credentials, no NTLM AUTHENTICATE, no virtual channels (BlueKeep's MS_T120
probe is never sent).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import ClassVar

from duecare.probes._net import Stream
from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProbeTimeout, ProtocolError
from duecare.probes.ntlm import NtlmInfo, find_challenge, negotiate_message, parse_challenge
from duecare.probes.rdp import credssp, mcs
from duecare.probes.rdp.facts import (
    EncryptionStatus,
    Negotiation,
    NtlmStep,
    Outcome,
    RdpFacts,
    StandardSecurity,
    TlsInfo,
)
from duecare.probes.rdp.parse import (
    CREDSSP_PROTOCOLS,
    PROBE_SETS,
    PROTOCOL_RDP,
    TLS_PROTOCOLS,
    connection_request,
    decide,
    negotiation_from,
    parse_connection_confirm,
    tpkt_length,
)
from duecare.probes.x509 import parse_certificate
from duecare.wire import Evidence, EvidenceKind

RECONNECT_PAUSE = 0.2
MAX_CONNECTIONS = 5


async def read_tpkt(stream: Stream, what: str) -> bytes:
    header = await stream.read_exactly(4, what)
    length = tpkt_length(header)
    return header + await stream.read_exactly(length - 4, what)


async def read_ts_request(stream: Stream) -> bytes:
    data = await stream.read_exactly(2, "CredSSP TSRequest")
    while (total := credssp.bytes_needed(data)) is None:
        data += await stream.read_exactly(1, "CredSSP TSRequest length")
    return data + await stream.read_exactly(total - len(data), "CredSSP TSRequest")


@dataclass
class _Session:
    """What the connections have gathered so far (mutable while probing, frozen into facts)."""

    negotiations: list[Negotiation] = field(default_factory=list)
    first_reply: bytes = b""
    connections: int = 0
    tls: TlsInfo | None = None
    ntlm: NtlmInfo | None = None
    ntlm_error: str | None = None
    ntlm_tried: bool = False
    standard: StandardSecurity | None = None
    #: A read or handshake timed out: the host is slow or rate-limiting, so we open nothing more
    #: (and stay inside the probe's overall deadline with the facts gathered so far).
    stalled: bool = False


class RdpProbe(ServiceProbe):
    id: ClassVar[str] = "rdp"
    ports: ClassVar[frozenset[int]] = frozenset({3389})
    services: ClassVar[frozenset[str]] = frozenset({"ms-wbt-server", "rdp"})
    facts_model: ClassVar[type[Facts]] = RdpFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[RdpFacts]:
        assert target.port is not None
        s = _Session()
        for index, requested in enumerate(PROBE_SETS):
            if index:
                await asyncio.sleep(RECONNECT_PAUSE)
            try:
                await self._negotiate(target, ctx, requested, s)
            except ProbeError as exc:
                if index == 0:
                    raise  # nothing answered like RDP: the whole probe failed
                s.stalled = s.stalled or isinstance(exc, ProbeTimeout)
                if len(s.negotiations) == index:  # the Connection Confirm itself was not read
                    failed = Negotiation(requested=requested, outcome=Outcome.ERROR, error=str(exc)[:300])
                    s.negotiations.append(failed)
            if s.stalled:
                break
            if s.negotiations[0].outcome is Outcome.NO_NEGOTIATION_DATA:
                break  # a legacy server ignores RDP_NEG_REQ: more requests would tell nothing new
        decision = decide(s.negotiations)
        if decision.standard_security_allowed and not s.stalled and s.connections < MAX_CONNECTIONS:
            await asyncio.sleep(RECONNECT_PAUSE)
            s.standard = await self._standard_security(target, ctx, s)
        facts = self._facts(s)
        return Observation(facts, self._evidence(target, facts, s.first_reply))

    async def _negotiate(self, target: Target, ctx: ProbeContext, requested: int, s: _Session) -> None:
        assert target.port is not None
        s.connections += 1
        async with await ctx.connect(target.host, target.port) as stream:
            await stream.write(connection_request(requested))
            reply = await read_tpkt(stream, "X.224 Connection Confirm")
            negotiation = negotiation_from(requested, parse_connection_confirm(reply))
            s.negotiations.append(negotiation)
            s.first_reply = s.first_reply or reply
            selected = negotiation.selected
            wants_ntlm = selected in CREDSSP_PROTOCOLS and not s.ntlm_tried
            if selected in TLS_PROTOCOLS and (s.tls is None or wants_ntlm):
                if not await self._start_tls(stream, ctx, s):
                    return
                if wants_ntlm:
                    s.ntlm_tried = True
                    await self._ntlm(stream, s)

    async def _start_tls(self, stream: Stream, ctx: ProbeContext, s: _Session) -> bool:
        try:
            await stream.start_tls(ctx.tls_context(), ctx.timeouts.read)
        except ProbeError as exc:
            s.stalled = s.stalled or isinstance(exc, ProbeTimeout)
            s.tls = s.tls or TlsInfo(error=f"TLS handshake: {exc}"[:300])
            return False
        if s.tls is None or s.tls.certificate is None:
            der = stream.peer_certificate()
            try:
                cert = None if der is None else parse_certificate(der, ctx.clock())
                s.tls = TlsInfo(version=stream.tls_version(), certificate=cert)
            except ProtocolError as exc:
                s.tls = TlsInfo(version=stream.tls_version(), error=str(exc)[:300])
        return True

    async def _ntlm(self, stream: Stream, s: _Session) -> None:
        """[MS-CSSP] 3.1.5 step 1 only: NEGOTIATE out, CHALLENGE in, then we hang up."""
        try:
            await stream.write(credssp.ts_request(negotiate_message()))
            answer = credssp.parse_ts_request(await read_ts_request(stream))
            if answer.error_code is not None:
                s.ntlm_error = f"server TSRequest errorCode 0x{answer.error_code & 0xFFFFFFFF:08x}"
                return
            challenge = find_challenge(answer.nego_token or b"")
            if challenge is None:
                s.ntlm_error = "server TSRequest carried no NTLM CHALLENGE"
                return
            s.ntlm = parse_challenge(challenge)
        except ProbeError as exc:
            s.stalled = s.stalled or isinstance(exc, ProbeTimeout)
            s.ntlm_error = f"CredSSP: {exc}"[:300]

    async def _standard_security(self, target: Target, ctx: ProbeContext, s: _Session) -> StandardSecurity:
        assert target.port is not None
        s.connections += 1
        try:
            async with await ctx.connect(target.host, target.port) as stream:
                await stream.write(connection_request(PROTOCOL_RDP))
                parse_connection_confirm(await read_tpkt(stream, "X.224 Connection Confirm"))
                await stream.write(mcs.connect_initial(selected_protocol=PROTOCOL_RDP))
                return mcs.parse_connect_response(await read_tpkt(stream, "MCS Connect-Response"))
        except ProbeError as exc:
            return StandardSecurity(status=EncryptionStatus.NOT_DETERMINED, detail=str(exc)[:300])

    @staticmethod
    def _facts(s: _Session) -> RdpFacts:
        d = decide(s.negotiations)
        if s.ntlm is not None:
            step, detail = NtlmStep.COLLECTED, None
        elif s.ntlm_tried or s.ntlm_error:
            step, detail = NtlmStep.FAILED, s.ntlm_error
        else:
            step, detail = NtlmStep.HYBRID_NOT_OFFERED, "no request got HYBRID or HYBRID_EX selected"
        if s.standard is not None:
            standard = s.standard
        elif d.standard_security_allowed is False:
            standard = StandardSecurity(status=EncryptionStatus.NOT_APPLICABLE)
        else:
            standard = StandardSecurity(status=EncryptionStatus.NOT_DETERMINED)
        return RdpFacts(
            speaks_rdp=True,
            negotiations=tuple(s.negotiations),
            legacy_server=d.legacy_server,
            accepted_protocols=d.accepted,
            standard_security_allowed=d.standard_security_allowed,
            tls_allowed=d.tls_allowed,
            nla_supported=d.nla_supported,
            nla_required=d.nla_required,
            standard_security=standard,
            tls=s.tls,
            ntlm=s.ntlm,
            ntlm_step=step,
            ntlm_detail=detail,
            connections=s.connections,
        )

    def _evidence(self, target: Target, f: RdpFacts, first_reply: bytes) -> tuple[Evidence, ...]:
        where = f"{target.host}:{target.port}"
        lines = [
            f"requested 0x{n.requested:x}: {n.outcome.value} {(n.selected or n.failure or n.error or '')}".rstrip()
            for n in f.negotiations
        ]
        out = [
            evidence(
                self.id,
                EvidenceKind.HANDSHAKE,
                f"RDP on {where}: accepts {', '.join(p.value for p in f.accepted_protocols) or 'nothing'};"
                f" NLA required: {f.nla_required}",
                "\n".join(lines),
            ),
            evidence(self.id, EvidenceKind.HANDSHAKE, f"X.224 Connection Confirm from {where}", first_reply),
        ]
        if f.tls is not None and f.tls.certificate is not None:
            c = f.tls.certificate
            out.append(
                evidence(
                    self.id,
                    EvidenceKind.CERTIFICATE,
                    f"RDP TLS certificate: subject {c.subject}, issuer {c.issuer}, expires {c.not_after:%Y-%m-%d}",
                    f"sha256 {c.sha256_fingerprint}; {f.tls.version}",
                )
            )
        if f.ntlm is not None:
            n = f.ntlm
            out.append(
                evidence(
                    self.id,
                    EvidenceKind.VERSION,
                    f"NTLM CHALLENGE via CredSSP: {n.dns_computer_name or n.netbios_computer_name}, "
                    f"OS version {n.product_version or 'not disclosed'}",
                    f"target={n.target_name} nb_domain={n.netbios_domain_name} "
                    f"dns_domain={n.dns_domain_name} version={n.product_version}",
                )
            )
        return tuple(out)

"""MS17-010 (EternalBlue) check, as nmap smb-vuln-ms17-010.nse: vuln-specific, off by default.

It sends a crafted (harmless) SMB_COM_TRANSACTION: PeekNamedPipe on FID 0 over IPC$. An
unpatched srv.sys answers STATUS_INSUFF_SERVER_RESOURCES; a patched one ACCESS_DENIED or
INVALID_HANDLE (Rapid7 PR #8167). Without a session or IPC$ the answer is "unknown", never
"not vulnerable" (detection-methods.md §3.5).

Connections: one raw SMB1 NEGOTIATE (SMBv1 refused ⇒ MS17-010 is out of reach, done), then one
impacket SMB1 session (null; a ``Guest`` one on a second connection if the null one gets no IPC$).
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from duecare.probes.base import Facts, Observation, ProbeClass, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout, ProtocolError
from duecare.probes.smb._raw import Budget, negotiate_smb1
from duecare.probes.smb.facts import Ms17010Facts, Ms17010Outcome, Smb1Outcome
from duecare.probes.smb.probe import IMPACKET_TIMEOUT, SESSION_CAP
from duecare.wire import Evidence, EvidenceKind

_NO_WAY_IN = frozenset({Ms17010Outcome.NO_SESSION, Ms17010Outcome.IPC_REFUSED})


def ms17_010_exchange(host: str, port: int, *, user: str, timeout: float) -> Ms17010Facts:
    """``_impacket.ms17_010_exchange``, imported when the check runs (see ``probe.empty_password_session``)."""
    from duecare.probes.smb import _impacket

    return _impacket.ms17_010_exchange(host, port, user=user, timeout=timeout)


def _summary(where: str, facts: Ms17010Facts) -> str:
    status = "" if facts.nt_status is None else f" (NT status 0x{facts.nt_status:08x})"
    what = {
        Ms17010Outcome.VULNERABLE: "PeekNamedPipe on FID 0 ran out of server resources: unpatched",
        Ms17010Outcome.PATCHED: "PeekNamedPipe on FID 0 was refused as a patched server does",
        Ms17010Outcome.SMB1_REFUSED: "SMBv1 refused, so MS17-010 cannot be reached",
        Ms17010Outcome.NO_SESSION: "no null or guest session: could not check",
        Ms17010Outcome.IPC_REFUSED: "IPC$ tree connect refused: could not check",
        Ms17010Outcome.UNEXPECTED_STATUS: "unexpected answer to PeekNamedPipe: could not tell",
    }[facts.outcome]
    return f"MS17-010 check on {where}: {what}{status}"


class Ms17010Probe(ServiceProbe):
    id: ClassVar[str] = "smb-ms17-010"
    probe_class: ClassVar[ProbeClass] = ProbeClass.VULN_SPECIFIC
    ports: ClassVar[frozenset[int]] = frozenset({445})
    services: ClassVar[frozenset[str]] = frozenset({"microsoft-ds"})
    facts_model: ClassVar[type[Facts]] = Ms17010Facts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[Ms17010Facts]:
        assert target.port is not None
        host, port = target.host, target.port
        budget = Budget(ctx.timeouts.probe - 1.0)
        step = ctx.timeouts.connect + ctx.timeouts.read
        smb1 = await negotiate_smb1(ctx, host, port, timeout=budget.cap(step) or step)
        if smb1.outcome is Smb1Outcome.TIMED_OUT:
            raise ProbeTimeout(smb1.error or "SMB1 negotiate got no answer")
        if smb1.outcome.refused:
            facts = Ms17010Facts(outcome=Ms17010Outcome.SMB1_REFUSED, nt_status=smb1.status)
        elif smb1.outcome is not Smb1Outcome.ACCEPTED:
            raise ProtocolError(f"SMB1 negotiate failed: {smb1.error or smb1.outcome.value}")
        else:
            facts = await self._check(ctx, host, port, "", budget)
            if facts.outcome in _NO_WAY_IN:
                # A guest session may reach IPC$ where the null one may not (nmap smb.start_ex).
                second = await self._check(ctx, host, port, "Guest", budget)
                facts = facts if second.outcome is Ms17010Outcome.NO_SESSION else second
        return Observation(facts, self._evidence(f"{host}:{port}", facts))

    async def _check(self, ctx: ProbeContext, host: str, port: int, user: str, budget: Budget) -> Ms17010Facts:
        cap = budget.cap(SESSION_CAP)
        if cap is None:
            raise ProbeTimeout("probe time budget spent before the MS17-010 exchange")
        timeout = min(IMPACKET_TIMEOUT, ctx.timeouts.read)
        call = partial(ms17_010_exchange, host, port, user=user, timeout=timeout)
        return await ctx.connect_blocking(host, call, timeout=cap)

    def _evidence(self, where: str, facts: Ms17010Facts) -> tuple[Evidence, ...]:
        return (evidence(self.id, EvidenceKind.HANDSHAKE, _summary(where, facts)),)

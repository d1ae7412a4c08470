"""SMB: which dialects and signing the server offers, what it says about itself, what it lets
an empty password do.

Connections, in order (detection-methods.md §3): one SMB2 NEGOTIATE offering every dialect; one
SMB1 NEGOTIATE offering only NT LM 0.12, followed when accepted by the first SESSION_SETUP_ANDX on
the same connection (NativeOS/NativeLanMan, as nmap smb-os-discovery reads them); one single-dialect
NEGOTIATE per lower SMB2 dialect (as nmap smb-protocols); then, through impacket, a null session
and a ``Guest`` session, each listing shares when it can, logging off and closing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, ClassVar, Literal

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProbeTimeout, ProtocolError
from duecare.probes.smb._raw import Budget, Smb1Answer, exchange, negotiate_smb1
from duecare.probes.smb.errors import ConnectionDropped
from duecare.probes.smb.facts import SessionOutcome, Smb1Outcome, Smb2Negotiation, SmbFacts, SmbSession
from duecare.probes.smb.packets import DIALECT_311, IMPACKET_DIALECTS, SMB2_DIALECTS, smb2_negotiate_request
from duecare.probes.smb.parse import Rejected, parse_smb2_negotiate
from duecare.wire import Evidence, EvidenceKind

if TYPE_CHECKING:
    from duecare.probes.smb._impacket import SessionReport

#: impacket's own socket timeout, per round trip.
IMPACKET_TIMEOUT = 5.0
#: Ceiling for one impacket session (negotiate, setup, share listing, logoff): several round trips.
SESSION_CAP = 12.0
_RESERVE = 1.0  # left to the runner's ceiling for bookkeeping


def _request(dialects: Iterable[int]) -> bytes:
    return smb2_negotiate_request(list(dialects), client_guid=os.urandom(16), salt=os.urandom(32))


def empty_password_session(
    host: str, port: int, *, user: str, dialect: int | None, list_shares: bool, timeout: float
) -> SessionReport:
    """``_impacket.empty_password_session``, imported when a session is tried: impacket (~7 MB
    resident) loads in the probe stage, not with the probe registry before nmap runs (issue 19)."""
    from duecare.probes.smb import _impacket

    return _impacket.empty_password_session(
        host, port, user=user, dialect=dialect, list_shares=list_shares, timeout=timeout
    )


def session_dialect(smb2: Smb2Negotiation | None, accepted: Iterable[int], smb1: bool) -> int | Literal["smb1"] | None:
    """Dialect for the impacket sessions: an SMB2/3 code, "smb1", or None when there is no way in.

    When the server does not require signing we stay below 3.1.1: impacket signs every 3.1.1
    session (§3.2), and a guest session has no key to sign with, so the server refuses it all.
    """
    usable = sorted(set(accepted) & IMPACKET_DIALECTS, reverse=True)
    if smb2 is not None and usable:
        if not smb2.signing_required:
            below = [d for d in usable if d < DIALECT_311]
            if below:
                return below[0]
        return usable[0]
    return "smb1" if smb1 else None


class SmbProbe(ServiceProbe):
    id: ClassVar[str] = "smb"
    ports: ClassVar[frozenset[int]] = frozenset({445})
    services: ClassVar[frozenset[str]] = frozenset({"microsoft-ds"})
    facts_model: ClassVar[type[Facts]] = SmbFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[SmbFacts]:
        assert target.port is not None
        host, port = target.host, target.port
        budget = Budget(ctx.timeouts.probe - _RESERVE)
        step = ctx.timeouts.connect + ctx.timeouts.read

        smb2, smb2_reply, smb2_error = await self._negotiate_all(ctx, host, port, budget.cap(step) or step)
        smb1_cap = budget.cap(step)
        smb1 = (
            Smb1Answer(Smb1Outcome.NOT_TRIED)
            if smb1_cap is None
            else await negotiate_smb1(ctx, host, port, timeout=smb1_cap, session_setup=True)
        )
        if smb2 is None and smb1.outcome is not Smb1Outcome.ACCEPTED:
            if smb1.outcome is Smb1Outcome.TIMED_OUT:
                raise ProbeTimeout(f"SMB1 negotiate got no answer; SMB2: {smb2_error}")
            raise ProtocolError(f"{host}:{port} accepted neither SMB2/3 ({smb2_error}) nor SMB1 ({smb1.outcome})")

        accepted, unchecked = await self._lower_dialects(ctx, host, port, smb2, budget, step)
        dialect = session_dialect(smb2, accepted, smb1.outcome is Smb1Outcome.ACCEPTED)
        anonymous = await self._session(ctx, host, port, "", dialect, True, budget)
        guest = await self._session(ctx, host, port, "Guest", dialect, anonymous.session.shares is None, budget)

        facts = SmbFacts(
            smb2=smb2,
            smb2_dialects=tuple(SMB2_DIALECTS[d] for d in sorted(accepted)),
            smb2_dialects_unchecked=tuple(SMB2_DIALECTS[d] for d in sorted(unchecked)),
            smb1_outcome=smb1.outcome,
            smb1=smb1.negotiation,
            smb1_status=smb1.status,
            smb1_session_setup=smb1.session_setup,
            host=anonymous.host or guest.host,
            anonymous=anonymous.session,
            guest=guest.session,
        )
        return Observation(facts, _evidence(self.id, f"{host}:{port}", facts, smb2_reply, smb1))

    async def _negotiate_all(
        self, ctx: ProbeContext, host: str, port: int, timeout: float
    ) -> tuple[Smb2Negotiation | None, bytes, str | None]:
        """(highest dialect's negotiation or None, raw reply, why None). Silence and refusal to
        connect end the probe; a hang-up or garbage may still be an SMB1-only server."""
        try:
            reply = await exchange(ctx, host, port, _request(SMB2_DIALECTS), timeout=timeout)
            parsed = parse_smb2_negotiate(reply)
        except ConnectionDropped as exc:
            return None, b"", str(exc)
        except ProtocolError as exc:
            return None, b"", f"unreadable reply: {exc}"
        if isinstance(parsed, Rejected):
            return None, reply, f"NEGOTIATE refused with status 0x{parsed.status:08x}"
        if parsed.dialect not in SMB2_DIALECTS:
            return None, reply, f"server chose dialect {parsed.dialect_name}, which we did not offer"
        return parsed, reply, None

    async def _lower_dialects(
        self,
        ctx: ProbeContext,
        host: str,
        port: int,
        smb2: Smb2Negotiation | None,
        budget: Budget,
        step: float,
    ) -> tuple[set[int], set[int]]:
        """Offer each dialect below the highest alone, one connection each (nmap smb-protocols)."""
        if smb2 is None:
            return set(), set()
        accepted, unchecked = {smb2.dialect}, set()
        for dialect in (d for d in SMB2_DIALECTS if d < smb2.dialect):
            cap = budget.cap(step)
            if cap is None:
                unchecked.add(dialect)
                continue
            try:
                parsed = parse_smb2_negotiate(await exchange(ctx, host, port, _request([dialect]), timeout=cap))
            except ConnectionDropped:
                continue  # hanging up on a dialect it does not speak is a refusal
            except ProbeError:
                unchecked.add(dialect)
                continue
            if isinstance(parsed, Smb2Negotiation) and parsed.dialect == dialect:
                accepted.add(dialect)
            elif isinstance(parsed, Smb2Negotiation):
                unchecked.add(dialect)  # chose a dialect we did not offer: no clear answer
        return accepted, unchecked

    async def _session(
        self,
        ctx: ProbeContext,
        host: str,
        port: int,
        user: str,
        dialect: int | Literal["smb1"] | None,
        list_shares: bool,
        budget: Budget,
    ) -> SessionReport:
        from duecare.probes.smb._impacket import SessionReport

        cap = budget.cap(SESSION_CAP)
        if dialect is None or cap is None:
            why = "no dialect impacket can speak" if dialect is None else "probe time budget spent"
            return SessionReport(SmbSession(user=user, outcome=SessionOutcome.NOT_TRIED, error=why), None)
        call = partial(
            empty_password_session,
            host,
            port,
            user=user,
            dialect=None if dialect == "smb1" else dialect,
            list_shares=list_shares,
            timeout=min(IMPACKET_TIMEOUT, ctx.timeouts.read),
        )
        try:
            return await ctx.connect_blocking(host, call, timeout=cap)
        except ProbeTimeout as exc:
            outcome, error = SessionOutcome.TIMED_OUT, str(exc)
        except ProbeError as exc:
            outcome, error = SessionOutcome.FAILED, str(exc)
        return SessionReport(SmbSession(user=user, outcome=outcome, error=error[:300]), None)


def _signing(mode_required: bool, mode_enabled: bool) -> str:
    if mode_required:
        return "signing required"
    return "signing enabled but not required" if mode_enabled else "signing disabled"


def _evidence(probe: str, where: str, facts: SmbFacts, smb2_reply: bytes, smb1: Smb1Answer) -> tuple[Evidence, ...]:
    """The negotiate replies as the server sent them (header + fixed part), and what sessions saw."""
    out: list[Evidence] = []
    if facts.smb2 is not None:
        n = facts.smb2
        summary = (
            f"SMB2 NEGOTIATE from {where}: dialect {n.dialect_name}, SecurityMode 0x{n.security_mode:02x} "
            f"({_signing(n.signing_required, n.signing_enabled)}); dialects accepted alone: "
            f"{', '.join(facts.smb2_dialects) or 'none'}"
        )
        out.append(evidence(probe, EvidenceKind.HANDSHAKE, summary, smb2_reply[:128]))
    if facts.smb1 is not None:
        m = facts.smb1
        summary = (
            f"SMB1 NEGOTIATE (NT LM 0.12) accepted by {where}: SecurityMode 0x{m.security_mode:02x} "
            f"({_signing(m.signing_required, m.signing_enabled)})"
        )
        out.append(evidence(probe, EvidenceKind.HANDSHAKE, summary, smb1.reply[:72]))
    else:
        detail = "" if facts.smb1_status is None else f", status 0x{facts.smb1_status:08x}"
        summary = f"SMB1 NEGOTIATE (NT LM 0.12) to {where}: {facts.smb1_outcome.value}{detail}"
        out.append(evidence(probe, EvidenceKind.HANDSHAKE, summary, smb1.reply[:72]))
    setup = facts.smb1_session_setup
    if setup is not None:
        if setup.native_os or setup.native_lanman:
            names = f"NativeOS {setup.native_os!r}, NativeLanMan {setup.native_lanman!r}"
            summary = f"SMB1 SESSION_SETUP_ANDX from {where}: {names}"
        else:
            summary = f"SMB1 SESSION_SETUP_ANDX from {where}: status 0x{setup.nt_status:08x}, no NativeOS"
        out.append(evidence(probe, EvidenceKind.HANDSHAKE, summary, smb1.session_reply[:512]))
    for s in (facts.anonymous, facts.guest):
        who = "null session" if s.user == "" else f"session as {s.user!r}"
        if s.outcome is SessionOutcome.ACCEPTED:
            flag = " (server flagged it as guest)" if s.is_guest else ""
            out.append(evidence(probe, EvidenceKind.HANDSHAKE, f"{who} with an empty password accepted{flag}"))
        if s.shares is not None:
            names = ", ".join(s.shares)
            out.append(evidence(probe, EvidenceKind.LISTING, f"shares listed by a {who}: {names}", names))
    return tuple(out)

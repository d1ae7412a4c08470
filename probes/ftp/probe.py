"""FTP: greeting, FEAT, one anonymous login, one root LIST, then QUIT (nmap ftp-anon does the same).

One control connection; a second (data) connection only when the anonymous login succeeded.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ClassVar, Literal

from duecare.probes._net import Stream
from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProtocolError
from duecare.probes.ftp.facts import FtpEntry, FtpFacts
from duecare.probes.ftp.parse import (
    FtpReply,
    banner_product,
    features,
    parse_listing,
    pasv_port,
    split_reply,
    tls_in_features,
)
from duecare.wire import Evidence, EvidenceKind

#: RFC 1635 asks anonymous users for an e-mail address; this one is reserved (RFC 2606) and says who we are.
ANON_PASSWORD = b"ftp-audit@duecare.invalid"
#: Enough of a root listing to show what is exposed; more is never read.
MAX_LISTING_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Listing:
    obtained: bool = False
    entries: tuple[FtpEntry, ...] = ()
    total: int = 0
    error: str | None = None


class _Control:
    """The control connection: commands out, complete replies in, leftover bytes kept."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self._buf = b""

    async def reply(self, what: str) -> FtpReply:
        while True:
            done = split_reply(self._buf)
            if done is not None:
                reply, self._buf = done
                return reply
            chunk = await self.stream.read_some(4096, what)
            if not chunk:
                raise ProtocolError(f"connection closed before the {what} was complete")
            self._buf += chunk

    async def command(self, line: bytes, what: str) -> FtpReply:
        await self.stream.write(line + b"\r\n")
        return await self.reply(what)


class FtpProbe(ServiceProbe):
    id: ClassVar[str] = "ftp"
    ports: ClassVar[frozenset[int]] = frozenset({21})
    services: ClassVar[frozenset[str]] = frozenset({"ftp"})
    facts_model: ClassVar[type[Facts]] = FtpFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[FtpFacts]:
        assert target.port is not None
        ev: list[Evidence] = []
        async with await ctx.connect(target.host, target.port) as stream:
            ctl = _Control(stream)
            greeting = await ctl.reply("FTP greeting")
            if greeting.code == 120:  # RFC 959: "service ready in nnn minutes", a 220 follows
                greeting = await ctl.reply("FTP greeting")
            product, version = banner_product(greeting.text)
            ev.append(
                evidence(
                    self.id,
                    EvidenceKind.BANNER,
                    f"FTP greeting from {target.host}:{target.port}",
                    "\n".join(greeting.lines),
                )
            )
            head = FtpFacts(banner=greeting.text[:2048], product=product, version=version)
            if greeting.code == 421:
                # The server is up but refuses us now (busy, or per-host limits): nothing determined.
                return Observation(head, tuple(ev))
            if greeting.code != 220:
                raise ProtocolError(f"FTP greeting code {greeting.code}")
            facts = await self._converse(ctl, head, target, ctx, ev)
        return Observation(facts, tuple(ev))

    async def _converse(
        self, ctl: _Control, head: FtpFacts, target: Target, ctx: ProbeContext, ev: list[Evidence]
    ) -> FtpFacts:
        feat = await ctl.command(b"FEAT", "FEAT reply")
        feats = features(feat)
        tls: bool | None = tls_in_features(feats) if feat.code == 211 else None
        tls_how: Literal["feat", "auth-reply"] | None = "feat" if tls is not None else None
        tls_reply = feat

        user = await ctl.command(b"USER anonymous", "USER reply")
        replies = [user.last_line]
        anonymous: bool | None
        if user.code == 230:
            anonymous = True
        elif user.code == 331:
            pw = await ctl.command(b"PASS " + ANON_PASSWORD, "PASS reply")
            replies.append(pw.last_line)
            anonymous = True if pw.code == 230 else (False if pw.code >= 500 else None)
        else:
            anonymous = False if user.code >= 500 else None

        listing = _Listing()
        if anonymous:
            ev.append(
                evidence(
                    self.id,
                    EvidenceKind.HANDSHAKE,
                    f"anonymous FTP login accepted on {target.host}:{target.port}",
                    "USER anonymous\n" + "\n".join(replies),
                )
            )
            listing = await self._list_root(ctl, target, ctx, ev)

        if tls is None and not anonymous:
            # FEAT gave no answer: ask directly (RFC 4217 §4). 234 = TLS on offer.
            tls_reply = await ctl.command(b"AUTH TLS", "AUTH TLS reply")
            code = tls_reply.code
            tls = True if code == 234 else (False if code >= 500 else None)
            tls_how = "auth-reply" if tls is not None else None
            if code == 234:
                # The server now waits for a ClientHello: finish the handshake so QUIT stays polite.
                # If the handshake fails the answer (TLS offered) stands; QUIT then fails quietly.
                with contextlib.suppress(ProbeError):
                    await ctl.stream.start_tls(ctx.tls_context(), ctx.timeouts.read)
        summary = {
            True: "AUTH TLS offered",
            False: "no AUTH TLS offered: FTP logins cross the network in cleartext",
            None: "AUTH TLS support not determined",
        }[tls]
        ev.append(evidence(self.id, EvidenceKind.HANDSHAKE, summary, "\n".join(tls_reply.lines)))
        await self._quit(ctl)
        return FtpFacts(
            banner=head.banner,
            product=head.product,
            version=head.version,
            features=feats,
            tls_available=tls,
            tls_evidence=tls_how,
            anonymous_login=anonymous,
            login_replies=tuple(r[:300] for r in replies),
            listing_obtained=listing.obtained,
            listing=listing.entries,
            listing_total=listing.total,
            listing_error=listing.error,
        )

    async def _list_root(self, ctl: _Control, target: Target, ctx: ProbeContext, ev: list[Evidence]) -> _Listing:
        pasv = await ctl.command(b"PASV", "PASV reply")
        if pasv.code != 227:
            return _Listing(error=f"PASV refused: {pasv.last_line[:200]}")
        port = pasv_port(pasv)
        # Connect only to the host we audit, never to the address inside the 227 reply: a hostile
        # server could point us anywhere (the "FTP bounce" class, RFC 2577 §3; curl ignores it too).
        try:
            data_stream = await ctx.connect(target.host, port)
        except ProbeError as exc:
            return _Listing(error=f"data connection to port {port} failed: {exc}"[:300])
        raw = b""
        error: str | None = None
        async with data_stream:
            prelim = await ctl.command(b"LIST", "LIST reply")
            if prelim.code not in (125, 150):
                return _Listing(error=f"LIST refused: {prelim.last_line[:200]}")
            try:
                while len(raw) < MAX_LISTING_BYTES:
                    chunk = await data_stream.read_some(8192, "LIST data")
                    if not chunk:
                        break
                    raw += chunk
            except ProbeError as exc:  # a stalled listing costs the listing, not the login finding
                error = f"listing cut short: {exc}"[:300]
        with contextlib.suppress(ProbeError):
            await ctl.reply("LIST completion")  # 226, or 426 when we stopped reading early
        entries, total = parse_listing(raw[:MAX_LISTING_BYTES])
        summary = f"anonymous FTP root listing: {total} entries"
        ev.append(evidence(self.id, EvidenceKind.LISTING, summary, raw[:1024]))
        return _Listing(obtained=True, entries=entries, total=total, error=error)

    @staticmethod
    async def _quit(ctl: _Control) -> None:
        """RFC 959 QUIT; a server that already hung up or stays silent is no error of ours."""
        with contextlib.suppress(ProbeError):
            await ctl.command(b"QUIT", "QUIT reply")

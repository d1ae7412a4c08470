"""Printers: the raw JetDirect port (9100) and IPP (631), read-only.

9100 prints whatever it receives, so the only bytes sent are a UEL-wrapped ``@PJL INFO ID``
(nothing printable outside PJL mode); a port that stays silent is recorded as "raw port open,
product unknown". IPP gets one Get-Printer-Attributes POST to /ipp/print (IPP Everywhere path),
and a CUPS-Get-Default on / only when that resource does not exist (CUPS servers).
"""

from __future__ import annotations

from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout, ProtocolError
from duecare.probes.printer.facts import PrinterFacts
from duecare.probes.printer.ipp import (
    CLIENT_ERROR_NOT_FOUND,
    IppResponse,
    cups_get_default,
    get_printer_attributes,
    parse_response,
)
from duecare.probes.printer.parse import IppOperation, ipp_facts, jetdirect_facts
from duecare.probes.printer.pjl import FORM_FEED, INFO_ID, MAX_REPLY
from duecare.wire import EvidenceKind

RAW_PORTS = frozenset({9100})
IPP_PORTS = frozenset({631})
#: A PJL printer answers INFO ID within milliseconds; a silent port should not hold the scan.
_PJL_WAIT = 2.0
_MAX_IPP = 256 * 1024


class PrinterProbe(ServiceProbe):
    id: ClassVar[str] = "printer"
    ports: ClassVar[frozenset[int]] = RAW_PORTS | IPP_PORTS
    services: ClassVar[frozenset[str]] = frozenset({"jetdirect", "pdl-datastream", "ipp"})
    facts_model: ClassVar[type[Facts]] = PrinterFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[PrinterFacts]:
        if target.port in IPP_PORTS or target.service == "ipp":
            return await self._ipp(target, ctx)
        return await self._jetdirect(target, ctx)

    async def _jetdirect(self, target: Target, ctx: ProbeContext) -> Observation[PrinterFacts]:
        assert target.port is not None
        reply = bytearray()
        async with await ctx.connect(target.host, target.port) as s:
            s.read_timeout = min(s.read_timeout, _PJL_WAIT)
            await s.write(INFO_ID)
            try:
                while FORM_FEED not in reply and len(reply) <= MAX_REPLY:
                    chunk = await s.read_some(1024, "PJL INFO ID answer")
                    if not chunk:
                        break
                    reply += chunk
            except ProbeTimeout:
                pass  # silent accept, or an answer without the closing form feed
        facts = jetdirect_facts(bytes(reply) or None)
        where = f"{target.host}:{target.port}"
        summary = (
            f"raw print port {where} identifies as {facts.pjl_id!r} (PJL INFO ID)"
            if facts.pjl_answered
            else f"raw print port {where} accepted a connection and stayed silent to PJL"
        )
        return Observation(facts, (evidence(self.id, EvidenceKind.BANNER, summary, bytes(reply)),))

    async def _post(self, ctx: ProbeContext, url: str, body: bytes) -> tuple[int, IppResponse | None]:
        await ctx.pace()
        data = bytearray()
        async with ctx.http.stream("POST", url, content=body, headers={"Content-Type": "application/ipp"}) as r:
            status = r.status_code
            async for chunk in r.aiter_bytes():
                data += chunk
                if len(data) > _MAX_IPP:
                    raise ProtocolError(f"IPP answer larger than {_MAX_IPP} bytes")
            ctype = r.headers.get("content-type", "")
        if status != 200:
            return status, None
        if not ctype.startswith("application/ipp"):
            raise ProtocolError(f"port answered HTTP 200 with {ctype[:60]!r}, not IPP")
        return status, parse_response(bytes(data))

    async def _ipp(self, target: Target, ctx: ProbeContext) -> Observation[PrinterFacts]:
        base = f"http://{target.authority}"
        operation: IppOperation = "get-printer-attributes"
        url = f"{base}/ipp/print"
        status, answer = await self._post(ctx, url, get_printer_attributes(f"ipp://{target.authority}/ipp/print"))
        if status == 404 or (answer is not None and answer.status == CLIENT_ERROR_NOT_FOUND):
            # CUPS has no /ipp/print; its default destination answers CUPS-Get-Default on "/".
            operation, url = "cups-get-default", f"{base}/"
            status, answer = await self._post(ctx, url, cups_get_default())
        facts = ipp_facts(status, answer, operation)
        lines = [
            f"HTTP {status}; IPP status 0x{facts.ipp_status:04x}" if facts.ipp_status is not None else f"HTTP {status}",
            f"printer-make-and-model: {facts.make_and_model}",
            f"firmware: {', '.join(facts.firmware) or 'not disclosed'}",
            f"uri-security-supported: {', '.join(facts.uri_security_supported) or 'not disclosed'}",
        ]
        ev = evidence(self.id, EvidenceKind.DOCUMENT, f"IPP {operation} at {url}", "\n".join(lines))
        return Observation(facts, (ev,))

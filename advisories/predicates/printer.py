"""Printer predicates (CISA AA23-131A / AA23-278A: printers left on default, open services)."""

from __future__ import annotations

from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, not_affected
from duecare.probes.printer.facts import PrinterFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("printer.raw_port_open", PrinterFacts)
    def raw_port_open(f: PrinterFacts, _p: object) -> Check:
        """The raw JetDirect port accepts connections: anyone can print, or speak PJL to it."""
        if f.service != "jetdirect":
            return not_affected("IPP service, not the raw print port")
        if f.pjl_answered:
            return affected(
                f"raw print port answers PJL as {f.pjl_id!r}", confidence=Confidence.FIRM, details={"pjl_id": f.pjl_id}
            )
        if f.raw_port_open:
            # A silent accept is what a printer does, but also what a tarpit does: say so.
            return affected("raw print port open, product unknown (silent to PJL)", confidence=Confidence.TENTATIVE)
        return not_affected("raw print port did not accept")

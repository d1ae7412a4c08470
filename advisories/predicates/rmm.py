"""RMM predicates (CISA/NSA/MS-ISAC AA23-025A: malicious use of remote monitoring and management)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, not_affected
from duecare.probes.rmm.facts import RmmFacts
from duecare.wire import Confidence


class RmmParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Products the client's care obligations sanction (the MSP's own tool): not reported.
    sanctioned: tuple[str, ...] = ()


def register(reg: PredicateRegistry) -> None:
    @reg.add("rmm.tool_listening", RmmFacts, RmmParams)
    def tool_listening(f: RmmFacts, p: RmmParams) -> Check:
        """A remote-access / RMM tool that is not the sanctioned one listens on this port."""
        allowed = {s.casefold() for s in p.sanctioned}
        found = [m for m in f.matches if m.product.casefold() not in allowed]
        if not found:
            why = "only sanctioned tools matched" if f.matches else "no remote-access tool matched"
            return not_affected(why)
        firm = [m for m in found if m.confidence == "firm"]
        shown = firm or found
        return affected(
            "; ".join(f"{m.product} ({m.basis})" for m in shown),
            confidence=Confidence.FIRM if firm else "tentative",
            details={"products": [m.product for m in shown], "banner": f.banner, "http_title": f.http_title},
        )

"""Run one packaged exposure rule through the real engine, for the service-probe predicate tests."""

from __future__ import annotations

import shutil
import tempfile
from ipaddress import ip_address
from pathlib import Path

from duecare.advisories.engine import FactsRecord, evaluate
from duecare.advisories.exposures import load_rule
from duecare.advisories.predicates import default_registry
from duecare.probes.base import Facts
from duecare.wire import Finding, ProbeStatus, Proto

EXPOSURES = Path(__file__).parents[3] / "advisories" / "data" / "exposures"


def judge(
    exposure: str, facts_model: type[Facts], facts: Facts | None, status: ProbeStatus, proto: Proto = Proto.TCP
) -> list[Finding]:
    """Findings of rule ``exposure`` for one probe attempt (facts None for a failed attempt)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(EXPOSURES / f"{exposure}.toml", tmp)
        rules = [load_rule(p, default_registry()) for p in sorted(Path(tmp).glob("*.toml"))]
    rec = FactsRecord("t", facts_model, ip_address("198.18.0.40"), 21, proto, status, "boom", facts)
    return evaluate(rules, [rec])

"""From the nginx recordings through the real rule files and engine to findings (no lab needed)."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from duecare import advisories
from duecare.advisories.engine import FactsRecord, evaluate
from duecare.advisories.exposures import load_rule
from duecare.advisories.predicates import default_registry
from duecare.probes.tls.facts import TlsFacts
from duecare.probes.tls.parse import build_facts
from duecare.wire import ProbeStatus, Proto, Verdict
from tests.probes.tls.test_parse import NOW, _attempts, _bytes

EXPOSURES = Path(advisories.__file__).parent / "data" / "exposures"
RULES = [load_rule(p, default_registry()) for p in sorted(EXPOSURES.glob("*.toml"))]


def _findings(listener: str) -> dict[str, Verdict]:
    facts = build_facts(_attempts(listener), _bytes(f"nginx1221_{listener}_cert.der"), NOW)
    rec = FactsRecord("tls", TlsFacts, IPv4Address("198.18.0.90"), 443, Proto.TCP, ProbeStatus.COMPLETED, None, facts)
    return {f.exposure.value: f.verdict for f in evaluate(RULES, [rec])}


def test_legacy_listener_gives_both_tls_exposures() -> None:
    assert _findings("expired") == {
        "tls-obsolete-protocol": Verdict.AFFECTED,
        "tls-certificate-expired": Verdict.AFFECTED,
    }


def test_modern_listener_gives_none() -> None:
    assert _findings("modern") == {}


def test_timed_out_probe_leaves_both_questions_open() -> None:
    rec = FactsRecord(
        "tls", TlsFacts, IPv4Address("198.18.0.120"), 443, Proto.TCP, ProbeStatus.TIMED_OUT, "silent", None
    )
    found = {f.exposure.value: f.verdict for f in evaluate(RULES, [rec])}
    assert found == {"tls-obsolete-protocol": Verdict.INDETERMINATE, "tls-certificate-expired": Verdict.INDETERMINATE}

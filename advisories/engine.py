"""Facts → findings. Pure: the same facts always give the same findings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from pydantic import JsonValue

from duecare.advisories.exposures import BoundCondition, ExposureRule
from duecare.advisories.predicates.base import Check, indeterminate
from duecare.probes.base import Facts
from duecare.wire import Confidence, Evidence, Finding, KevStatus, ProbeStatus, Proto, Verdict
from duecare.wire.bounds import REASON, json_safe, printable

#: Probe failures that leave a question open. A protocol error means the port does not speak
#: the protocol at all (no question to ask); unreachable means nothing was there.
_OPEN_QUESTION = {ProbeStatus.TIMED_OUT, ProbeStatus.NOT_PERMITTED, ProbeStatus.BUG}


@dataclass(frozen=True, slots=True)
class FactsRecord:
    """One probe attempt as the engine sees it."""

    probe: str
    facts_model: type[Facts]
    ip: IPv4Address | IPv6Address
    port: int | None
    proto: Proto | None
    status: ProbeStatus
    error: str | None
    facts: Facts | None
    evidence: tuple[Evidence, ...] = ()


TargetKey = tuple[IPv4Address | IPv6Address, int | None, Proto | None]


def _judge(cond: BoundCondition, records: Sequence[FactsRecord]) -> tuple[Check, FactsRecord] | None:
    for rec in records:
        if not issubclass(rec.facts_model, cond.spec.facts):
            continue
        if rec.status is ProbeStatus.COMPLETED and rec.facts is not None:
            return cond.spec.fn(rec.facts, cond.params), rec
        if rec.status is ProbeStatus.TIMED_OUT and rec.proto is Proto.UDP:
            # UDP silence is what an absent service looks like: no question was opened.
            return None
        if rec.status in _OPEN_QUESTION:
            why = f"probe {rec.probe} {rec.status.value}: {rec.error or 'no detail'}"
            return indeterminate(why, confidence=Confidence.TENTATIVE), rec
    return None


def _combine(match: str, checks: list[Check]) -> Verdict:
    verdicts = [c.verdict for c in checks]
    if match == "all":
        if any(v is Verdict.NOT_AFFECTED for v in verdicts):
            return Verdict.NOT_AFFECTED
        return Verdict.AFFECTED if all(v is Verdict.AFFECTED for v in verdicts) else Verdict.INDETERMINATE
    if any(v is Verdict.AFFECTED for v in verdicts):
        return Verdict.AFFECTED
    if all(v is Verdict.NOT_AFFECTED for v in verdicts):
        return Verdict.NOT_AFFECTED
    return Verdict.INDETERMINATE


def evaluate(
    rules: Iterable[tuple[ExposureRule, tuple[BoundCondition, ...]]],
    records: Iterable[FactsRecord],
) -> list[Finding]:
    by_target: defaultdict[TargetKey, list[FactsRecord]] = defaultdict(list)
    for rec in records:
        by_target[(rec.ip, rec.port, rec.proto)].append(rec)

    findings: list[Finding] = []
    for rule, conditions in rules:
        for (ip, port, proto), recs in by_target.items():
            judged = [_judge(c, recs) for c in conditions]
            if all(j is None for j in judged):
                continue
            checks = [
                j[0] if j else indeterminate(f"no {c.spec.facts.__name__} observed", confidence=Confidence.TENTATIVE)
                for j, c in zip(judged, conditions, strict=True)
            ]
            verdict = _combine(rule.detect.match, checks)
            if verdict is Verdict.NOT_AFFECTED:
                continue
            relevant = [c for c in checks if c.verdict is verdict] or checks
            evidence: list[Evidence] = []
            for j in judged:
                if j is not None:
                    evidence.extend(e for e in j[1].evidence if e not in evidence)
            details: dict[str, JsonValue] = {}
            for c in relevant:
                details.update(c.details)
            findings.append(
                Finding(
                    exposure=rule.id,
                    ip=ip,
                    port=port,
                    proto=proto,
                    severity=rule.severity,
                    verdict=verdict,
                    title=rule.title,
                    reason=printable("; ".join(c.reason for c in relevant), REASON),
                    evidence=tuple(evidence) if verdict is Verdict.AFFECTED else (),
                    confidence=min((c.confidence for c in relevant), key=lambda c: c.rank),
                    remediation=rule.remediation.strip(),
                    summary=" ".join(rule.summary.split()),
                    details=json_safe(details),
                    cves=tuple(
                        KevStatus(cve=cve, known_exploited=None, note="KEV not consulted yet")
                        for cve in dict.fromkeys(cv for c in relevant for cv in c.cves)
                    ),
                )
            )
    findings.sort(key=lambda f: (-f.severity.rank, f.ip.version, int(f.ip), f.port or 0, f.exposure.value))
    return findings

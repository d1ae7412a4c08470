"""Shared fixtures for catalog, KEV and obligation tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any

import pytest

from duecare.advisories.catalog import Catalog, collect
from duecare.advisories.exposures import BoundCondition, Condition, Detect, ExposureRule
from duecare.advisories.predicates.base import PredicateRegistry, affected
from duecare.probes.telnet.facts import TelnetFacts
from duecare.wire import Exposure, Finding, Proto, Severity, Verdict

#: A fixed clock: the shipped KEV snapshot (2025-08-25) is stale at this date.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def packaged() -> Catalog:
    """The packaged catalog as it loads today (other teams' rule files may still be in progress)."""
    return collect()[0]


@pytest.fixture(scope="session")
def catalog(packaged: Catalog) -> Catalog:
    """The packaged data, with a stand-in rule for every exposure id so every exposure is detectable.

    Obligation logic must not depend on which probe teams have landed their rule files yet.
    """
    reg = PredicateRegistry()

    @reg.add("test.always", TelnetFacts)
    def _always(_f: TelnetFacts, _p: object) -> Any:
        return affected("test")

    rules = []
    for exp in Exposure:
        if exp is Exposure.KEV_VERSION_DISCLOSED:
            continue
        rule = ExposureRule(
            id=exp,
            title=exp.value,
            severity=Severity.HIGH,
            summary="s",
            remediation="r",
            detect=Detect(when=(Condition(predicate="test.always"),)),
        )
        rules.append((rule, (BoundCondition(reg, rule.detect.when[0]),)))
    return dataclasses.replace(packaged, rules=tuple(rules))


def finding(
    exposure: Exposure,
    ip: str = "10.0.0.5",
    port: int | None = 3389,
    *,
    severity: Severity = Severity.HIGH,
    verdict: Verdict = Verdict.AFFECTED,
    confidence: str = "firm",
    **kw: Any,
) -> Finding:
    return Finding(
        exposure=exposure,
        ip=ip_address(ip),
        port=port,
        proto=Proto.TCP if port is not None else None,
        severity=severity,
        verdict=verdict,
        title=exposure.value,
        reason="test finding",
        confidence=confidence,
        **kw,
    )


@pytest.fixture
def make_finding() -> Callable[..., Finding]:
    return finding

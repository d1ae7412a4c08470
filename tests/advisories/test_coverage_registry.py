"""Meta-test over the registries: every fact an exposure rule reads is collected by a registered probe.

A rule whose facts no registered probe collects can never fire and, before this, silently turned its
requirements into "met". The probe side of the registry is tested in tests/probes/test_registry.py.
"""

from __future__ import annotations

from duecare.advisories.catalog import Catalog
from duecare.advisories.coverage import coverage
from duecare.probes.registry import all_probes
from duecare.wire import Exposure
from tests.advisories import scans


def test_every_rule_reads_facts_a_registered_probe_collects(packaged: Catalog) -> None:
    collected = [p.facts_model for p in all_probes()]
    orphans = [
        (rule.id.value, cond.spec.name, cond.spec.facts.__name__)
        for rule, conditions in packaged.rules
        for cond in conditions
        if not any(issubclass(model, cond.spec.facts) for model in collected)
    ]
    assert orphans == []


def test_every_exposure_but_the_built_in_rules_has_a_rule(packaged: Catalog) -> None:
    built_in = {Exposure.KEV_VERSION_DISCLOSED, Exposure.OS_END_OF_LIFE, Exposure.PRODUCT_END_OF_LIFE}
    assert {rule.id for rule, _ in packaged.rules} == set(Exposure) - built_in
    assert built_in <= packaged.detectable()


def test_coverage_names_the_missing_collector() -> None:
    """What the meta-test guards against, seen from the verdict side: a facts model nobody collects."""
    telnet = next(p for p in all_probes() if p.id == "telnet")
    without = scans.full_coverage([p for p in all_probes() if p.id != "telnet"])
    cov = coverage(without, [telnet.facts_model])
    assert not cov.complete and cov.gaps == ("no registered probe collects TelnetFacts",)
    full = coverage(scans.full_coverage(), [telnet.facts_model])
    assert full.complete and full.probes == ("telnet",) and full.services == 1 and full.ports == "23/tcp"

"""RDP predicates and the four RDP exposure rules, over facts a probe really produces."""

from __future__ import annotations

import shutil
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from duecare.advisories.engine import FactsRecord, evaluate
from duecare.advisories.exposures import load_rule
from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.advisories.predicates.rdp import OsVersionCeiling
from duecare.probes.ntlm import parse_challenge
from duecare.probes.rdp.facts import (
    EncryptionStatus,
    FailureCode,
    Negotiation,
    NtlmStep,
    Outcome,
    RdpFacts,
    SecurityProtocol,
    StandardSecurity,
)
from duecare.probes.rdp.parse import decide
from duecare.wire import Exposure, ProbeStatus, Proto, Verdict
from tests.probes.ntlm_samples import build_challenge

EXPOSURES = Path(__file__).parents[3] / "advisories" / "data" / "exposures"
RDP_RULES = ("rdp-exposed", "rdp-no-nla", "rdp-standard-security", "rdp-bluekeep-likely")
REG = default_registry()
NO = NoParams()
CEILING = OsVersionCeiling(major=6, minor=1)


def facts(
    negotiations: list[Negotiation],
    *,
    version: tuple[int, int, int] | None = None,
    ntlm_step: NtlmStep | None = None,
    standard: StandardSecurity | None = None,
) -> RdpFacts:
    """RdpFacts the way the probe assembles them: decision from negotiations, NTLM from a CHALLENGE."""
    d = decide(negotiations)
    ntlm = None if version is None else parse_challenge(build_challenge(version=version))
    step = ntlm_step or (NtlmStep.COLLECTED if ntlm else NtlmStep.HYBRID_NOT_OFFERED)
    return RdpFacts(
        speaks_rdp=True,
        negotiations=tuple(negotiations),
        legacy_server=d.legacy_server,
        accepted_protocols=d.accepted,
        standard_security_allowed=d.standard_security_allowed,
        tls_allowed=d.tls_allowed,
        nla_supported=d.nla_supported,
        nla_required=d.nla_required,
        standard_security=standard or StandardSecurity(status=EncryptionStatus.NOT_DETERMINED),
        ntlm=ntlm,
        ntlm_step=step,
        connections=len(negotiations),
    )


def sel(req: int, p: SecurityProtocol) -> Negotiation:
    return Negotiation(requested=req, outcome=Outcome.SELECTED, selected=p, selected_code=0)


def hybrid_required(req: int) -> Negotiation:
    return Negotiation(requested=req, outcome=Outcome.FAILURE, failure=FailureCode.HYBRID_REQUIRED_BY_SERVER)


R, S, H, HX = SecurityProtocol.RDP, SecurityProtocol.SSL, SecurityProtocol.HYBRID, SecurityProtocol.HYBRID_EX
OPEN_WIN7 = [sel(0, R), sel(1, S), sel(3, H), sel(11, H)]  # NLA optional, everything accepted
NLA_ONLY = [hybrid_required(0), hybrid_required(1), sel(3, H), sel(11, HX)]
XRDP_RDP = [sel(0, R), sel(1, R), sel(3, R), sel(11, R)]
XRDP_TLS_LIKE = [
    Negotiation(requested=0, outcome=Outcome.FAILURE, failure=FailureCode.SSL_REQUIRED_BY_SERVER, failure_code=1),
    sel(1, S),
    sel(3, S),
    sel(11, S),
]
LEGACY = [Negotiation(requested=0, outcome=Outcome.NO_NEGOTIATION_DATA)]
BROKEN = [Negotiation(requested=m, outcome=Outcome.ERROR, error="reset") for m in (0, 1, 3, 11)]


def check(name: str, f: RdpFacts, params: object = NO) -> Verdict:
    return REG.get(name).fn(f, params).verdict


# --- predicates ----------------------------------------------------------------------------


def test_listening() -> None:
    assert check("rdp.listening", facts(XRDP_TLS_LIKE)) is Verdict.AFFECTED
    assert check("rdp.listening", facts(XRDP_TLS_LIKE).model_copy(update={"speaks_rdp": False})) is (
        Verdict.NOT_AFFECTED
    )


@pytest.mark.parametrize(
    ("negs", "verdict"),
    [
        (OPEN_WIN7, Verdict.AFFECTED),
        (XRDP_RDP, Verdict.AFFECTED),
        (XRDP_TLS_LIKE, Verdict.AFFECTED),
        (LEGACY, Verdict.AFFECTED),
        (NLA_ONLY, Verdict.NOT_AFFECTED),
        (BROKEN, Verdict.INDETERMINATE),
    ],
)
def test_nla_not_required(negs: list[Negotiation], verdict: Verdict) -> None:
    assert check("rdp.nla_not_required", facts(negs)) is verdict


def test_standard_security_reports_level() -> None:
    level = StandardSecurity(
        status=EncryptionStatus.DETERMINED, encryption_level="Client Compatible", encryption_method="128-bit RC4"
    )
    c = REG.get("rdp.standard_security_accepted").fn(facts(XRDP_RDP, standard=level), NO)
    assert c.verdict is Verdict.AFFECTED
    assert c.details["encryption_level"] == "Client Compatible"
    assert "Client Compatible" in c.reason


@pytest.mark.parametrize(
    ("negs", "verdict"),
    [
        (XRDP_RDP, Verdict.AFFECTED),
        (LEGACY, Verdict.AFFECTED),
        (NLA_ONLY, Verdict.NOT_AFFECTED),
        (XRDP_TLS_LIKE, Verdict.NOT_AFFECTED),
        (BROKEN, Verdict.INDETERMINATE),
    ],
)
def test_standard_security_accepted(negs: list[Negotiation], verdict: Verdict) -> None:
    assert check("rdp.standard_security_accepted", facts(negs)) is verdict


@pytest.mark.parametrize(
    ("version", "verdict"),
    [
        ((5, 1, 2600), Verdict.AFFECTED),
        ((5, 2, 3790), Verdict.AFFECTED),
        ((6, 0, 6002), Verdict.AFFECTED),
        ((6, 1, 7601), Verdict.AFFECTED),
        ((6, 2, 9200), Verdict.NOT_AFFECTED),
        ((10, 0, 17763), Verdict.NOT_AFFECTED),
        (None, Verdict.INDETERMINATE),
    ],
)
def test_os_version_at_most(version: tuple[int, int, int] | None, verdict: Verdict) -> None:
    c = REG.get("rdp.os_version_at_most").fn(facts(OPEN_WIN7, version=version), CEILING)
    assert c.verdict is verdict
    if verdict is Verdict.AFFECTED:
        assert c.cves == ("CVE-2019-0708",)
        assert c.confidence == "tentative"


def test_os_version_missing_says_why() -> None:
    c = REG.get("rdp.os_version_at_most").fn(facts(LEGACY), CEILING)
    assert c.verdict is Verdict.INDETERMINATE
    assert "HYBRID" in c.reason
    assert "XP / Server 2003" in c.reason


# --- exposure rules through the engine -----------------------------------------------------


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list:  # type: ignore[type-arg]
    """Only the RDP rule files (the directory also holds other areas' rules)."""
    d = tmp_path_factory.mktemp("exposures")
    for rid in RDP_RULES:
        shutil.copy(EXPOSURES / f"{rid}.toml", d)
    loaded = [load_rule(p, REG) for p in sorted(d.glob("*.toml"))]
    assert [r.id.value for r, _ in loaded] == sorted(RDP_RULES)
    return loaded


def verdicts(rules: list, f: RdpFacts | None, status: ProbeStatus = ProbeStatus.COMPLETED) -> dict[str, str]:  # type: ignore[type-arg]
    rec = FactsRecord(
        probe="rdp",
        facts_model=RdpFacts,
        ip=IPv4Address("198.18.0.10"),
        port=3389,
        proto=Proto.TCP,
        status=status,
        error=None if f else "no TPKT within 5s",
        facts=f,
    )
    return {fi.exposure.value: fi.verdict.value for fi in evaluate(rules, [rec])}


def test_bluekeep_windows7_without_nla(rules: list) -> None:  # type: ignore[type-arg]
    v = verdicts(rules, facts(OPEN_WIN7, version=(6, 1, 7601)))
    assert v == {
        "rdp-exposed": "affected",
        "rdp-no-nla": "affected",
        "rdp-standard-security": "affected",
        "rdp-bluekeep-likely": "affected",
    }


def test_bluekeep_not_for_server_2019(rules: list) -> None:  # type: ignore[type-arg]
    v = verdicts(rules, facts(OPEN_WIN7, version=(10, 0, 17763)))
    assert Exposure.RDP_BLUEKEEP_LIKELY.value not in v
    assert v["rdp-no-nla"] == "affected"


def test_bluekeep_mitigated_by_nla(rules: list) -> None:  # type: ignore[type-arg]
    v = verdicts(rules, facts(NLA_ONLY, version=(6, 1, 7601)))
    assert v == {"rdp-exposed": "affected"}


def test_bluekeep_unknown_version_is_indeterminate(rules: list) -> None:  # type: ignore[type-arg]
    v = verdicts(rules, facts(XRDP_RDP))
    assert v["rdp-bluekeep-likely"] == "indeterminate"
    assert v["rdp-standard-security"] == "affected"


def test_unknown_version_but_nla_required_is_not_reported(rules: list) -> None:  # type: ignore[type-arg]
    v = verdicts(rules, facts(NLA_ONLY, ntlm_step=NtlmStep.FAILED))
    assert "rdp-bluekeep-likely" not in v


def test_timed_out_probe_leaves_everything_indeterminate(rules: list) -> None:  # type: ignore[type-arg]
    v = verdicts(rules, None, ProbeStatus.TIMED_OUT)
    assert set(v.values()) == {"indeterminate"}
    assert set(v) == set(RDP_RULES)


def test_rule_files_load_with_the_default_registry() -> None:
    for rid in RDP_RULES:
        assert (EXPOSURES / f"{rid}.toml").is_file()
    assert {"rdp.listening", "rdp.nla_not_required", "rdp.standard_security_accepted"} <= set(REG.names())

"""SMB predicates over facts parsed from the captured Samba replies, and the four rule files
run through the engine: positive, negative, and missing facts → indeterminate."""

from __future__ import annotations

import shutil
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from duecare.advisories.engine import FactsRecord, evaluate
from duecare.advisories.exposures import BoundCondition, ExposureRule, load_rule
from duecare.advisories.predicates import PredicateRegistry, default_registry
from duecare.advisories.predicates.smb import MS17_010_CVES, register
from duecare.probes.base import Facts
from duecare.probes.smb.facts import (
    Ms17010Facts,
    Ms17010Outcome,
    SessionOutcome,
    Smb1Negotiation,
    Smb1Outcome,
    Smb2Negotiation,
    SmbFacts,
    SmbSession,
)
from duecare.probes.smb.parse import parse_smb1_negotiate, parse_smb2_negotiate
from duecare.wire import Exposure, ProbeStatus, Proto, Verdict

FIXTURES = Path(__file__).parents[2] / "probes" / "smb" / "fixtures"
EXPOSURES = Path(__file__).parents[3] / "advisories" / "data" / "exposures"
SMB_EXPOSURES = ("smbv1-enabled", "smb-signing-not-required", "smb-guest-access", "smb-ms17-010")


def _smb2(name: str) -> Smb2Negotiation:
    parsed = parse_smb2_negotiate((FIXTURES / f"samba417_{name}.bin").read_bytes()[4:])
    assert isinstance(parsed, Smb2Negotiation)
    return parsed


def _smb1(name: str) -> Smb1Negotiation:
    parsed = parse_smb1_negotiate((FIXTURES / f"samba417_{name}.bin").read_bytes()[4:])
    assert isinstance(parsed, Smb1Negotiation)
    return parsed


ANON_OK = SmbSession(user="", outcome=SessionOutcome.ACCEPTED, is_guest=False, shares=("public", "IPC$"))
GUEST_OK = SmbSession(user="Guest", outcome=SessionOutcome.ACCEPTED, is_guest=True)
GUEST_DENIED = SmbSession(user="Guest", outcome=SessionOutcome.DENIED, nt_status=0xC000006D)

#: Lab host .20: NT1, signing auto, guest share.
OPEN_SAMBA = SmbFacts(
    smb2=_smb2("nt1_smb2_negotiate_all"),
    smb2_dialects=("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"),
    smb1_outcome=Smb1Outcome.ACCEPTED,
    smb1=_smb1("nt1_smb1_negotiate"),
    anonymous=ANON_OK,
    guest=GUEST_OK,
)
#: Lab host .21: SMB3 only, signing mandatory, no guest.
LOCKED_SAMBA = SmbFacts(
    smb2=_smb2("smb3only_smb2_negotiate_all"),
    smb2_dialects=("3.1.1",),
    smb1_outcome=Smb1Outcome.NO_COMMON_DIALECT,
    anonymous=SmbSession(user="", outcome=SessionOutcome.ACCEPTED, share_listing_error=0xC0000022),
    guest=GUEST_DENIED,
)


def _check(name: str, facts: Facts) -> tuple[Verdict, str]:
    reg = PredicateRegistry()
    register(reg)
    c = reg.get(name).fn(facts, None)
    return c.verdict, c.reason


# -- smb.smbv1_enabled -----------------------------------------------------------------------


def test_smbv1_accepted() -> None:
    assert _check("smb.smbv1_enabled", OPEN_SAMBA)[0] is Verdict.AFFECTED


@pytest.mark.parametrize(
    "outcome",
    [
        Smb1Outcome.NO_COMMON_DIALECT,
        Smb1Outcome.ERROR_STATUS,
        Smb1Outcome.CONNECTION_RESET,
        Smb1Outcome.CONNECTION_CLOSED,
    ],
)
def test_smbv1_refusals(outcome: Smb1Outcome) -> None:
    facts = LOCKED_SAMBA.model_copy(update={"smb1_outcome": outcome})
    assert _check("smb.smbv1_enabled", facts)[0] is Verdict.NOT_AFFECTED


@pytest.mark.parametrize("outcome", [Smb1Outcome.TIMED_OUT, Smb1Outcome.FAILED, Smb1Outcome.NOT_TRIED])
def test_smbv1_silence_is_not_a_pass(outcome: Smb1Outcome) -> None:
    facts = LOCKED_SAMBA.model_copy(update={"smb1_outcome": outcome})
    assert _check("smb.smbv1_enabled", facts)[0] is Verdict.INDETERMINATE


# -- smb.signing_not_required ----------------------------------------------------------------


def test_signing_not_required_on_311_with_mode_01() -> None:
    """The false negative impacket would give: 3.1.1 with SecurityMode 0x01."""
    only_smb2 = OPEN_SAMBA.model_copy(update={"smb1": None, "smb1_outcome": Smb1Outcome.NO_COMMON_DIALECT})
    verdict, reason = _check("smb.signing_not_required", only_smb2)
    assert verdict is Verdict.AFFECTED
    assert "SMB 3.1.1 (SecurityMode 0x01)" in reason


def test_signing_not_required_through_smb1_alone() -> None:
    facts = LOCKED_SAMBA.model_copy(update={"smb1": _smb1("nt1_smb1_negotiate"), "smb1_outcome": Smb1Outcome.ACCEPTED})
    verdict, reason = _check("smb.signing_not_required", facts)
    assert verdict is Verdict.AFFECTED and reason.endswith("SMB1 (SecurityMode 0x07)")


def test_signing_required_everywhere() -> None:
    assert _check("smb.signing_not_required", LOCKED_SAMBA)[0] is Verdict.NOT_AFFECTED
    both = LOCKED_SAMBA.model_copy(
        update={"smb1": _smb1("nt1_mandatory_smb1_negotiate"), "smb1_outcome": Smb1Outcome.ACCEPTED}
    )
    assert _check("smb.signing_not_required", both)[0] is Verdict.NOT_AFFECTED


def test_signing_required_smb1_unknown_is_a_firm_pass() -> None:
    facts = LOCKED_SAMBA.model_copy(update={"smb1_outcome": Smb1Outcome.TIMED_OUT})
    reg = PredicateRegistry()
    register(reg)
    check = reg.get("smb.signing_not_required").fn(facts, None)
    assert check.verdict is Verdict.NOT_AFFECTED and check.confidence == "firm"


def test_signing_without_any_negotiate_is_indeterminate() -> None:
    facts = LOCKED_SAMBA.model_copy(update={"smb2": None, "smb1": None, "smb1_outcome": Smb1Outcome.TIMED_OUT})
    assert _check("smb.signing_not_required", facts)[0] is Verdict.INDETERMINATE


# -- smb.guest_access ------------------------------------------------------------------------


def test_guest_accepted() -> None:
    verdict, reason = _check("smb.guest_access", OPEN_SAMBA)
    assert verdict is Verdict.AFFECTED and "flagged as guest" in reason


def test_guest_refused_even_with_anonymous_session() -> None:
    """Samba and Windows both allow null sessions; that alone is not guest access."""
    assert _check("smb.guest_access", LOCKED_SAMBA)[0] is Verdict.NOT_AFFECTED


def test_null_session_mapped_to_guest() -> None:
    anon_guest = ANON_OK.model_copy(update={"is_guest": True})
    facts = LOCKED_SAMBA.model_copy(update={"anonymous": anon_guest})
    assert _check("smb.guest_access", facts)[0] is Verdict.AFFECTED


@pytest.mark.parametrize("outcome", [SessionOutcome.TIMED_OUT, SessionOutcome.FAILED, SessionOutcome.NOT_TRIED])
def test_guest_unknown(outcome: SessionOutcome) -> None:
    facts = LOCKED_SAMBA.model_copy(update={"guest": SmbSession(user="Guest", outcome=outcome)})
    assert _check("smb.guest_access", facts)[0] is Verdict.INDETERMINATE


# -- smb.ms17_010_vulnerable -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (Ms17010Outcome.VULNERABLE, Verdict.AFFECTED),
        (Ms17010Outcome.PATCHED, Verdict.NOT_AFFECTED),
        (Ms17010Outcome.SMB1_REFUSED, Verdict.NOT_AFFECTED),
        (Ms17010Outcome.NO_SESSION, Verdict.INDETERMINATE),
        (Ms17010Outcome.IPC_REFUSED, Verdict.INDETERMINATE),
        (Ms17010Outcome.UNEXPECTED_STATUS, Verdict.INDETERMINATE),
    ],
)
def test_ms17_010(outcome: Ms17010Outcome, verdict: Verdict) -> None:
    assert _check("smb.ms17_010_vulnerable", Ms17010Facts(outcome=outcome))[0] is verdict


# -- through the rule files and the engine ---------------------------------------------------

IP = IPv4Address("198.18.0.20")


def _rules(tmp_path: Path) -> list[tuple[ExposureRule, tuple[BoundCondition, ...]]]:
    for name in SMB_EXPOSURES:
        shutil.copy(EXPOSURES / f"{name}.toml", tmp_path)
    return [load_rule(p, default_registry()) for p in sorted(tmp_path.glob("*.toml"))]


def _record(probe: str, model: type[Facts], facts: Facts | None, status: ProbeStatus) -> FactsRecord:
    return FactsRecord(probe, model, IP, 445, Proto.TCP, status, None if facts else "no answer", facts)


def _findings(tmp_path: Path, *records: FactsRecord) -> dict[Exposure, Verdict]:
    found = evaluate(_rules(tmp_path), records)
    return {f.exposure: f.verdict for f in found}


def test_open_samba_findings(tmp_path: Path) -> None:
    found = _findings(tmp_path, _record("smb", SmbFacts, OPEN_SAMBA, ProbeStatus.COMPLETED))
    assert found == {
        Exposure.SMBV1_ENABLED: Verdict.AFFECTED,
        Exposure.SMB_SIGNING_NOT_REQUIRED: Verdict.AFFECTED,
        Exposure.SMB_GUEST_ACCESS: Verdict.AFFECTED,
    }


def test_locked_samba_has_no_findings(tmp_path: Path) -> None:
    assert _findings(tmp_path, _record("smb", SmbFacts, LOCKED_SAMBA, ProbeStatus.COMPLETED)) == {}


def test_timed_out_probe_is_indeterminate_not_a_pass(tmp_path: Path) -> None:
    found = _findings(
        tmp_path,
        _record("smb", SmbFacts, None, ProbeStatus.TIMED_OUT),
        _record("smb-ms17-010", Ms17010Facts, None, ProbeStatus.TIMED_OUT),
    )
    assert set(found) == {Exposure(e) for e in SMB_EXPOSURES}
    assert set(found.values()) == {Verdict.INDETERMINATE}


def test_skipped_ms17_check_says_nothing(tmp_path: Path) -> None:
    found = _findings(tmp_path, _record("smb-ms17-010", Ms17010Facts, None, ProbeStatus.SKIPPED))
    assert found == {}


def test_vulnerable_finding_carries_the_cves(tmp_path: Path) -> None:
    facts = Ms17010Facts(outcome=Ms17010Outcome.VULNERABLE, nt_status=0xC0000205, session_user="")
    found = evaluate(
        _rules(tmp_path),
        [_record("smb-ms17-010", Ms17010Facts, facts, ProbeStatus.COMPLETED)],
    )
    assert [f.exposure for f in found] == [Exposure.SMB_MS17_010]
    assert tuple(c.cve for c in found[0].cves) == MS17_010_CVES
    assert found[0].severity.value == "critical"


def test_rule_files_load_with_their_ids(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    assert sorted(rule.id.value for rule, _conditions in rules) == sorted(SMB_EXPOSURES)

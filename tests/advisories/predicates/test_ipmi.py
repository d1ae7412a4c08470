"""ipmi.bmc_answers over facts parsed from ipmi_sim recordings."""

from __future__ import annotations

from pathlib import Path

from duecare.advisories.predicates import PredicateRegistry
from duecare.advisories.predicates.ipmi import register
from duecare.probes.ipmi.facts import IpmiFacts
from duecare.probes.ipmi.parse import parse_auth_capabilities, parse_presence_pong
from duecare.wire import Verdict

FIXTURES = Path(__file__).parents[2] / "probes" / "ipmi" / "fixtures"


def _check(f: IpmiFacts) -> tuple[Verdict, str]:
    reg = PredicateRegistry()
    register(reg)
    c = reg.get("ipmi.bmc_answers").fn(f, None)
    return c.verdict, c.reason


def test_bmc_with_anonymous_login() -> None:
    verdict, reason = _check(parse_auth_capabilities((FIXTURES / "ipmisim_anon_auth_caps_v2.bin").read_bytes()))
    assert verdict is Verdict.AFFECTED
    assert "anonymous login enabled" in reason
    assert "straight" in reason


def test_bmc_pong_with_ipmi() -> None:
    verdict, _ = _check(parse_presence_pong((FIXTURES / "ipmisim_presence_pong.bin").read_bytes()))
    assert verdict is Verdict.AFFECTED


def test_pong_without_ipmi_is_not_a_bmc() -> None:
    verdict, _ = _check(IpmiFacts(source="asf-presence-pong", ipmi_supported=False))
    assert verdict is Verdict.NOT_AFFECTED


def test_error_answer_still_shows_a_bmc() -> None:
    verdict, _ = _check(IpmiFacts(source="channel-auth-capabilities", completion_code=0xC1))
    assert verdict is Verdict.AFFECTED

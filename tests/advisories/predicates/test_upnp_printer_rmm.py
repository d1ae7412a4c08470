"""upnp / printer / rmm predicates over facts parsed from the recorded fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from duecare.advisories.predicates import PredicateRegistry
from duecare.advisories.predicates import printer as printer_preds
from duecare.advisories.predicates import rmm as rmm_preds
from duecare.advisories.predicates import upnp as upnp_preds
from duecare.advisories.predicates.base import Check
from duecare.advisories.predicates.rmm import RmmParams
from duecare.probes.printer.ipp import parse_response
from duecare.probes.printer.parse import ipp_facts, jetdirect_facts
from duecare.probes.rmm.parse import match_products
from duecare.probes.rmm.table import load_table
from duecare.probes.upnp.facts import UpnpFacts
from duecare.probes.upnp.parse import build_facts, parse_ssdp_response
from duecare.wire import Verdict

PROBES = Path(__file__).parents[2] / "probes"


def _check(name: str, facts: Any, params: Any = None) -> Check:
    reg = PredicateRegistry()
    for m in (upnp_preds, printer_preds, rmm_preds):
        m.register(reg)
    spec = reg.get(name)
    return spec.fn(facts, params if params is not None else spec.params())


def test_upnp_gateway_is_affected() -> None:
    answers = [parse_ssdp_response(p.read_bytes()) for p in sorted((PROBES / "upnp/fixtures").glob("*.txt"))]
    c = _check("upnp.ssdp_answers", build_facts(answers, None, None, "skipped"))
    assert c.verdict is Verdict.AFFECTED
    assert "Internet Gateway Device" in c.reason
    assert c.details["internet_gateway"] is True


def test_upnp_without_answers_is_not_affected() -> None:
    assert _check("upnp.ssdp_answers", UpnpFacts(responses=())).verdict is Verdict.NOT_AFFECTED


def test_printer_silent_raw_port_is_tentative() -> None:
    c = _check("printer.raw_port_open", jetdirect_facts(None))
    assert (c.verdict, c.confidence) == (Verdict.AFFECTED, "tentative")


def test_printer_pjl_is_firm() -> None:
    reply = (PROBES / "printer/fixtures/spec_hp_pjl_techref_info_id_format.bin").read_bytes()
    c = _check("printer.raw_port_open", jetdirect_facts(reply))
    assert (c.verdict, c.confidence) == (Verdict.AFFECTED, "firm")


def test_printer_ipp_is_not_the_raw_port() -> None:
    answer = parse_response((PROBES / "printer/fixtures/cups242_cups_get_default.bin").read_bytes())
    c = _check("printer.raw_port_open", ipp_facts(200, answer, "cups-get-default"))
    assert c.verdict is Verdict.NOT_AFFECTED


def test_rmm_firm_and_tentative_and_sanctioned() -> None:
    table = load_table()
    teamviewer = match_products(
        table.for_port(5938), (PROBES / "rmm/fixtures/nmap_match_teamviewer_null_probe.bin").read_bytes(), None
    )
    assert _check("rmm.tool_listening", teamviewer).confidence == "firm"
    radmin = match_products(table.for_port(4899), b"", None)
    c = _check("rmm.tool_listening", radmin)
    assert (c.verdict, c.confidence) == (Verdict.AFFECTED, "tentative")
    sanctioned = _check("rmm.tool_listening", radmin, RmmParams(sanctioned=("radmin",)))
    assert sanctioned.verdict is Verdict.NOT_AFFECTED
    nothing = match_products(table.for_port(443), None, (200, "HTTP/1.1 200\r\n\r\n<title>nginx</title>"))
    assert _check("rmm.tool_listening", nothing).verdict is Verdict.NOT_AFFECTED

"""Exchange predicates: registration, rule files, the engine, and the edges of the decision."""

from __future__ import annotations

import json
from datetime import date
from ipaddress import ip_address
from pathlib import Path

import pytest

from duecare.advisories.engine import FactsRecord, evaluate
from duecare.advisories.errors import CatalogError
from duecare.advisories.exchange import DATA_DIR, ExchangeTables, load_exchange_tables
from duecare.advisories.exposures import BoundCondition, ExposureRule, bind
from duecare.advisories.loader import load_toml_model
from duecare.advisories.predicates import PredicateRegistry, default_registry
from duecare.advisories.predicates import exchange as exchange_predicates
from duecare.advisories.predicates.exchange import judge_unpatched, judge_unsupported
from duecare.probes.exchange.facts import (
    BuildObservation,
    BuildPrecision,
    BuildSource,
    Endpoint,
    EndpointResponse,
    ExchangeFacts,
)
from duecare.wire import Exposure, ProbeStatus, Proto, Severity, Verdict

EXPOSURES = Path(exchange_predicates.__file__).parent.parent / "data" / "exposures"
TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def tables() -> ExchangeTables:
    return load_exchange_tables()


def facts(version: str | None, *, on: date = TODAY, detected: bool = True, **kw: object) -> ExchangeFacts:
    build = None
    if version is not None:
        precision = BuildPrecision.FULL if version.count(".") == 3 else BuildPrecision.CU
        source = BuildSource.ECP_EXPORT_TOOL if precision is BuildPrecision.FULL else BuildSource.OWA_LOGON_PATH
        build = BuildObservation(version=version, source=source, precision=precision, path="/p")
    return ExchangeFacts.model_validate(
        {"observed_on": on, "scheme": "https", "exchange_detected": detected, "build": build} | kw
    )


def rules(reg: PredicateRegistry) -> list[tuple[ExposureRule, tuple[BoundCondition, ...]]]:
    out = []
    for name in ("exchange-unpatched", "exchange-unsupported"):
        path = EXPOSURES / f"{name}.toml"
        rule = load_toml_model(path, ExposureRule)
        assert rule.id.value == path.stem
        out.append((rule, bind(rule, reg, path)))
    return out


def record(f: ExchangeFacts | None, status: ProbeStatus = ProbeStatus.COMPLETED) -> FactsRecord:
    return FactsRecord(
        probe="exchange",
        facts_model=ExchangeFacts,
        ip=ip_address("198.18.0.30"),
        port=443,
        proto=Proto.TCP,
        status=status,
        error=None if status is ProbeStatus.COMPLETED else "probe exceeded its 20.0s ceiling",
        facts=f,
    )


def test_registered_in_the_default_registry() -> None:
    reg = default_registry()
    for name in ("exchange.unpatched", "exchange.unsupported"):
        assert reg.get(name).facts is ExchangeFacts


def test_rule_files_and_engine_for_the_lab_hosts() -> None:
    bound = rules(default_registry())
    assert {r.id: r.severity for r, _ in bound} == {
        Exposure.EXCHANGE_UNPATCHED: Severity.CRITICAL,
        Exposure.EXCHANGE_UNSUPPORTED: Severity.HIGH,
    }
    findings = evaluate(bound, [record(facts("15.1.2375.7"))])
    assert {f.exposure for f in findings} == {Exposure.EXCHANGE_UNPATCHED, Exposure.EXCHANGE_UNSUPPORTED}
    assert all(f.verdict is Verdict.AFFECTED for f in findings)
    unpatched = next(f for f in findings if f.exposure is Exposure.EXCHANGE_UNPATCHED)
    assert "CVE-2022-41082" in {k.cve for k in unpatched.cves}
    assert unpatched.details["build"] == "15.1.2375.7"
    assert evaluate(bound, [record(facts("15.2.2562.46"))]) == []


def test_engine_open_question_when_the_probe_timed_out() -> None:
    findings = evaluate(rules(default_registry()), [record(None, ProbeStatus.TIMED_OUT)])
    assert {f.verdict for f in findings} == {Verdict.INDETERMINATE}


def test_not_exchange_is_not_affected(tables: ExchangeTables) -> None:
    f = facts(None, detected=False)
    assert judge_unpatched(f, tables).verdict is Verdict.NOT_AFFECTED
    assert judge_unsupported(f, tables).verdict is Verdict.NOT_AFFECTED
    assert evaluate(rules(default_registry()), [record(f)]) == []


def test_http_port_that_only_redirects_to_https_is_not_judged(tables: ExchangeTables) -> None:
    f = facts("15.1.2375.7", redirects_to_https=True)  # even if the redirect carried X-OWA-Version
    for judge in (judge_unpatched, judge_unsupported):
        check = judge(f, tables)
        assert check.verdict is Verdict.NOT_AFFECTED and "HTTPS port is judged" in check.reason


def test_exchange_without_build_is_indeterminate_and_says_what_would_settle(tables: ExchangeTables) -> None:
    f = facts(
        None,
        external_login_host="login.microsoftonline.com",
        responses=[EndpointResponse(endpoint=Endpoint.OWA, path="/owa/", status=302, exchange_marker=True)],
    )
    for judge in (judge_unpatched, judge_unsupported):
        check = judge(f, tables)
        assert check.verdict is Verdict.INDETERMINATE
        assert "export-tool manifest" in check.reason and "login.microsoftonline.com" in check.reason


@pytest.mark.parametrize("version", ["99.0.1.1", "15.7.100.1", "7.0.1.2"])
def test_numbers_no_exchange_ever_had(tables: ExchangeTables, version: str) -> None:
    assert judge_unpatched(facts(version), tables).verdict is Verdict.INDETERMINATE
    assert judge_unsupported(facts(version), tables).verdict is Verdict.INDETERMINATE


def test_future_cu_not_in_the_table_is_indeterminate(tables: ExchangeTables) -> None:
    for judge in (judge_unpatched, judge_unsupported):
        check = judge(facts("15.2.2700.5"), tables)  # an SE CU newer than the snapshot
        assert check.verdict is Verdict.INDETERMINATE and "refresh the table" in check.reason


@pytest.mark.parametrize(("version", "eos"), [("14.3.513.0", "2020-10-13"), ("8.3.83.6", "2017-04-11")])
def test_2010_and_2007_are_unsupported_and_unpatched(tables: ExchangeTables, version: str, eos: str) -> None:
    assert judge_unsupported(facts(version), tables).verdict is Verdict.AFFECTED
    check = judge_unpatched(facts(version), tables)
    assert check.verdict is Verdict.AFFECTED and eos in check.reason


def test_unserviced_cu_of_a_supported_product(tables: ExchangeTables) -> None:
    """2019 CU11 after June 2023: the Jun23SU wave covered CU12/CU13 only (HealthChecker N-1 rule)."""
    assert judge_unsupported(facts("15.2.986.42", on=date(2023, 5, 1)), tables).verdict is Verdict.NOT_AFFECTED
    later = judge_unsupported(facts("15.2.986.42", on=date(2023, 7, 1)), tables)
    assert later.verdict is Verdict.AFFECTED and "Jun23SU" in later.reason
    assert later.details["cu_serviced"] is False


def test_esu_updates_are_labelled(tables: ExchangeTables) -> None:
    check = judge_unpatched(facts("15.2.1748.39"), tables)  # 2019 CU15 Oct25SU, the last public one
    assert check.verdict is Verdict.AFFECTED and "ESU customers only" in check.reason


def test_judged_on_the_observation_day_not_the_clock(tables: ExchangeTables) -> None:
    """The same SE build was current on the day of its release and behind after Aug26SU."""
    f = facts("15.2.2562.43", on=date(2026, 6, 10))
    assert judge_unpatched(f, tables).verdict is Verdict.NOT_AFFECTED
    later = judge_unpatched(f.model_copy(update={"observed_on": TODAY}), tables)
    assert later.verdict is Verdict.AFFECTED and "Aug26SU" in later.reason


def test_tables_are_injected_not_global(tables: ExchangeTables) -> None:
    """A registry built with other tables judges with them (the predicates close over what they got)."""
    without_aug26 = ExchangeTables(tuple(r for r in tables.builds if "Aug26SU" not in r.name), tables.vulns)
    reg = PredicateRegistry()
    exchange_predicates.register(reg, without_aug26)
    f = facts("15.2.2562.45")  # SE Jul26SU
    assert reg.get("exchange.unpatched").fn(f, None).verdict is Verdict.NOT_AFFECTED
    assert judge_unpatched(f, tables).verdict is Verdict.AFFECTED


def test_bad_table_is_a_catalog_error(tmp_path: Path) -> None:
    for name in ("exchange-builds.csv", "exchange-vulns.csv"):
        (tmp_path / name).write_text((DATA_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    builds = tmp_path / "exchange-builds.csv"
    lines = builds.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("15.2.2562", "15.1.2562")  # an SE row with a 2016 build number
    builds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_exchange_tables(tmp_path)
    assert err.value.line == 4 and "does not belong" in str(err.value)


def test_check_details_are_json(tables: ExchangeTables) -> None:
    check = judge_unpatched(facts("15.1.2375.7"), tables)
    assert json.loads(json.dumps(check.details))["latest_su"]["name"] == "Exchange Server 2016 CU22 Nov22SU"

"""OCSF exports validate against the pinned OCSF 1.5.0 JSON Schemas (data/ocsf/SOURCE.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from duecare.collector.exports.ocsf import OCSF_VERSION
from duecare.wire import Exposure, ObligationStatus, Severity
from tests.collector.conftest import Collector
from tests.collector.factories import asset, finding, obligations

SCHEMAS = Path(__file__).parent / "data" / "ocsf" / OCSF_VERSION
CLASSES = {2002: "vulnerability_finding", 2003: "compliance_finding"}


def _validator(class_uid: int) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{CLASSES[class_uid]}.schema.json").read_text())
    return Draft202012Validator(schema)


def _assert_valid(events: list[dict[str, Any]]) -> None:
    validators = {uid: _validator(uid) for uid in CLASSES}
    for event in events:
        errors = sorted(validators[event["class_uid"]].iter_errors(event), key=str)
        assert not errors, f"{event['finding_info']['uid']}: {[e.message for e in errors[:3]]}"


def test_vendored_schemas_match_the_pinned_package() -> None:
    ocsf_json_schema = pytest.importorskip("ocsf_json_schema")
    gen = ocsf_json_schema.OcsfJsonSchemaEmbedded(ocsf_json_schema.get_ocsf_schema(version=OCSF_VERSION))
    for name in CLASSES.values():
        assert gen.get_class_schema(class_name=name, profiles=["host"]) == json.loads(
            (SCHEMAS / f"{name}.schema.json").read_text()
        )


def test_the_schema_really_rejects_a_bad_event() -> None:
    bad = {
        "class_uid": 2002,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200201,
        "severity_id": 5,
        "time": 0,
        "metadata": {"version": "1.5.0", "product": {"name": "x"}},
        "finding_info": {"uid": "u"},
        "vulnerabilities": [{"cve": {"uid": "CVE-1"}, "advisory": {"uid": "both"}}],
    }
    assert list(_validator(2002).iter_errors(bad))  # just_one of advisory/cve/cwe


def _populate(collector: Collector) -> dict[str, str]:
    agent = collector.enroll("acme", "hq")
    items = [
        finding(
            "198.18.0.30",
            Exposure.EXCHANGE_UNPATCHED,
            443,
            severity=Severity.CRITICAL,
            kev_cves=["CVE-2021-34473", "CVE-2021-34523"],
            cves=["CVE-2021-31207"],
        ),
        finding("198.18.0.50"),
        finding("198.18.0.70", Exposure.REDIS_NO_AUTH, 6379, severity=Severity.MEDIUM),
        finding("198.18.0.60", Exposure.SNMP_DEFAULT_COMMUNITY, None, None, severity=Severity.INFO),
    ]
    summary = obligations(
        ("CIS Controls v8", "4.8", ObligationStatus.NOT_MET),
        ("HIPAA", "164.312(e)(1)", ObligationStatus.MET),
        ("PCI DSS v4.0.1", "1.2.1", ObligationStatus.UNKNOWN),
        ("NIST CSF 2.0", "PR.PS-01", ObligationStatus.WAIVED),
    )
    hosts = [asset(str(f.ip), hostname="mail01" if str(f.ip).endswith(".30") else None) for f in items]
    collector.post(agent, agent.chain.next(findings=items, assets=hosts, obligation_summary=summary))
    collector.post(agent, agent.chain.next(findings=items[:3], assets=hosts))  # snmp resolved
    return collector.reader()


def test_findings_export_is_valid_2002(collector: Collector) -> None:
    reader = _populate(collector)
    events = collector.http.get("/v1/export/findings", params={"format": "ocsf"}, headers=reader).json()
    assert len(events) == 4
    _assert_valid(events)
    by_title = {e["finding_info"]["title"]: e for e in events}
    exch = by_title["exchange-unpatched on 198.18.0.30"]
    assert exch["class_uid"] == 2002 and exch["type_uid"] == 200202 and exch["severity_id"] == 5
    assert [v["cve"]["uid"] for v in exch["vulnerabilities"]] == ["CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"]
    assert [v.get("is_exploit_available") for v in exch["vulnerabilities"]] == [True, True, False]
    assert {e["value"] for e in exch["enrichments"]} == {"CVE-2021-34473", "CVE-2021-34523"}
    assert exch["device"]["hostname"] == "mail01"
    snmp = by_title["snmp-default-community on 198.18.0.60"]
    assert snmp["status_id"] == 4 and snmp["activity_id"] == 3
    assert snmp["vulnerabilities"][0]["advisory"]["uid"] == "snmp-default-community"


def test_obligations_export_is_valid_2003(collector: Collector) -> None:
    reader = _populate(collector)
    events = collector.http.get("/v1/export/obligations", params={"format": "ocsf"}, headers=reader).json()
    assert len(events) == 4
    _assert_valid(events)
    status = {e["compliance"]["control"]: e["compliance"]["status_id"] for e in events}
    assert status == {"4.8": 3, "164.312(e)(1)": 1, "1.2.1": 0, "PR.PS-01": 99}
    assert all(e["type_uid"] == 200300 + e["activity_id"] for e in events)


def test_change_events_are_valid(collector: Collector) -> None:
    reader = _populate(collector)
    events = collector.http.get("/v1/export/changes", params={"format": "ocsf"}, headers=reader).json()
    assert {e["class_uid"] for e in events} == {2002, 2003}
    _assert_valid(events)
    activities = sorted(e["activity_id"] for e in events if e["class_uid"] == 2002)
    assert activities == [1, 1, 1, 1, 2, 2, 2, 3]  # four created, three now open, snmp closed

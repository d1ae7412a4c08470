"""The SSVC snapshot and `update-ssvc`: our CSV or real Vulnrichment records in, later timestamp wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duecare.advisories.catalog import PACKAGED_DATA_DIR, collect
from duecare.advisories.ssvc import SSVC_FILE, SsvcUpdateError, load_ssvc, parse, state_ssvc_path, update_ssvc
from duecare.cli.advisories import app

SSVC_DIR = PACKAGED_DATA_DIR / "ssvc"
RECORD = Path(__file__).with_name("fixtures") / "CVE-2021-34527.vulnrichment.json"


def test_snapshot_covers_every_kev_cve_duecare_attaches() -> None:
    catalog = collect()[0]
    assert catalog.kev is not None
    rows = load_ssvc(SSVC_DIR)
    assert len(rows) == 65
    attachable = {c for a in catalog.advisories.values() for c in a.cves}
    in_kev = {c for c in attachable if c in catalog.kev.by_cve}
    assert in_kev and in_kev <= set(rows), sorted(in_kev - set(rows))
    ms17 = rows["CVE-2017-0143"].ssvc
    assert (ms17.exploitation, ms17.automatable, ms17.technical_impact) == ("active", False, "total")
    assert "cisagov/vulnrichment 2017/0xxx/CVE-2017-0143.json" in ms17.source
    # The gap is written down, not hidden.
    note = (SSVC_DIR / "SOURCE.md").read_text()
    assert "65 of the 134" in note and "CVE-2023-21706" in note


def test_a_real_vulnrichment_record_parses_by_key() -> None:
    (row,) = parse(RECORD.read_bytes(), "CVE-2021-34527.json")
    assert row.cve == "CVE-2021-34527"
    assert (row.ssvc.exploitation, row.ssvc.automatable, row.ssvc.technical_impact) == ("active", False, "total")
    assert row.ssvc.timestamp is not None and row.ssvc.timestamp.year == 2024


def test_capitalised_values_and_lists_of_records() -> None:
    rec = json.loads(RECORD.read_text())
    for m in rec["containers"]["adp"]:
        for metric in m.get("metrics", []):
            if metric.get("other", {}).get("type") == "ssvc":
                metric["other"]["content"]["options"] = [
                    {"Exploitation": "Active"},
                    {"Automatable": "Yes"},
                    {"Technical Impact": "Total"},
                ]
    (row,) = parse(json.dumps([rec]).encode(), "list.json")
    assert row.ssvc.automatable is True and row.ssvc.exploitation == "active"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"cve,exploitation,automatable\nCVE-1,active,no\n", "missing columns technical_impact"),
        (b"cve,exploitation,automatable,technical_impact\nCVE-2021-1,active,maybe,total\n", "bad SSVC values"),
        (b"cve,exploitation,automatable,technical_impact\nnot-a-cve,active,no,total\n", "not a CVE id"),
        (b"{not json", "not JSON"),
        (b'{"cveMetadata": {}}', "cveMetadata.cveId"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_input_is_one_clear_line(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(raw, "feed")


def test_update_merges_and_the_later_timestamp_wins(tmp_path: Path) -> None:
    state = tmp_path / "state"
    newer = (
        b"cve,exploitation,automatable,technical_impact,ssvc_timestamp\n"
        b"CVE-2017-0143,active,yes,total,2030-01-01T00:00:00Z\n"
        b"CVE-2018-0924,none,no,partial,2030-01-01T00:00:00Z\n"
    )
    result = update_ssvc(SSVC_DIR, state, newer, "newer.csv")
    assert (result.read, result.changed, result.total) == (2, 2, 66)
    rows = load_ssvc(SSVC_DIR, state)
    assert rows["CVE-2017-0143"].ssvc.automatable is True and "CVE-2018-0924" in rows
    older = (
        b"cve,exploitation,automatable,technical_impact,ssvc_timestamp\n"
        b"CVE-2017-0143,none,no,partial,2001-01-01T00:00:00Z\n"
    )
    assert update_ssvc(SSVC_DIR, state, older, "older.csv").changed == 0
    assert load_ssvc(SSVC_DIR, state)["CVE-2017-0143"].ssvc.automatable is True
    assert collect(state_dir=state)[0].ssvc["CVE-2018-0924"].ssvc.exploitation == "none"


def test_update_refuses_data_without_ssvc_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(SsvcUpdateError, match="no SSVC values"):
        update_ssvc(SSVC_DIR, tmp_path, b"[]", "empty.json")
    assert not state_ssvc_path(tmp_path).exists()


def test_cli_update_ssvc_from_a_record_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = CliRunner().invoke(app, ["update-ssvc", "--from", str(RECORD), "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    assert (state / "ssvc" / SSVC_FILE).is_file()
    bad = tmp_path / "bad.csv"
    bad.write_text("nonsense\n")
    result = CliRunner().invoke(app, ["update-ssvc", "--from", str(bad), "--state-dir", str(state)])
    assert result.exit_code == 1 and "missing columns" in result.output and "Traceback" not in result.output

"""`duecare advisories list|show`: the sub-app only parses arguments and prints what advisories/ returns."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from duecare.cli.advisories import app

runner = CliRunner()


def test_list_json_has_every_advisory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["list", "--json", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    start = result.output.index("[")
    advisories = json.loads(result.output[start:])
    ids = {a["id"] for a in advisories}
    assert {"aa22-137a", "i-092718-psa", "ms17-010", "bod-22-01"} <= ids
    assert all(a["flags"] or not a["observable"] for a in advisories)


def test_show_json_carries_kev_status_as_published(tmp_path: Path) -> None:
    result = runner.invoke(app, ["show", "MS17-010", "--json", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output[result.output.index("{") :])
    kev = {k["cve"]: k for k in doc["kev"]}
    assert kev["CVE-2017-0146"]["kev_due_date"] == "2022-04-15"
    assert kev["CVE-2017-0146"]["known_ransomware_campaign_use"] == "Known"
    assert {"framework": "pci-dss-4.0", "requirement": "6.3.3"} in doc["requirements"]


def test_show_unknown_advisory_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["show", "AA99-999A", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2  # bad input
    assert "AA99-999A" in result.output

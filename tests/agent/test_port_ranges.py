"""Which TCP ports a scan covers: the one-shot default, ``--ports all``, the daemon's nightly all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from duecare.agent import run
from duecare.agent.config import AgentConfig, ConfigError, load_config
from duecare.agent.progress import Progress
from duecare.agent.scan import plan_ports
from duecare.cli.main import app
from duecare.probes.registry import all_probes
from duecare.wire import Report


def _planned(monkeypatch: pytest.MonkeyPatch, config: AgentConfig) -> str:
    seen: list[str] = []

    def fake(request: run.ScanRequest, progress: Progress) -> tuple[Any, Report]:
        seen.append(plan_ports(request.config, all_probes()).tcp)
        raise RuntimeError("stop before any packet")

    monkeypatch.setattr(run, "scan_to_report", fake)
    with pytest.raises(RuntimeError, match="stop before any packet"):
        run.scan_for_daemon(config)
    return seen[0]


def test_the_nightly_cycle_scans_every_tcp_port_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    config = AgentConfig.model_validate({"scope": {"targets": ["192.0.2.0/28"]}})
    assert _planned(monkeypatch, config) == "1-65535"


def test_the_nightly_range_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    config = AgentConfig.model_validate(
        {"scope": {"targets": ["192.0.2.0/28"]}, "ports": {"nightly_tcp_range": "default"}}
    )
    planned = _planned(monkeypatch, config)
    assert planned != "1-65535" and "26379" in planned


def test_a_bad_range_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[ports]\ntcp_range = 'most'\n")
    with pytest.raises(ConfigError, match=r"ports\.tcp_range"):
        load_config(path, env={})


def test_scan_refuses_an_unknown_port_range() -> None:
    result = CliRunner().invoke(app, ["scan", "192.0.2.1", "--ports", "most"])
    assert result.exit_code == 2
    assert "--ports" in result.output and "Traceback" not in result.output

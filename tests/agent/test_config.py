from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from duecare.agent.config import AgentConfig, ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_example_config_is_valid_and_documented() -> None:
    cfg = load_config(EXAMPLE, env={})
    assert isinstance(cfg, AgentConfig)
    text = EXAMPLE.read_text()
    # Every section of the model appears in the example, each with a comment.
    for section in AgentConfig.model_fields:
        assert f"[{section}]" in text, section
    raw = tomllib.loads(text)
    assert set(raw) <= set(AgentConfig.model_fields)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[scope]\ntargetz = ['1.2.3.4']\n", "scope.targetz: unknown key"),
        ("[limits]\nconcurrency = 0\n", "limits.concurrency"),
        ("[timeouts]\nconnect = 'soon'\n", "timeouts.connect"),
        ("[report]\nseverity_threshold = 'huge'\n", "report.severity_threshold"),
        ("[collector]\nurl = 'ftp://x'\n", "collector.url"),
        ("[scope\n", "not valid TOML"),
    ],
)
def test_broken_config_names_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), env={})
    assert needle in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_env_overrides_collector_url(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, ""), env={"DUECARE_COLLECTOR_URL": "https://c.example:8443"})
    assert cfg.collector.url == "https://c.example:8443"

"""Exit codes and stdout discipline that scripts depend on (no network needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DUECARE = [sys.executable, "-m", "duecare.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DUECARE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_no_target_and_no_scope_is_a_usage_error() -> None:
    r = run("scan")
    assert r.returncode == 2
    assert "no target" in r.stderr
    assert r.stdout == ""


def test_broken_config_exit_2_names_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[limits]\nconcurency = 3\n")
    r = run("scan", "--config", str(cfg), "127.0.0.1")
    assert r.returncode == 2
    assert "limits.concurency: unknown key" in r.stderr


@pytest.mark.parametrize("target", ["printer.local", "10.0.0.0/40"])
def test_bad_target_exit_2(target: str) -> None:
    r = run("scan", target)
    assert r.returncode == 2
    assert repr(target) in r.stderr


def test_target_outside_configured_scope_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[scope]\ntargets = ["198.18.0.0/24"]\n')
    r = run("scan", "--config", str(cfg), "127.0.0.1")
    assert r.returncode == 2
    assert "inside the configured scope" in r.stderr


def test_unknown_probe_is_named() -> None:
    r = run("probe", "nosuch", "127.0.0.1", "1")
    assert r.returncode == 2
    assert "unknown probe 'nosuch'" in r.stderr

"""The README's two "Try it" commands are exactly what the demo test and CI run, and need no sudo."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _try_it_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Try it", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block is not None, "README: the Try it section has no sh block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_try_it_has_the_demo_and_the_test_command_without_sudo() -> None:
    assert _try_it_commands() == ["bash scripts/demo.sh", "bash scripts/test.sh"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "exec bash scripts/test.sh" in ci


def test_the_demo_test_runs_the_readme_demo_command() -> None:
    demo_test = (REPO / "tests" / "install" / "test_demo.py").read_text()
    assert '["bash", "scripts/demo.sh"]' in demo_test

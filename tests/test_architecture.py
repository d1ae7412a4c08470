"""The house's floors hold: no module imports a higher floor, no two modules import each other, and
the installed wheel is one ``duecare`` namespace (``import agent`` is not a thing)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
#: Top floor first; a module may import its own floor and those below it, never above.
FLOORS = [
    {"duecare.cli"},
    {"duecare.agent", "duecare.console"},
    {"duecare.report", "duecare.collector"},
    {"duecare.advisories"},
    {"duecare.probes"},
    {"duecare.wire"},
    {"duecare.files", "duecare.errors"},
]
#: Entry points sit beside the floors: ``python -m duecare.collector`` runs the CLI of the collector.
ENTRY_POINTS = {"duecare.collector.__main__"}


def _floor(module: str) -> int | None:
    for i, names in enumerate(FLOORS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    return None


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("duecare", exclude_type_checking_imports=True)


def test_no_module_imports_a_higher_floor(graph: grimp.ImportGraph) -> None:
    upward = []
    for module in sorted(graph.modules):
        mine = _floor(module)
        if mine is None or module in ENTRY_POINTS:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            theirs = _floor(imported)
            if theirs is not None and theirs < mine:
                upward.append(f"{module} -> {imported}")
    assert upward == []


def test_report_and_collector_never_import_each_other(graph: grimp.ImportGraph) -> None:
    assert not graph.chain_exists("duecare.report", "duecare.collector", as_packages=True)
    # ``python -m duecare.collector`` serves the console (a floor up), which renders with the report.
    collector = sorted(graph.find_descendants("duecare.collector") - ENTRY_POINTS)
    assert [m for m in collector if graph.chain_exists(m, "duecare.report", as_packages=True)] == []
    assert not graph.chain_exists("duecare.console", "duecare.agent", as_packages=True)


def test_no_two_modules_import_each_other(graph: grimp.ImportGraph) -> None:
    mutual = sorted(
        f"{a} <-> {b}"
        for a in graph.modules
        for b in graph.find_modules_directly_imported_by(a)
        if a < b and a in graph.find_modules_directly_imported_by(b)
    )
    assert mutual == []


@pytest.mark.slow
def test_installed_wheel_is_one_namespace(tmp_path: Path) -> None:
    """``pip install .`` into a fresh venv: ``duecare.*`` imports, bare names do not, the script runs."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("duecare-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    away = {**os.environ, "PYTHONPATH": ""}
    ok = subprocess.run(
        [
            py,
            "-c",
            "import duecare.agent, duecare.probes, duecare.report, duecare.collector, duecare.console\n"
            "from importlib.resources import files\n"
            "assert (files('duecare.console') / 'static' / 'console.css').is_file()\n"
            "assert (files('duecare.console') / 'templates' / 'clients.html.j2').is_file()",
        ],
        cwd=tmp_path,
        env=away,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    for bare in ("agent", "probes", "wire", "collector"):
        refused = subprocess.run([py, "-c", f"import {bare}"], cwd=tmp_path, env=away, capture_output=True, text=True)
        assert refused.returncode != 0 and "ModuleNotFoundError" in refused.stderr, bare
    top = {p.name for p in (env_dir / "lib").glob("python3*/site-packages/*") if not p.name.endswith("-info")}
    assert "duecare" in top and not top & {"agent", "probes", "wire", "collector", "report", "cli", "lab", "console"}
    script = subprocess.run([env_dir / "bin" / "duecare", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert script.returncode == 0 and "scan" in script.stdout, script.stderr

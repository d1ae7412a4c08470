"""The probe registry is complete, and CONTRIBUTING's "add a probe" steps are each checked.

The second half builds a throwaway probes package in a temporary folder, follows CONTRIBUTING's
steps one by one, and shows the meta-check failing for every step that is skipped.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import duecare.probes
from duecare.probes.base import Probe
from duecare.probes.registry import all_probes, needed_ports, registry_problems


def test_every_probe_package_is_registered_and_well_formed() -> None:
    root = Path(duecare.probes.__file__).parent
    assert registry_problems(root, "duecare.probes", all_probes()) == []


def test_every_probe_adds_its_ports_to_the_port_plan() -> None:
    tcp, udp = needed_ports(all_probes())
    for p in all_probes():
        assert p.ports <= (udp if p.proto and p.proto.value == "udp" else tcp), p.id


FACTS = """
from duecare.probes.base import Facts


class EchoFacts(Facts):
    greeting: str
"""
PARSE = """
from dummyprobes.echo.facts import EchoFacts


def parse_greeting(data: bytes) -> EchoFacts:
    return EchoFacts(greeting=data.decode("ascii", "replace"))
"""
PROBE = """
from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target
from duecare.probes.context import ProbeContext
from dummyprobes.echo.facts import EchoFacts
from dummyprobes.echo.parse import parse_greeting


class EchoProbe(ServiceProbe):
    id: ClassVar[str] = "echo"
    ports: ClassVar[frozenset[int]] = frozenset({7})
    services: ClassVar[frozenset[str]] = frozenset({"echo"})
    facts_model: ClassVar[type[Facts]] = EchoFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[EchoFacts]:
        async with await ctx.connect(target.host, 7) as s:
            return Observation(parse_greeting(await s.read_some(64, "echo")))
"""


@pytest.fixture
def dummy(tmp_path: Path) -> Iterator[Path]:
    """Step 1 of CONTRIBUTING: a package with facts.py, parse.py and probe.py."""
    pkg = tmp_path / "dummyprobes"
    (pkg / "echo").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "echo" / "__init__.py").write_text("")
    for name, text in (("facts", FACTS), ("parse", PARSE), ("probe", PROBE)):
        (pkg / "echo" / f"{name}.py").write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        yield pkg
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m == "dummyprobes" or m.startswith("dummyprobes.")]:
            del sys.modules[mod]


def _registered(pkg: Path) -> list[Probe[Any]]:
    """Step 2 of CONTRIBUTING: one line in the registry."""
    probe_cls = importlib.import_module("dummyprobes.echo.probe").EchoProbe
    return [*all_probes(), probe_cls()]


def test_all_steps_followed_passes(dummy: Path) -> None:
    assert registry_problems(dummy, "dummyprobes", _registered(dummy)) == []


def test_skipping_the_registry_line_is_caught(dummy: Path) -> None:
    problems = registry_problems(dummy, "dummyprobes", all_probes())
    assert problems == ["dummyprobes.echo.probe.EchoProbe ('echo') is not in the registry"]


def test_skipping_the_pure_parser_module_is_caught(dummy: Path) -> None:
    (dummy / "echo" / "probe.py").write_text(
        textwrap.dedent(PROBE).replace("from dummyprobes.echo.parse import parse_greeting\n", "")
    )
    (dummy / "echo" / "parse.py").unlink()
    assert "dummyprobes.echo: no parse.py" in registry_problems(dummy, "dummyprobes", _registered(dummy))


def test_facts_model_outside_facts_py_is_caught(dummy: Path) -> None:
    inline = textwrap.dedent(PROBE).replace(
        "from dummyprobes.echo.facts import EchoFacts\n",
        "\n\nclass EchoFacts(Facts):\n    greeting: str\n",
    )
    (dummy / "echo" / "probe.py").write_text(inline)
    problems = registry_problems(dummy, "dummyprobes", _registered(dummy))
    assert problems == ["EchoProbe.facts_model is defined in dummyprobes.echo.probe, not dummyprobes.echo.facts"]


def test_a_probe_id_used_twice_is_caught(dummy: Path) -> None:
    twice = [*_registered(dummy), _registered(dummy)[-1]]
    assert "probe id 'echo' is registered twice" in registry_problems(dummy, "dummyprobes", twice)

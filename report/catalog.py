"""The parts of the advisory catalog a report needs to explain itself, loaded without the KEV feed.

A report carries verdicts; the catalog carries the words around them (profile and framework
titles, "what would settle it", the entries a network scan cannot see). Loading only those files
keeps rendering fast; a missing or broken file leaves the words out, never the verdicts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from duecare.advisories.advisory import Advisory, advisory_paths, load_advisory
from duecare.advisories.errors import CatalogError
from duecare.advisories.frameworks import Framework, load_framework
from duecare.advisories.profiles import Profile, load_profile
from duecare.advisories.unobservable import Unobservable, load_unobservable

DATA_DIR = Path(__file__).resolve().parent.parent / "advisories" / "data"

T = TypeVar("T")


@dataclass(frozen=True)
class ReportCatalog:
    version: str
    frameworks: Mapping[str, Framework] = field(default_factory=dict)
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    unobservable: tuple[Unobservable, ...] = ()
    #: Advisories with ``observable = false``: their subject needs more than a network scan.
    unobservable_advisories: tuple[Advisory, ...] = ()
    advisories: Mapping[str, Advisory] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def framework_title(self, framework_id: str) -> str:
        fw = self.frameworks.get(framework_id)
        return fw.title if fw else framework_id

    def framework_short(self, framework_id: str) -> str:
        """ "HIPAA Security Rule (45 CFR …)" → "HIPAA Security Rule": enough beside a requirement id."""
        return self.framework_title(framework_id).split(" (")[0]

    def settle(self, framework_id: str, requirement_id: str) -> str | None:
        """What would settle a requirement the network cannot decide, as the framework file says."""
        fw = self.frameworks.get(framework_id)
        if fw is None:
            return None
        try:
            return fw.requirement(requirement_id).what_would_settle_it
        except KeyError:
            return None

    def profile(self, name: str | None) -> Profile | None:
        if not name:
            return None
        if name in self.profiles:
            return self.profiles[name]
        path = Path(name)
        if path.suffix == ".toml" and path.is_file():
            try:
                return load_profile(path, set(self.frameworks), name_must_match=False)
            except CatalogError:
                return None
        return None


def data_version(data_dir: Path) -> str:
    """The same digest as ``advisories.catalog.data_version`` (sorted relative paths and bytes).

    Recomputed here so rendering need not import the rule engine and every probe's facts.
    """
    h = hashlib.sha256()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _each(paths: Iterable[Path], load: Callable[[Path], T], problems: list[str]) -> list[T]:
    out = []
    for path in paths:
        try:
            out.append(load(path))
        except CatalogError as exc:
            problems.append(str(exc))
    return out


def load_report_catalog(data_dir: Path = DATA_DIR) -> ReportCatalog:
    problems: list[str] = []
    frameworks = {f.id: f for f in _each(sorted((data_dir / "frameworks").glob("*.toml")), load_framework, problems)}
    profiles = {p.id: p for p in _each(sorted((data_dir / "profiles").glob("*.toml")), load_profile, problems)}
    advisories = _each(advisory_paths(data_dir / "advisories"), load_advisory, problems)
    unob = _each([data_dir / "unobservable.toml"], load_unobservable, problems)
    return ReportCatalog(
        version=data_version(data_dir) if data_dir.is_dir() else "",
        frameworks=frameworks,
        profiles=profiles,
        unobservable=unob[0] if unob else (),
        unobservable_advisories=tuple(
            sorted((a for a in advisories if not a.observable), key=lambda a: (a.publisher, a.published, a.id))
        ),
        advisories={a.id: a for a in advisories},
        problems=tuple(problems),
    )

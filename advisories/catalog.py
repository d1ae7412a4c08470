"""The catalog: every data file the judgement depends on, loaded, cross-checked and versioned.

``load_catalog`` is strict (first problem raises); ``collect`` loads everything it can and returns
every problem, which is what ``duecare advisories validate`` prints. ``catalog.version`` is the
sha256 of the data directory, recorded in every report so a verdict can be traced to its rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import TypeVar

from duecare.advisories.advisory import Advisory, advisory_paths, load_advisory
from duecare.advisories.bod2604 import Table1, load_table1
from duecare.advisories.engine import FactsRecord, evaluate
from duecare.advisories.errors import CatalogError
from duecare.advisories.exchange import ExchangeTables, load_exchange_tables
from duecare.advisories.exposures import BoundCondition, ExposureRule, load_rule
from duecare.advisories.frameworks import Framework, load_framework
from duecare.advisories.integrity import cross_check
from duecare.advisories.kev import Kev, load_kev
from duecare.advisories.kev_versions import ProductAliases, load_product_aliases, version_disclosure_findings
from duecare.advisories.lifecycle import LifecycleTables, end_of_life_findings, load_lifecycle
from duecare.advisories.predicates import PredicateRegistry, default_registry
from duecare.advisories.profiles import Profile, load_profile
from duecare.advisories.ssvc import SsvcRow, load_ssvc
from duecare.advisories.unobservable import Unobservable, load_unobservable
from duecare.wire import Exposure, Finding, Service

PACKAGED_DATA_DIR = Path(__file__).resolve().parent / "data"

Rule = tuple[ExposureRule, tuple[BoundCondition, ...]]
T = TypeVar("T")


def data_version(data_dir: Path) -> str:
    """sha256 over every file's relative path and bytes, in sorted path order."""
    h = hashlib.sha256()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Catalog:
    data_dir: Path
    version: str
    advisories: Mapping[str, Advisory]
    rules: tuple[Rule, ...]
    frameworks: Mapping[str, Framework]
    profiles: Mapping[str, Profile]
    kev: Kev | None
    product_aliases: ProductAliases
    unobservable: tuple[Unobservable, ...]
    exchange: ExchangeTables | None = None
    #: BOD 26-04 Table 1 (with whether it was verified against the directive) and SSVC per CVE.
    table1: Table1 | None = None
    ssvc: Mapping[str, SsvcRow] = field(default_factory=dict)
    #: Windows/IIS lifecycle table behind os-end-of-life and product-end-of-life.
    lifecycle: LifecycleTables | None = None
    files_loaded: int = 0
    _flagging: dict[Exposure, tuple[Advisory, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        flagging: dict[Exposure, list[Advisory]] = {}
        for adv in self.advisories.values():
            for exp in adv.flags:
                flagging.setdefault(exp, []).append(adv)
        object.__setattr__(self, "_flagging", {k: tuple(v) for k, v in flagging.items()})

    @property
    def kev_version(self) -> str | None:
        return self.kev.version if self.kev else None

    def advisories_flagging(self, exposure: Exposure) -> tuple[Advisory, ...]:
        return self._flagging.get(exposure, ())

    def rule(self, exposure: Exposure) -> Rule | None:
        return next((r for r in self.rules if r[0].id is exposure), None)

    def requirement_index(self) -> dict[str, dict[str, bool]]:
        """framework → requirement id → is it an attestation requirement (for profile checks)."""
        return {fw.id: {r.id: r.attestation for r in fw.requirements} for fw in self.frameworks.values()}

    def detectable(self) -> frozenset[Exposure]:
        """Exposure ids this catalog can decide: a rule file, the built-in KEV version rule, the lifecycle rule."""
        built_in = {Exposure.KEV_VERSION_DISCLOSED}
        if self.lifecycle is not None:
            built_in |= {Exposure.OS_END_OF_LIFE, Exposure.PRODUCT_END_OF_LIFE}
        return frozenset({rule.id for rule, _ in self.rules} | built_in)

    def profile(self, name_or_path: str | Path) -> Profile:
        """A built-in profile by name, or an MSP's own profile file by path."""
        if isinstance(name_or_path, str) and name_or_path in self.profiles:
            return self.profiles[name_or_path]
        path = Path(name_or_path)
        if path.suffix == ".toml" and path.is_file():
            return load_profile(path, self.requirement_index(), name_must_match=False)
        known = ", ".join(sorted(self.profiles))
        raise CatalogError(path, f"no such profile (built-in: {known}; or pass a .toml file)")

    def findings(
        self,
        records: Iterable[FactsRecord],
        services: Iterable[tuple[IPv4Address | IPv6Address, Service]] = (),
        observed_at: datetime | None = None,
    ) -> list[Finding]:
        """Exposure rules over probe facts, plus the KEV version-disclosure rule over facts and nmap, and
        the per-host end-of-life rule judged on ``observed_at``'s day (the scan's, not today's)."""
        recs = list(records)
        found = evaluate(self.rules, recs)
        svcs = list(services)
        if svcs or recs:
            when = observed_at or datetime.now().astimezone()
            found.extend(version_disclosure_findings(recs, svcs, self.kev, self.product_aliases, when))
            if self.lifecycle is not None:
                found.extend(end_of_life_findings(recs, svcs, self.lifecycle, when))
        return found


def _each(paths: Iterable[Path], load: Callable[[Path], T], errors: list[CatalogError]) -> list[T]:
    """Load every file; a bad one is recorded and the rest still load."""
    out = []
    for path in paths:
        try:
            out.append(load(path))
        except CatalogError as exc:
            errors.append(exc)
    return out


def _unique(
    items: list[T], key: Callable[[T], str], path_of: Callable[[T], Path], errors: list[CatalogError]
) -> dict[str, T]:
    out: dict[str, T] = {}
    for item in items:
        k = key(item)
        if k in out:
            errors.append(CatalogError(path_of(item), f"duplicate id {k!r}", field="id"))
        out[k] = item
    return out


def collect(
    data_dir: Path | None = None, state_dir: Path | None = None, registry: PredicateRegistry | None = None
) -> tuple[Catalog, list[CatalogError]]:
    """Load everything loadable under ``data_dir``; return the catalog and every problem found."""
    root = (data_dir or PACKAGED_DATA_DIR).resolve()
    errors: list[CatalogError] = []
    exchange = _each([root / "exchange"] if (root / "exchange").is_dir() else [], load_exchange_tables, errors)
    reg = registry or default_registry(exchange[0] if exchange else None)
    paths = {
        "advisories": advisory_paths(root / "advisories"),
        "exposures": sorted((root / "exposures").glob("*.toml")),
        "frameworks": sorted((root / "frameworks").glob("*.toml")),
        "profiles": sorted((root / "profiles").glob("*.toml")),
    }
    adv_list = _each(paths["advisories"], load_advisory, errors)
    advisories = _unique(adv_list, lambda a: a.id, lambda a: root / "advisories" / a.publisher / f"{a.id}.toml", errors)
    rules = _each(paths["exposures"], partial(load_rule, reg=reg), errors)
    frameworks = {f.id: f for f in _each(paths["frameworks"], load_framework, errors)}
    known = {fw.id: {r.id: r.attestation for r in fw.requirements} for fw in frameworks.values()}
    profiles = {p.id: p for p in _each(paths["profiles"], lambda p: load_profile(p, known), errors)}
    unob = _each([root / "unobservable.toml"], load_unobservable, errors)
    aliases = _each([root / "kev" / "product-aliases.toml"], load_product_aliases, errors)
    kev = _each([root / "kev"], lambda d: load_kev(d, state_dir), errors)
    table1 = _each([root / "bod-26-04"], load_table1, errors)
    ssvc = _each([root / "ssvc"], lambda d: load_ssvc(d, state_dir), errors)
    lifecycle = _each([root / "lifecycle"], load_lifecycle, errors)
    catalog = Catalog(
        data_dir=root,
        version=data_version(root),
        advisories=advisories,
        rules=tuple(rules),
        frameworks=frameworks,
        profiles=profiles,
        kev=kev[0] if kev else None,
        product_aliases=aliases[0] if aliases else ProductAliases(),
        unobservable=unob[0] if unob else (),
        exchange=exchange[0] if exchange else None,
        table1=table1[0] if table1 else None,
        ssvc=ssvc[0] if ssvc else {},
        lifecycle=lifecycle[0] if lifecycle else None,
        files_loaded=sum(len(v) for v in paths.values()),
    )
    errors.extend(cross_check(catalog, paths))
    return catalog, errors


def load_catalog(data_dir: Path | None = None, state_dir: Path | None = None) -> Catalog:
    """The catalog, or the first problem as a ``CatalogError`` naming file, line and field."""
    catalog, errors = collect(data_dir, state_dir)
    if errors:
        raise errors[0]
    return catalog

"""Cross-file checks: every reference resolves and every exposure id has an advisory behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from duecare.advisories.errors import CatalogError
from duecare.advisories.kev import normalize_name
from duecare.advisories.loader import line_of_key
from duecare.wire import Exposure

if TYPE_CHECKING:
    from duecare.advisories.catalog import Catalog

#: The advisory catalog's entries (shared/reference/advisory-catalog.md §5).
CATALOG_ENTRIES = tuple(f"ADV-{n:03d}" for n in range(1, 32))


def _err(path: Path, message: str, where: str) -> CatalogError:
    return CatalogError(path, message, line=line_of_key(path, where), field=where)


def _frameworks(cat: Catalog, broken: set[str]) -> list[CatalogError]:
    """``broken``: advisory ids whose file exists but did not load (already reported once)."""
    out = []
    for fw in cat.frameworks.values():
        path = cat.data_dir / "frameworks" / f"{fw.id}.toml"
        for i, req in enumerate(fw.requirements):
            flagged: set[Exposure] = set()
            for j, adv_id in enumerate(req.advisories):
                adv = cat.advisories.get(adv_id)
                if adv is None and adv_id not in broken:
                    out.append(_err(path, f"{req.id}: unknown advisory {adv_id!r}", f"requirements.{i}.advisories.{j}"))
                elif adv is not None:
                    flagged.update(adv.flags)
            for j, exp in enumerate(req.exposures):
                if exp not in flagged and not broken.intersection(req.advisories):
                    msg = f"{req.id}: exposure {exp.value!r} is not flagged by any advisory it lists"
                    out.append(_err(path, msg, f"requirements.{i}.exposures.{j}"))
    return out


def _coverage(cat: Catalog, broken: set[str]) -> list[CatalogError]:
    out = []
    adv_dir = cat.data_dir / "advisories"
    for exp in Exposure:
        if not cat.advisories_flagging(exp):
            out.append(CatalogError(adv_dir, f"exposure id {exp.value!r} is flagged by no advisory", field="flags"))
    observed = {e for a in cat.advisories.values() if a.observable for e in a.catalog_entries}
    unobservable = {u.entry for u in cat.unobservable}
    unob_path = cat.data_dir / "unobservable.toml"
    for entry in CATALOG_ENTRIES:
        if entry not in observed and entry not in unobservable:
            msg = f"catalog entry {entry}: no observable advisory covers it, nor is it listed as unobservable"
            out.append(CatalogError(unob_path, msg, field="entries"))
    for i, u in enumerate(cat.unobservable):
        for j, adv_id in enumerate(u.advisories):
            if adv_id not in cat.advisories and adv_id not in broken:
                out.append(_err(unob_path, f"{u.entry}: unknown advisory {adv_id!r}", f"entries.{i}.advisories.{j}"))
    return out


def _aliases(cat: Catalog) -> list[CatalogError]:
    if cat.kev is None:
        return [CatalogError(cat.data_dir / "kev", "no KEV snapshot found")]
    path = cat.data_dir / "kev" / "product-aliases.toml"
    out = []
    for i, alias in enumerate(cat.product_aliases.products):
        for prod in alias.kev_products:
            if (normalize_name(alias.vendor_project), normalize_name(prod)) not in cat.kev.by_product:
                msg = f"KEV {cat.kev.version} has no entry for {alias.vendor_project!r} / {prod!r}"
                out.append(_err(path, msg, f"products.{i}.kev_products"))
    return out


def cross_check(cat: Catalog, paths: Mapping[str, Sequence[Path]]) -> list[CatalogError]:
    """Every problem that needs more than one file to see."""
    out: list[CatalogError] = []
    if not paths.get("advisories"):
        out.append(CatalogError(cat.data_dir / "advisories", "no advisory files"))
    broken = {p.stem for p in paths.get("advisories", ())} - set(cat.advisories)
    out.extend(_frameworks(cat, broken))
    out.extend(_coverage(cat, broken))
    out.extend(_aliases(cat))
    return out

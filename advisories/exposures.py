"""Exposure rules: how an exposure id is decided from probe facts (data under data/exposures/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from duecare.advisories.errors import CatalogError
from duecare.advisories.loader import line_of_key, load_toml_model
from duecare.advisories.predicates import PredicateRegistry
from duecare.wire import Exposure, Severity


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Condition(_Strict):
    predicate: str
    params: dict[str, Any] = Field(default_factory=dict)


class Detect(_Strict):
    match: Literal["all", "any"] = "all"
    when: tuple[Condition, ...] = Field(min_length=1)


class ExposureRule(_Strict):
    id: Exposure
    title: str
    severity: Severity
    #: Plain language for the owner: what was found and why it matters, without jargon.
    summary: str
    remediation: str
    detect: Detect
    #: Findings carry the CVEs whose fixes are missing (Exchange): attach an advisory that lists CVEs
    #: only when the finding lacks a fix for one of them.
    advisories_by_cve: bool = False


class BoundCondition:
    """A condition whose predicate exists and whose params validated at load."""

    def __init__(self, reg: PredicateRegistry, cond: Condition) -> None:
        self.spec = reg.get(cond.predicate)
        self.params = self.spec.params.model_validate(cond.params)


def bind(rule: ExposureRule, reg: PredicateRegistry, path: Path) -> tuple[BoundCondition, ...]:
    out = []
    for i, cond in enumerate(rule.detect.when):
        field = f"detect.when[{i}]"
        if cond.predicate not in reg:
            raise CatalogError(path, f"unknown predicate {cond.predicate!r}", field=f"{field}.predicate")
        try:
            out.append(BoundCondition(reg, cond))
        except ValidationError as exc:
            e = exc.errors()[0]
            loc = ".".join(str(p) for p in e["loc"])
            raise CatalogError(path, f"bad params: {e['msg']}", field=f"{field}.params.{loc}") from exc
    return tuple(out)


def load_rule(path: Path, reg: PredicateRegistry) -> tuple[ExposureRule, tuple[BoundCondition, ...]]:
    """One exposure file, its predicates bound and their params validated; the file is named by its id."""
    rule = load_toml_model(path, ExposureRule)
    if path.stem != rule.id.value:
        msg = f"file name must be the exposure id {rule.id.value!r}"
        raise CatalogError(path, msg, line=line_of_key(path, "id"), field="id")
    return rule, bind(rule, reg, path)

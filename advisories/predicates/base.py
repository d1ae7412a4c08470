"""Predicates: pure, typed judgements over one probe's facts.

A predicate is registered under an ``area.condition`` name, declares the facts model it reads and
the params model it takes (validated when a rule file loads), and returns a ``Check``. It never
touches the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue

from duecare.probes.base import Facts
from duecare.wire import Confidence, Verdict

FactsT = TypeVar("FactsT", bound=Facts)
ParamsT = TypeVar("ParamsT", bound=BaseModel)


class NoParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    reason: str
    confidence: Confidence = Confidence.FIRM
    details: dict[str, JsonValue] = field(default_factory=dict)
    cves: tuple[str, ...] = ()


def affected(reason: str, **kw: Any) -> Check:
    return Check(Verdict.AFFECTED, reason, **kw)


def not_affected(reason: str, **kw: Any) -> Check:
    return Check(Verdict.NOT_AFFECTED, reason, **kw)


def indeterminate(reason: str, **kw: Any) -> Check:
    return Check(Verdict.INDETERMINATE, reason, **kw)


@dataclass(frozen=True, slots=True)
class PredicateSpec(Generic[FactsT, ParamsT]):
    name: str
    facts: type[FactsT]
    params: type[ParamsT]
    fn: Callable[[FactsT, ParamsT], Check]
    doc: str


class PredicateRegistry:
    """Name → predicate. Built explicitly (no import-time global), see ``default_registry``."""

    def __init__(self) -> None:
        self._specs: dict[str, PredicateSpec[Any, Any]] = {}

    def add(
        self,
        name: str,
        facts: type[FactsT],
        params: type[ParamsT] = NoParams,  # type: ignore[assignment]
    ) -> Callable[[Callable[[FactsT, ParamsT], Check]], Callable[[FactsT, ParamsT], Check]]:
        if "." not in name:
            raise ValueError(f"predicate name {name!r} must be area.condition")

        def deco(fn: Callable[[FactsT, ParamsT], Check]) -> Callable[[FactsT, ParamsT], Check]:
            if name in self._specs:
                raise ValueError(f"predicate {name!r} registered twice")
            self._specs[name] = PredicateSpec(name, facts, params, fn, (fn.__doc__ or "").strip())
            return fn

        return deco

    def get(self, name: str) -> PredicateSpec[Any, Any]:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"unknown predicate {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)

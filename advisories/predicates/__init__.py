"""The predicate registry: one line per area module."""

from __future__ import annotations

from advisories.predicates import telnet
from advisories.predicates.base import Check, NoParams, PredicateRegistry, PredicateSpec

__all__ = ["Check", "NoParams", "PredicateRegistry", "PredicateSpec", "default_registry"]


def default_registry() -> PredicateRegistry:
    reg = PredicateRegistry()
    for module in (telnet,):
        module.register(reg)
    return reg

"""End-of-life judgement: Windows builds (from NTLM) and IIS versions against a lifecycle table."""

from __future__ import annotations

from duecare.advisories.lifecycle.hosts import end_of_life_findings
from duecare.advisories.lifecycle.tables import LifecycleTables, load_lifecycle
from duecare.advisories.lifecycle.windows import Hints, Judgement, judge_windows

__all__ = ["Hints", "Judgement", "LifecycleTables", "end_of_life_findings", "judge_windows", "load_lifecycle"]

"""Errors of the agent family: each names the file, key or step that failed, in one line."""

from __future__ import annotations

from duecare.errors import DuecareError


class AgentError(DuecareError):
    """Root of the agent family (config, scope, state, enrollment, feeds)."""

"""Per-agent token buckets: one agent's backlog drains at a steady pace and never crowds out others.

In-process (each replica limits what it serves); a refusal is 429 with Retry-After saying when the
next token is there, which the agent's delivery honours.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class AgentRateLimit:
    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, agent_id: str) -> float | None:
        """Take a token; None when granted, else the seconds until one is there."""
        if self.rate <= 0:
            return None
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(agent_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[agent_id] = (tokens - 1, now)
                return None
            self._buckets[agent_id] = (tokens, now)
            return (1 - tokens) / self.rate

    @staticmethod
    def header(wait_s: float) -> int:
        return max(1, math.ceil(wait_s))

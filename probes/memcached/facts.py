"""What a memcached server tells any client that asks for ``stats``."""

from __future__ import annotations

from pydantic import Field

from duecare.probes.base import Facts


class MemcachedFacts(Facts):
    #: ``stats`` answered: anyone on the network can read (and write) the cache.
    stats_exposed: bool
    #: The refusal line when ``stats`` was not answered (e.g. SASL-only servers).
    refusal: str | None = Field(default=None, max_length=300)
    product: str | None = None
    #: ``STAT version`` (read by the KEV matcher).
    version: str | None = Field(default=None, max_length=64)
    uptime_seconds: int | None = None
    curr_items: int | None = None

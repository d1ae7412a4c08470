"""Collector settings: one frozen model, built by the CLI or a test and passed to ``create_app``.

No module-level instance: every process (and every test) builds its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_STATE_DIR = Path("/var/lib/duecare-collector")
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: Reports per minute one agent may post (a nightly agent posts one; a backlog drains at this pace).
DEFAULT_AGENT_RATE = 60.0


def default_database_url(state_dir: Path) -> str:
    """The embedded default: a SQLite file in the state directory."""
    return f"sqlite:///{(state_dir / 'collector.db').resolve()}"


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Attempts per delivery run (immediately after commit); the sweeper retries later runs.
    attempts: Annotated[int, Field(ge=1, le=20)] = 4
    first_backoff_s: Annotated[float, Field(ge=0, le=60)] = 0.5
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    #: How often pending deliveries (e.g. left over by a crash) are retried; 0 disables the sweeper.
    sweep_interval_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    #: Give up on a delivery after this many attempts in total.
    max_total_attempts: Annotated[int, Field(ge=1, le=1000)] = 20


class CollectorSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str
    #: How receipts name this collector ("received by <name> at <time>").
    name: Annotated[str, Field(min_length=1, max_length=100)] = "duecare collector"
    #: Request bodies above this are refused with 413 while they are read.
    max_body_bytes: Annotated[int, Field(ge=1024)] = DEFAULT_MAX_BODY_BYTES
    #: Largest page the pull endpoints hand out.
    max_page_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    webhooks: WebhookSettings = WebhookSettings()
    #: SQLite: seconds a writer waits for the database lock before answering 503 + Retry-After.
    sqlite_busy_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    #: PostgreSQL: the same bound, as ``lock_timeout`` (a lock wait past it answers 503 + Retry-After).
    lock_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    #: Per report: a /16 nightly (65,536 addresses) with several exposures per host fits.
    max_findings_per_report: Annotated[int, Field(ge=1)] = 100_000
    max_assets_per_report: Annotated[int, Field(ge=1)] = 65_536
    #: Per agent: a token bucket of ``agent_burst`` reports refilled at this rate; 0 switches it off.
    agent_rate_per_minute: Annotated[float, Field(ge=0)] = DEFAULT_AGENT_RATE
    agent_burst: Annotated[int, Field(ge=1)] = 20
    #: /readyz says not ready below this much free disk where the database lives (SQLite).
    min_free_disk_mb: Annotated[int, Field(ge=0)] = 256

    @classmethod
    def for_state_dir(cls, state_dir: Path, **overrides: object) -> CollectorSettings:
        return cls.model_validate({"database_url": default_database_url(state_dir), **overrides})

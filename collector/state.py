"""What every request handler needs, built once by ``create_app`` and kept on ``app.state``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from duecare.collector.db.gate import Turns
from duecare.collector.db.session import Database
from duecare.collector.notary import Notary
from duecare.collector.ratelimit import AgentRateLimit
from duecare.collector.settings import CollectorSettings
from duecare.collector.webhooks import WebhookSender


def product_version() -> str:
    try:
        return version("duecare")
    except PackageNotFoundError:
        return "0"


@dataclass(frozen=True)
class AppState:
    settings: CollectorSettings
    db: Database
    webhooks: WebhookSender
    product_version: str
    notary: Notary
    rate_limit: AgentRateLimit
    #: Large reports are ingested one at a time per process (``routes/reports.py``).
    heavy_lane: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    #: SQLite: and small ones one at a time, clients taking turns (``routes/reports.py``).
    light_lane: Turns | None = None

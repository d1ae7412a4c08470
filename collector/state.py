"""What every request handler needs, built once by ``create_app`` and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from collector.db.session import Database
from collector.settings import CollectorSettings
from collector.webhooks import WebhookSender


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

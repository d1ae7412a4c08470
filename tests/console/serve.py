"""A seeded console served by uvicorn on 127.0.0.1 in a thread, for the browser (and the screenshot)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi.testclient import TestClient

from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from duecare.collector.settings import CollectorSettings, WebhookSettings
from duecare.console.app import create_app
from tests.collector.conftest import Collector
from tests.console.seed import Msp, seed


@dataclass(frozen=True)
class Served:
    url: str
    msp: Msp
    db: Database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def served_console(tmp: Path) -> Iterator[Served]:
    url = f"sqlite:///{tmp / 'console.sqlite'}"
    db = Database(make_engine(url))
    migrate.upgrade(db.engine)
    settings = CollectorSettings(database_url=url, webhooks=WebhookSettings(sweep_interval_s=0))
    with TestClient(create_app(settings, database=db)) as http:
        msp = seed(Collector(db, http, settings))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database=db), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield Served(base, msp, db)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()

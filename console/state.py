"""What the console's handlers share, built once per app and kept on ``app.state.console``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import Request

from duecare.collector.db.session import Database
from duecare.collector.state import AppState
from duecare.console import session
from duecare.console.overview import CountsCache
from duecare.console.trend import TrendCache


@dataclass
class ConsoleState:
    collector: AppState
    session_ttl: timedelta
    #: A site is silent once its last report is older than its own rhythm plus this.
    silent_grace: timedelta
    trends: TrendCache
    counts: CountsCache = field(default_factory=CountsCache)
    _mac_key: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def db(self) -> Database:
        return self.collector.db

    def mac_key(self) -> bytes:
        with self._lock:
            if self._mac_key is None:
                self._mac_key = session.mac_key(self.collector.notary.key())
            return self._mac_key

    @staticmethod
    def of(request: Request) -> ConsoleState:
        state = request.app.state.console
        assert isinstance(state, ConsoleState)
        return state

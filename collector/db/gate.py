"""One SQLite writer at a time, handed over promptly and fairly between clients.

SQLite has one write lock. A writer that finds it taken sleeps in its busy handler and polls (1, 2,
5 … 100 ms), so under load the lock sits idle between writers, and the order is luck: one client's
agents posting 15,000-finding reports can starve another's small post until it times out. Writers
here queue instead: in the process on a condition variable, served round-robin by client (a quiet
client waits for at most one write of a busy one), and across worker processes on an ``flock`` of
a file beside the database (the kernel wakes the next one as soon as it is free). A writer that
waits longer than the timeout gets ``Unavailable`` (503 + Retry-After), never a 500.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from duecare.collector.errors import Unavailable

RETRY_AFTER_S = 5


class Turns:
    """One holder at a time; those waiting are served round-robin by client (a quiet client waits
    for at most one turn of a busy one). Waiting past the timeout is ``Unavailable`` (503)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self._busy = False
        #: Waiting tickets per client, clients in round-robin order.
        self._queues: OrderedDict[str, deque[object]] = OrderedDict()

    def _next(self) -> object | None:
        if not self._queues:
            return None
        return next(iter(self._queues.values()))[0]

    @contextmanager
    def hold(self, client: str | None, deadline: float | None = None) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s if deadline is None else deadline
        ticket = object()
        key = client or ""
        with self._cond:
            self._queues.setdefault(key, deque()).append(ticket)
            while self._busy or self._next() is not ticket:
                left = deadline - time.monotonic()
                timed_out = left <= 0 or not self._cond.wait(left)
                if timed_out and (self._busy or self._next() is not ticket):
                    self._leave(key, ticket)
                    raise Unavailable(
                        f"the database stayed busy for {self.timeout_s:g} s; retry later",
                        retry_after_s=RETRY_AFTER_S,
                    )
            self._busy = True
            self._leave(key, ticket)
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _leave(self, key: str, ticket: object) -> None:
        queue = self._queues[key]
        queue.remove(ticket)
        del self._queues[key]  # to the back of the round: other clients go first
        if queue:
            self._queues[key] = queue
        self._cond.notify_all()


class WriteGate:
    def __init__(self, lock_file: Path | None, timeout_s: float) -> None:
        self.lock_file = lock_file
        self.timeout_s = timeout_s
        self._turns = Turns(timeout_s)

    @contextmanager
    def hold(self, client: str | None) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        with self._turns.hold(client, deadline), self._process_lock(deadline):
            yield

    @contextmanager
    def _process_lock(self, deadline: float) -> Iterator[None]:
        if self.lock_file is None:
            yield
            return
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            delay = 0.0005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Unavailable(
                            f"the database stayed busy for {self.timeout_s:g} s; retry later",
                            retry_after_s=RETRY_AFTER_S,
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.005)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

"""Maintenance windows ("01:00-05:00", may wrap midnight): scans start only inside them."""

from __future__ import annotations

from datetime import datetime, time


def parse_window(text: str) -> tuple[time, time]:
    start, _, end = text.partition("-")
    h1, m1 = (int(x) for x in start.split(":"))
    h2, m2 = (int(x) for x in end.split(":"))
    return time(h1, m1), time(h2, m2)


def inside(window: str | None, now: datetime) -> bool:
    if not window:
        return True
    start, end = parse_window(window)
    t = now.time().replace(tzinfo=None)
    if start <= end:
        return start <= t < end
    return t >= start or t < end
